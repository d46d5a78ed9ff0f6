"""Sample photos of a post: at most MAX_PHOTOS per post, MAX_PHOTO_BYTES each, JPEG/PNG/WebP only. The type is
decided by decoding the file with Pillow (the declared Content-Type must agree), not by its name or header alone;
stored in the database with the post and served back through the API with the decoded type."""

from __future__ import annotations

import hashlib
import io

from PIL import Image, UnidentifiedImageError
from sqlmodel import Session, func, select

from ledger.auth import Principal, audit, require_trader
from ledger.errors import Conflict, InvalidInput, LedgerError, NotFound
from ledger.market.models import MarketPhoto, MarketPost
from ledger.market.posts import effective_status, get_post
from ledger.types import utcnow

MAX_PHOTO_BYTES = 2 * 1024 * 1024
MAX_PHOTOS = 6
MAX_PIXELS = 40_000_000
TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}


class PhotoTooLarge(LedgerError):
    status = 413
    code = "market.photo_too_large"


class PhotoType(LedgerError):
    status = 415
    code = "market.photo_type"


def check_image(data: bytes, declared: str | None) -> tuple[str, int, int]:
    """(content type, width, height) of an acceptable photo, or a 413/415/422 saying what to fix."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoTooLarge(f"the photo is {len(data)} bytes; at most {MAX_PHOTO_BYTES} bytes (2 MiB): send a "
                            "smaller or more compressed picture", details={"field": "file", "max_bytes": MAX_PHOTO_BYTES})
    if not data:
        raise InvalidInput("the file is empty", field="file")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (w, h) = img.format, img.size
            if fmt not in TYPES:
                raise PhotoType(f"a {fmt} image is not accepted: send JPEG, PNG or WebP", details={"field": "file"})
            if w * h > MAX_PIXELS:
                raise InvalidInput(f"{w}×{h} pixels is more than {MAX_PIXELS} pixels", field="file",
                                   code="market.photo_pixels")
            img.load()  # decode it all: a truncated or forged file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise PhotoType("the file is not a readable JPEG, PNG or WebP image", details={"field": "file",
                                                                                       "reason": str(e)[:200]}) from e
    kind = TYPES[fmt]
    said = ALIASES.get((declared or "").split(";")[0].strip().lower(), (declared or "").split(";")[0].strip().lower())
    if said != kind:
        raise PhotoType(f"the file was sent as {declared or 'no type'} but is {kind}: send it with Content-Type "
                        f"{kind}", details={"field": "file", "decoded": kind})
    return kind, w, h


def add_photo(session: Session, *, principal: Principal, post_id: int, data: bytes, content_type: str | None
              ) -> MarketPhoto:
    """The producer adds a sample photo to its open post."""
    post: MarketPost = get_post(session, principal, post_id)
    require_trader(session, principal, post.unit_id)
    if effective_status(post) != "open":
        raise Conflict(f"post {post.id} is {effective_status(post)}", code="market.post_closed")
    kind, w, h = check_image(data, content_type)
    n = session.exec(select(func.count(MarketPhoto.id)).where(MarketPhoto.post_id == post.id)).one()
    if n >= MAX_PHOTOS:
        raise Conflict(f"post {post.id} already has {MAX_PHOTOS} photos", code="market.too_many_photos")
    photo = MarketPhoto(unit_id=post.unit_id, post_id=post.id, content_type=kind, size=len(data), width=w, height=h,
                        sha256=hashlib.sha256(data).hexdigest(), data=data, created_at=utcnow(),
                        created_by=principal.user_id or None)
    session.add(photo)
    session.flush()
    audit(session, principal, action="market.photo", entity="market_photo", entity_id=photo.id,
          detail={"post_id": post.id, "bytes": len(data), "type": kind})
    return photo


def get_photo(session: Session, principal: Principal, photo_id: int) -> MarketPhoto:
    """A photo, to whoever may see its post."""
    photo = session.get(MarketPhoto, photo_id)
    if photo is None:
        raise NotFound(f"photo {photo_id} does not exist", code="market.photo_not_found")
    get_post(session, principal, photo.post_id)
    return photo
