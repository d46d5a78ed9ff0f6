"""The trading hall (交易大厅): posts, sample photos, offers, deals."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlmodel import Session, SQLModel
from starlette.datastructures import UploadFile as StarletteUpload

from api.deps import Tx, get_session, principal, tx
from api.routers.pickup_orders import errors
from ledger.auth import Principal
from ledger.errors import InvalidInput
from ledger.market import offers, photos, posts

router = APIRouter(tags=["trading hall"])


@router.get("/market/posts", response_model=list[posts.PostPublic],
            summary="Posts you may see: to a licensed receiver or collector, the open posts its licences cover, "
                    "those it has capacity for first, nearest first, then by capacity left",
            responses=errors(422))
def list_posts(waste_code: str | None = None,
               within_km: float | None = Query(None, gt=0, description="only posts this close to your site"),
               include_closed: bool = Query(False, description="also matched, withdrawn and expired posts"),
               limit: int = Query(100, le=500), s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return posts.list_posts(s, principal=p, waste_code=waste_code, within_km=within_km,
                            include_closed=include_closed, limit=limit)


@router.post("/market/posts", status_code=201, response_model=posts.PostPublic,
             summary="A producer posts waste it needs taken (code, monthly mass, location)",
             responses=errors(403, 404, 422))
def create_post(body: posts.PostCreate, t: Tx = Depends(tx)):
    return t.run(lambda s, p: posts.post_public(s, p, posts.create_post(s, principal=p, data=body)), status=201)


@router.get("/market/posts/{post_id}", response_model=posts.PostPublic, responses=errors(404),
            summary="A post with its photos and offers (the producer sees every offer, an offerer its own)")
def get_post(post_id: int, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    post = posts.get_post(s, p, post_id)
    unit = posts.trading_unit(s, p)
    return posts.post_public(s, p, post, cov=posts.coverage(s, unit) if unit is not None else None)


@router.post("/market/posts/{post_id}/withdraw", response_model=posts.PostPublic,
             summary="The producer takes its post down; open offers are declined", responses=errors(403, 404, 409))
def withdraw_post(post_id: int, body: posts.WithdrawIn, t: Tx = Depends(tx)):
    return t.run(lambda s, p: posts.post_public(s, p, posts.withdraw_post(s, principal=p, post_id=post_id,
                                                                          data=body)))


class PhotoOut(SQLModel):
    id: int
    post_id: int
    content_type: str
    size: int
    width: int
    height: int
    sha256: str
    url: str


def _photo_out(ph) -> PhotoOut:  # noqa: ANN001
    return PhotoOut(id=ph.id, post_id=ph.post_id, content_type=ph.content_type, size=ph.size, width=ph.width,
                    height=ph.height, sha256=ph.sha256, url=f"/api/v1/market/photos/{ph.id}")


_MULTIPART = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary", "description": "the photo (JPEG, PNG or WebP)"}}}}}}}


@router.post("/market/posts/{post_id}/photos", status_code=201, response_model=PhotoOut, openapi_extra=_MULTIPART,
             summary=f"Add a photo of a sample (multipart field 'file': JPEG, PNG or WebP; at most "
                     f"{photos.MAX_PHOTO_BYTES // 1048576} MiB, {photos.MAX_PHOTOS} per post); the type is checked by "
                     "decoding the file", responses=errors(403, 404, 409, 413, 415, 422))
async def add_photo(post_id: int, request: Request, t: Tx = Depends(tx)):
    # The form is read here, after the unit of work fingerprinted the body (a File() parameter would be parsed
    # before the dependencies and leave nothing to fingerprint).
    form = await request.form(max_files=1, max_fields=1)
    upload = form.get("file")
    if not isinstance(upload, StarletteUpload):
        raise InvalidInput("send the photo as the multipart form field 'file'", field="file")
    data = await upload.read(photos.MAX_PHOTO_BYTES + 1)
    kind = upload.content_type
    return await run_in_threadpool(t.run, lambda s, p: _photo_out(photos.add_photo(
        s, principal=p, post_id=post_id, data=data, content_type=kind)), status=201)


@router.get("/market/photos/{photo_id}", response_class=Response, summary="A sample photo, as uploaded",
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}, **errors(404)})
def get_photo(photo_id: int, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    ph = photos.get_photo(s, p, photo_id)
    return Response(ph.data, media_type=ph.content_type, headers={
        "X-Content-Type-Options": "nosniff", "Content-Disposition": f'inline; filename="sample-{ph.id}"',
        "Cache-Control": "private, max-age=3600", "ETag": f'"{ph.sha256}"'})


@router.post("/market/posts/{post_id}/offers", status_code=201, response_model=offers.OfferPublic,
             summary="A licensed receiver or collector answers a post (licence and capacity checked); answering "
                     "again replaces your open offer", responses=errors(403, 404, 409, 422))
def make_offer(post_id: int, body: offers.OfferCreate, t: Tx = Depends(tx)):
    return t.run(lambda s, p: offers.offer_public(s, offers.make_offer(s, principal=p, post_id=post_id, data=body)),
                 status=201)


@router.post("/market/posts/{post_id}/offers/{offer_id}/accept", response_model=offers.OfferPublic,
             summary="The producer takes an offer: its plan gains the receiver (a new version), and the deal becomes "
                     "a pickup order (a collector) or a draft manifest (a receiver, with `manifest`)",
             responses=errors(403, 404, 409, 422))
def accept_offer(post_id: int, offer_id: int, body: offers.AcceptOfferIn, t: Tx = Depends(tx)):
    return t.run(lambda s, p: offers.offer_public(s, offers.accept_offer(s, principal=p, post_id=post_id,
                                                                         offer_id=offer_id, data=body)))


@router.post("/market/posts/{post_id}/offers/{offer_id}/withdraw", response_model=offers.OfferPublic,
             summary="The offerer takes its offer back", responses=errors(403, 404, 409))
def withdraw_offer(post_id: int, offer_id: int, t: Tx = Depends(tx)):
    return t.run(lambda s, p: offers.offer_public(s, offers.withdraw_offer(s, principal=p, post_id=post_id,
                                                                           offer_id=offer_id)))


class ExpiryResult(SQLModel):
    posts: int
    offers: int


@router.post("/market/expire", response_model=ExpiryResult,
             summary="Write down expired posts and offers now (admins; what the scheduled job does — reads already "
                     "treat them as expired)", responses=errors(403))
def expire(t: Tx = Depends(tx)):
    return t.run(lambda s, p: ExpiryResult(**posts.run_expiry(s, principal=p)))
