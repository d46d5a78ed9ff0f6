"""Fixtures for the label tests (factories live in tests/labels/factories.py)."""

from __future__ import annotations

import pytest

from labels import fonts


@pytest.fixture
def fresh_fonts():
    """Forget the cached font before and after a test that changes the font environment."""
    fonts.reset_font_cache()
    yield
    fonts.reset_font_cache()


@pytest.fixture(autouse=True)
def clean():
    """Overrides the suite-wide database clean-up: the label renderers never touch a database."""
    yield
