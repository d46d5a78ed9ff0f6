"""The printed manifest over HTTP (its contents), and a quiet server log while PDFs are rendered."""

from __future__ import annotations

import logging

import pytest

from tests.api.test_manifests import gen, to_transit
from tests.conftest import setup_transfer


@pytest.fixture
def w(client, admin, session):
    return setup_transfer(client, admin, session)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_rendering_pdfs_sends_no_fonttools_info_to_the_log(client, w):
    """fontTools.subset logs a dozen INFO lines per embedded font; the server's log must not carry them."""
    from api.app import configure_logging

    root = logging.getLogger()
    handler, saved = _Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # as the server runs: INFO and above reach the root's handlers
    try:
        configure_logging()
        a = gen(client, w)
        m = to_transit(client, w, [{"batch_id": a["id"], "planned_method": "R9"}], [a["digital_id"]])
        for url in (f"/api/v1/manifests/{m['id']}.pdf", f"/api/v1/batches/{a['id']}/label.pdf"):
            r = client.get(url, headers=w["drv"] if "manifests" in url else w["op"])
            assert r.status_code == 200 and r.content.startswith(b"%PDF"), url
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)
    noisy = [r for r in handler.records if r.name.startswith("fontTools") and r.levelno < logging.WARNING]
    assert noisy == [], f"{len(noisy)} fontTools records, e.g. {noisy[0].name}: {noisy[0].getMessage()}"
    assert handler.records  # the handler did see the request's own INFO lines, so it was listening
