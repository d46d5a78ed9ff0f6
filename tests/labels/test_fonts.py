from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw

from labels import fonts

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
NOTO_TTC = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def test_the_font_found_covers_chinese():
    font = fonts.cjk_font()
    for ch in "废物危险贮存联单转移":
        assert font.covers(ch)
    assert Path(font.regular.path).is_file()


def _glyph(ch: str) -> Image.Image:
    im = Image.new("L", (80, 80), 0)
    ImageDraw.Draw(im).text((8, 70), ch, font=fonts.pil_font(64), fill=255, anchor="ls")
    return im


def test_a_chinese_glyph_is_drawn_not_tofu():
    """废 must rasterise differently from a code point no font has (which gives the .notdef box), and two
    characters differently from each other (a tofu font draws the same box for both)."""
    fei, tofu, wu = _glyph("废"), _glyph("\U0010fffd"), _glyph("物")
    assert fei.getbbox() is not None
    assert ImageChops.difference(fei, tofu).getbbox() is not None
    assert ImageChops.difference(fei, wu).getbbox() is not None
    ink = sum(fei.histogram()[129:])
    assert ink > 300  # a real ideograph at 64 px, not a hairline box


def test_sanitize_replaces_what_the_font_lacks(caplog):
    assert fonts.sanitize("废\U0010fffd油\t") == f"废{fonts.MISSING_GLYPH}油 "
    assert "no glyph" in caplog.text


def test_env_pointing_at_a_non_font_raises(monkeypatch, tmp_path, fresh_fonts):
    bogus = tmp_path / "font.ttc"
    bogus.write_text("this is not a font")
    monkeypatch.setenv(fonts.ENV_FONT, str(bogus))
    with pytest.raises(fonts.FontNotFound, match="LEDGER_LABEL_FONT"):
        fonts.cjk_font()


def test_env_pointing_at_a_missing_file_raises(monkeypatch, tmp_path, fresh_fonts):
    monkeypatch.setenv(fonts.ENV_FONT, str(tmp_path / "nope.ttf"))
    with pytest.raises(fonts.FontNotFound, match="fonts-noto-cjk"):
        fonts.cjk_font()


@pytest.mark.skipif(not Path(DEJAVU).is_file(), reason="DejaVu not installed")
def test_env_pointing_at_a_latin_font_raises(monkeypatch, fresh_fonts):
    monkeypatch.setenv(fonts.ENV_FONT, DEJAVU)
    with pytest.raises(fonts.FontNotFound, match="not a CJK font"):
        fonts.cjk_font()


@pytest.mark.skipif(not Path(NOTO_TTC).is_file(), reason="fonts-noto-cjk not installed")
def test_env_collection_picks_the_simplified_chinese_face(monkeypatch, fresh_fonts):
    monkeypatch.setenv(fonts.ENV_FONT, NOTO_TTC)
    font = fonts.cjk_font()
    assert font.source == "env"
    assert font.regular.family == "Noto Sans CJK SC"
    assert font.bold is not None and "Bold" in font.bold.style  # the sibling NotoSansCJK-Bold.ttc


@pytest.mark.skipif(not Path(NOTO_TTC).is_file(), reason="fonts-noto-cjk not installed")
def test_env_index_is_honoured(monkeypatch, fresh_fonts):
    monkeypatch.setenv(fonts.ENV_FONT, NOTO_TTC)
    monkeypatch.setenv(fonts.ENV_FONT_INDEX, "0")
    assert fonts.cjk_font().regular.family == "Noto Sans CJK JP"


@pytest.mark.skipif(not Path(NOTO_TTC).is_file(), reason="fonts-noto-cjk not installed")
def test_known_paths_without_fontconfig(monkeypatch, fresh_fonts):
    monkeypatch.delenv(fonts.ENV_FONT, raising=False)
    monkeypatch.setattr(fonts, "_fc_match", lambda pattern: None)
    font = fonts.cjk_font()
    assert font.source == "known-path"
    assert (font.regular.path, font.regular.index, font.regular.family) == (NOTO_TTC, 2, "Noto Sans CJK SC")


@pytest.mark.skipif(not Path(DEJAVU).is_file(), reason="DejaVu not installed")
def test_fontconfig_answer_that_is_not_cjk_is_ignored(monkeypatch, fresh_fonts):
    monkeypatch.delenv(fonts.ENV_FONT, raising=False)
    monkeypatch.setattr(fonts, "_fc_match", lambda pattern: (DEJAVU, 0))
    assert fonts._from_fontconfig() is None


def test_nothing_found_raises_with_install_hint(monkeypatch, fresh_fonts):
    monkeypatch.delenv(fonts.ENV_FONT, raising=False)
    monkeypatch.setattr(fonts, "_fc_match", lambda pattern: None)
    monkeypatch.setattr(fonts, "KNOWN_FONTS", (("/nonexistent/font.ttc", None),))
    with pytest.raises(fonts.FontNotFound, match="apt-get install fonts-noto-cjk"):
        fonts.cjk_font()


def test_pdf_faces_fall_back_to_the_full_face(monkeypatch):
    monkeypatch.setenv(fonts.ENV_CACHE, "off")
    fonts._reduced_face.cache_clear()
    try:
        regular, _ = fonts.pdf_faces("废物")
        assert regular == fonts.cjk_font().regular
    finally:
        fonts._reduced_face.cache_clear()
    # a character outside GB 2312 always uses the full face
    assert "堃" not in "".join(map(chr, fonts.reduced_charset()))
    assert fonts.pdf_faces("堃")[0] == fonts.cjk_font().regular


def test_reduced_charset_covers_gb2312_and_ascii():
    cs = fonts.reduced_charset()
    assert len(cs) > 7400
    for ch in "Aa0-_/（）：；，。、废矿物油危险贮存鑫":
        assert ord(ch) in cs
