"""Finding a real CJK font, and the font objects the renderers share.

Lookup order (the first that yields a face with a glyph for 废 wins):

1. ``LEDGER_LABEL_FONT`` — a font file path; ``LEDGER_LABEL_FONT_INDEX`` picks the face of a ``.ttc``
   (without it the Simplified-Chinese face is chosen from the face family names). If this variable is set
   and unusable, :class:`FontNotFound` is raised: an explicit setting is never silently ignored.
   ``LEDGER_LABEL_FONT_BOLD`` (+ ``_INDEX``) optionally names the bold face.
2. fontconfig: ``fc-match -f '%{file}:%{index}' 'Noto Sans CJK SC:lang=zh-cn'``; fontconfig answers with
   *something* for every query, so the answer is only accepted if it really covers Chinese.
3. Known paths: Debian/Ubuntu ``fonts-noto-cjk`` (face index of "Noto Sans CJK SC" read from the file),
   other distributions' Noto CJK paths, WenQuanYi Micro Hei / Zen Hei, Droid Sans Fallback, then the usual
   macOS / Windows fonts.

Nothing found raises :class:`FontNotFound`; the renderers never fall back to a Latin font that would print
tofu boxes. The result is cached for the process (:func:`reset_font_cache` forgets it).

PDF embedding: fpdf2 parses the whole font for every document (a 65 000-glyph CFF font costs ~1 s per PDF),
so :func:`pdf_faces` hands out a reduced copy of the face (ASCII, Latin-1, punctuation, GB 2312, converted
to TrueType outlines) built once with fontTools and cached on disk (``LEDGER_LABEL_FONT_CACHE``, default ``~/.cache/wasteledger/fonts``;
``off`` disables it). A document with a character outside that set is embedded from the full face.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import ImageFont

log = logging.getLogger(__name__)

ENV_FONT = "LEDGER_LABEL_FONT"
ENV_FONT_INDEX = "LEDGER_LABEL_FONT_INDEX"
ENV_BOLD = "LEDGER_LABEL_FONT_BOLD"
ENV_BOLD_INDEX = "LEDGER_LABEL_FONT_BOLD_INDEX"
ENV_CACHE = "LEDGER_LABEL_FONT_CACHE"

PROBE_CHAR = "废"
#: Shown instead of a character the font has no glyph for (the traditional "geta" placeholder).
MISSING_GLYPH = "〓"

FC_PATTERN = "Noto Sans CJK SC:lang=zh-cn"
FC_BOLD_PATTERN = "Noto Sans CJK SC:lang=zh-cn:weight=bold"

#: (regular, bold) candidates, in order of preference.
KNOWN_FONTS: tuple[tuple[str, str | None], ...] = (
    (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    ),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc"),
    (
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
    ),
    (
        "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
        "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Bold.otf",
    ),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", None),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", None),
    ("/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc", None),
    ("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc", None),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", None),
    ("/usr/share/fonts/truetype/droid/DroidSansFallback.ttf", None),
    ("/System/Library/Fonts/PingFang.ttc", None),
    ("C:/Windows/Fonts/msyh.ttc", "C:/Windows/Fonts/msyhbd.ttc"),
    ("C:/Windows/Fonts/simhei.ttf", None),
)

INSTALL_HINT = (
    "No CJK font found for labels: install one (Debian/Ubuntu: `apt-get install fonts-noto-cjk`) "
    f"or set {ENV_FONT}=/path/to/font.ttc (and {ENV_FONT_INDEX} for a collection)."
)


class FontNotFound(RuntimeError):
    """No usable Chinese font: labels would print tofu boxes, so nothing is rendered."""


@dataclass(frozen=True)
class FontFace:
    path: str
    index: int
    family: str
    style: str


@dataclass(frozen=True)
class CJKFont:
    regular: FontFace
    bold: FontFace | None
    source: str  # "env", "fontconfig" or "known-path"
    codepoints: frozenset[int] = field(repr=False, compare=False)

    def face(self, bold: bool = False) -> FontFace:
        return self.bold if bold and self.bold is not None else self.regular

    def covers(self, ch: str) -> bool:
        return ord(ch) in self.codepoints


# --------------------------------------------------------------------------------------------- inspection


def _face_names(path: str) -> list[tuple[str, str]]:
    """(family, style) of every face in a font file (one entry for a plain .ttf/.otf)."""
    from fontTools.ttLib import TTCollection, TTFont

    with open(path, "rb") as fh:
        is_collection = fh.read(4) == b"ttcf"
    fonts = TTCollection(path, lazy=True).fonts if is_collection else [TTFont(path, lazy=True)]
    names = []
    for font in fonts:
        name = font["name"]
        family = name.getDebugName(16) or name.getDebugName(1) or ""
        style = name.getDebugName(17) or name.getDebugName(2) or ""
        names.append((family, style))
    return names


def _sc_score(family: str) -> int:
    words = family.replace("-", " ").split()
    score = 0
    if any(w in ("SC", "Hans", "GB", "CN") for w in words) or family.endswith("SC"):
        score += 10
    if any(w in ("JP", "KR", "TC", "HK", "Hant") for w in words):
        score -= 5
    if "Mono" in words or "Sharp" in words or "UI" in words:
        score -= 2
    return score


def _pick_sc_index(path: str) -> int:
    names = _face_names(path)
    best = max(range(len(names)), key=lambda i: (_sc_score(names[i][0]), -i))
    return best


def _inspect(path: str, index: int | None) -> tuple[FontFace, frozenset[int]]:
    """Open one face; raise ValueError unless it is a font with a glyph for 废."""
    from fontTools.ttLib import TTFont

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        if index is None:
            index = _pick_sc_index(path)
        font = TTFont(path, fontNumber=index, lazy=True)
        cmap = font.getBestCmap() or {}
        name = font["name"]
        family = name.getDebugName(16) or name.getDebugName(1) or p.stem
        style = name.getDebugName(17) or name.getDebugName(2) or "Regular"
        ImageFont.truetype(path, 16, index=index)  # FreeType must open it too
    except Exception as exc:  # fontTools raises a zoo of exception types on non-fonts
        raise ValueError(f"{path}: not a usable font ({exc.__class__.__name__}: {exc})") from exc
    if ord(PROBE_CHAR) not in cmap:
        raise ValueError(f"{path} (face {index}, {family}): no glyph for {PROBE_CHAR!r}, not a CJK font")
    return FontFace(str(p), index, family, style), frozenset(cmap)


def _bold_ok(candidate: FontFace, regular: FontFace) -> bool:
    return (candidate.path, candidate.index) != (
        regular.path,
        regular.index,
    ) and "bold" in candidate.style.lower()


def _env_index(var: str) -> int | None:
    raw = os.environ.get(var, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise FontNotFound(f"{var}={raw!r} is not a face index (an integer)") from None


def _sibling_bold(path: str) -> str | None:
    p = Path(path)
    for a, b in (("Regular", "Bold"), ("regular", "bold")):
        if a in p.name:
            cand = p.with_name(p.name.replace(a, b))
            if cand.is_file():
                return str(cand)
    return None


def _try_bold(path: str | None, index: int | None, regular: FontFace) -> FontFace | None:
    if not path:
        return None
    try:
        face, _ = _inspect(path, index)
    except ValueError as exc:
        log.info("bold CJK face rejected: %s", exc)
        return None
    return face if _bold_ok(face, regular) else None


def _from_env() -> CJKFont | None:
    path = os.environ.get(ENV_FONT, "").strip()
    if not path:
        return None
    try:
        regular, cps = _inspect(path, _env_index(ENV_FONT_INDEX))
    except ValueError as exc:
        raise FontNotFound(f"{ENV_FONT}={path!r} is unusable: {exc}. {INSTALL_HINT}") from exc
    bold_path = os.environ.get(ENV_BOLD, "").strip()
    if bold_path:
        try:
            bold, _ = _inspect(bold_path, _env_index(ENV_BOLD_INDEX))
        except ValueError as exc:
            raise FontNotFound(f"{ENV_BOLD}={bold_path!r} is unusable: {exc}") from exc
    else:
        bold = _try_bold(_sibling_bold(path), regular.index if path.endswith(".ttc") else None, regular)
    return CJKFont(regular, bold, "env", cps)


def _fc_match(pattern: str) -> tuple[str, int] | None:
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}:%{index}", pattern],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, idx = out.rpartition(":")
    if not path:
        return None
    try:
        return path, int(idx or 0)
    except ValueError:
        return None


def _from_fontconfig() -> CJKFont | None:
    found = _fc_match(FC_PATTERN)
    if found is None:
        return None
    try:
        regular, cps = _inspect(*found)
    except ValueError as exc:
        log.info("fontconfig answer rejected: %s", exc)
        return None
    bold_found = _fc_match(FC_BOLD_PATTERN)
    bold = _try_bold(*bold_found, regular) if bold_found else None
    return CJKFont(regular, bold, "fontconfig", cps)


def _from_known_paths() -> CJKFont | None:
    for reg_path, bold_path in KNOWN_FONTS:
        if not Path(reg_path).is_file():
            continue
        try:
            regular, cps = _inspect(reg_path, None)
        except ValueError as exc:
            log.info("known font rejected: %s", exc)
            continue
        return CJKFont(regular, _try_bold(bold_path, None, regular), "known-path", cps)
    return None


_lock = threading.RLock()


@functools.cache
def cjk_font() -> CJKFont:
    """The CJK font every renderer uses (cached); raises FontNotFound."""
    with _lock:
        found = _from_env() or _from_fontconfig() or _from_known_paths()
    if found is None:
        raise FontNotFound(INSTALL_HINT)
    log.info("label font: %s (%s)", found.regular, found.source)
    return found


def reset_font_cache() -> None:
    """Forget the font found and every font object derived from it (after changing LEDGER_LABEL_FONT)."""
    cjk_font.cache_clear()
    pil_font.cache_clear()
    advance_em.cache_clear()
    _reduced_face.cache_clear()


# --------------------------------------------------------------------------------------------- raster fonts


@functools.lru_cache(maxsize=64)
def pil_font(size_px: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """A Pillow font of the CJK face at an integer pixel size (basic layout, cached)."""
    face = cjk_font().face(bold)
    return ImageFont.truetype(face.path, size_px, index=face.index, layout_engine=ImageFont.Layout.BASIC)


_MEASURE_PX = 1000


@functools.lru_cache(maxsize=16384)
def advance_em(ch: str, bold: bool = False) -> float:
    """Advance width of one character in em (design units, unhinted)."""
    with _lock:
        return pil_font(_MEASURE_PX, bold).getlength(ch) / _MEASURE_PX


def sanitize(text: str) -> str:
    """Replace control characters by spaces and characters the font lacks by 〓 (never tofu)."""
    font = cjk_font()
    out = []
    for ch in text:
        if ch in "\n":
            out.append(ch)
        elif ch in "\t\r" or ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0:
            out.append(" ")
        elif ch == " " or font.covers(ch):
            out.append(ch)
        else:
            log.warning(
                "no glyph for %r (U+%04X) in %s; printed as %s",
                ch,
                ord(ch),
                font.regular.family,
                MISSING_GLYPH,
            )
            out.append(MISSING_GLYPH)
    return "".join(out)


# --------------------------------------------------------------------------------------------- PDF fonts

_REDUCED_VERSION = "4"


@functools.cache
def reduced_charset() -> frozenset[int]:
    """ASCII, Latin-1, general/CJK punctuation, full-width forms, GB 2312 (all 7445 characters)."""
    cps: set[int] = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))
    cps |= set(range(0x2000, 0x2070)) | set(range(0x2100, 0x2200)) | set(range(0x2460, 0x24A0))
    cps |= set(range(0x3000, 0x3040)) | set(range(0xFF00, 0xFFF0))
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                cps.add(ord(bytes((hi, lo)).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return frozenset(cps)


def _cache_dir() -> Path | None:
    raw = os.environ.get(ENV_CACHE, "").strip()
    if raw.lower() in ("off", "0", "false", "no", "none"):
        return None
    if raw:
        return Path(raw)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "wasteledger" / "fonts"


def _build_reduced(face: FontFace, target: Path) -> None:
    """Write a TrueType font with the face's glyphs for :func:`reduced_charset` (cubic outlines are
    converted to quadratic ones within 1 font unit).

    TrueType because fpdf2 embeds it as CIDFontType2 with Identity-H, the encoding every PDF consumer reads
    (text extraction included), while CID-keyed CFF goes through a custom CMap that some tools misread."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.recordingPen import DecomposingRecordingPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont

    src = TTFont(face.path, fontNumber=face.index, lazy=True)
    cmap = src.getBestCmap()
    wanted = {cp: cmap[cp] for cp in sorted(reduced_charset()) if cp in cmap}
    order = [".notdef", *sorted(set(wanted.values()) - {".notdef"}, key=src.getGlyphID)]
    glyph_set = src.getGlyphSet()
    cubic = "CFF " in src or "CFF2" in src  # CFF contours run the other way round
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(None)
        outline = DecomposingRecordingPen(glyph_set)  # composites would point at glyphs left out
        glyph_set[name].draw(outline)
        outline.replay(Cu2QuPen(pen, 1.0, reverse_direction=cubic))
        glyphs[name] = pen.glyph()
    hmtx, hhea, os2, names = src["hmtx"], src["hhea"], src["OS/2"], src["name"]
    fb = FontBuilder(src["head"].unitsPerEm, isTTF=True)
    fb.setupGlyphOrder(order)
    fb.setupCharacterMap(wanted)
    fb.setupGlyf(glyphs)
    fb.setupHorizontalMetrics({name: hmtx[name] for name in order})
    fb.setupHorizontalHeader(ascent=hhea.ascent, descent=hhea.descent, lineGap=hhea.lineGap)
    fb.setupNameTable(
        {
            "familyName": names.getDebugName(1) or face.family,
            "styleName": names.getDebugName(2) or face.style,
            "fullName": names.getDebugName(4) or f"{face.family} {face.style}",
            "psName": (names.getDebugName(6) or face.family.replace(" ", "")) + "-GB2312",
        }
    )
    fb.setupOS2(
        sTypoAscender=os2.sTypoAscender,
        sTypoDescender=os2.sTypoDescender,
        sTypoLineGap=os2.sTypoLineGap,
        usWinAscent=os2.usWinAscent,
        usWinDescent=os2.usWinDescent,
        usWeightClass=os2.usWeightClass,
        fsType=os2.fsType,
        sCapHeight=getattr(os2, "sCapHeight", 0),
        sxHeight=getattr(os2, "sxHeight", 0),
    )
    fb.setupPost(keepGlyphNames=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fb.save(fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    for old in target.parent.glob(f"{Path(face.path).stem}-{face.index}-*.*"):  # earlier versions
        if old != target and old.suffix in (".ttf", ".otf"):
            old.unlink(missing_ok=True)


@functools.lru_cache(maxsize=4)
def _reduced_face(face: FontFace) -> FontFace | None:
    """The GB 2312 copy of a face (built on first use, then read from the disk cache), or None."""
    directory = _cache_dir()
    if directory is None:
        return None
    try:
        st = os.stat(face.path)
        if st.st_size < 4_000_000:  # small fonts are cheap to embed whole
            return None
        key = hashlib.sha256(
            f"{_REDUCED_VERSION}|{face.path}|{face.index}|{st.st_size}|{st.st_mtime_ns}".encode()
        ).hexdigest()[:16]
        target = directory / f"{Path(face.path).stem}-{face.index}-{key}.ttf"
        if not target.is_file():
            log.info("building reduced PDF font %s (one-off, ~15 s)", target)
            _build_reduced(face, target)
        return FontFace(str(target), 0, face.family, face.style)
    except Exception as exc:  # an unwritable cache must never break rendering
        log.warning("reduced PDF font unavailable (%s); embedding from the full font", exc)
        return None


def pdf_faces(chars: Iterable[str], full: bool = False) -> tuple[FontFace, FontFace | None]:
    """(regular, bold) faces to embed in a PDF that uses `chars`: reduced copies when they cover them
    (never if `full`)."""
    font = cjk_font()
    needed = {ord(c) for c in chars}
    if not full and needed <= reduced_charset():
        with _lock:
            reg = _reduced_face(font.regular)
            bold = _reduced_face(font.bold) if font.bold is not None else None
        if reg is not None and (font.bold is None or bold is not None):
            return reg, bold
    return font.regular, font.bold


def warm_pdf_fonts() -> None:
    """Find the font and build the reduced PDF faces now (call at start-up to spare the first request)."""
    pdf_faces("废")
