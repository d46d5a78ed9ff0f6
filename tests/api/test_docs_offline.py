"""The API docs work on an intranet without internet access: Swagger UI and ReDoc come from the service itself."""

from __future__ import annotations

import re
import shutil
import subprocess
from urllib.parse import urljoin, urlsplit

import pytest

DOCS = ("/api/v1/docs", "/api/v1/redoc")
ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def referenced_urls(html: str) -> list[str]:
    """Every src/href in the page, and every URL written in its inline script (the OpenAPI URL, the redirect)."""
    urls = re.findall(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", html)
    urls += re.findall(r"""url:\s*["']([^"']+)["']""", html)
    urls += re.findall(r"""https?://[^\s"'<>)]+""", html)
    return urls


@pytest.mark.parametrize("path", DOCS)
def test_docs_page_references_no_external_host(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    urls = referenced_urls(r.text)
    assert urls, r.text
    external = [u for u in urls if urlsplit(u).netloc or u.startswith("//")]
    assert external == [], external
    assert "fonts.googleapis" not in r.text and "cdn." not in r.text


@pytest.mark.parametrize("path", DOCS)
def test_every_docs_asset_is_served_by_the_service(client, path):
    html = client.get(path).text
    assets = [u for u in referenced_urls(html) if urlsplit(u).path.endswith(tuple(ASSET_TYPES))]
    kinds = {u.rsplit(".", 1)[-1] for u in assets}
    assert "js" in kinds and (path.endswith("redoc") or "css" in kinds), assets
    for url in assets:
        r = client.get(urljoin("http://testserver" + path, url))
        assert r.status_code == 200, url
        suffix = "." + url.rsplit(".", 1)[-1]
        assert ASSET_TYPES[suffix] in r.headers["content-type"], (url, r.headers["content-type"])
        if suffix == ".js":
            assert len(r.content) > 100_000 and (b"SwaggerUIBundle" in r.content or b"Redoc" in r.content), url
        if suffix == ".css":
            assert b".swagger-ui" in r.content, url
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200 and spec.json()["info"]["title"] == "wasteledger"


def test_docs_still_work_behind_a_path_prefix(app):
    """Behind a reverse proxy that mounts the service under /ledger, the page points at /ledger/… assets."""
    from fastapi.testclient import TestClient

    client = TestClient(app, root_path="/ledger")
    html = client.get("/api/v1/docs").text
    assert "/ledger/api/v1/docs-assets/swagger-ui-bundle.js" in html
    assert "/ledger/api/v1/openapi.json" in html


def test_docs_are_not_in_the_openapi_schema(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert not [p for p in paths if "docs" in p or "redoc" in p]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
@pytest.mark.parametrize(("path", "rendered"), [
    ("/api/v1/docs", r'class="title"[^>]*>\s*wasteledger'),  # Swagger UI drew the spec's title
    ("/api/v1/redoc", r"<h1[^>]*>\s*wasteledger"),  # ReDoc drew it
])
def test_docs_render_in_a_real_browser_with_every_other_host_unreachable(live_server, path, rendered):
    """Headless Chromium, with every host name but 127.0.0.1 made unresolvable, renders the docs."""
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--virtual-time-budget=20000",
         "--dump-dom", live_server + path],
        capture_output=True, text=True, timeout=120)
    assert re.search(rendered, out.stdout), out.stdout[-2000:] + out.stderr[-2000:]
