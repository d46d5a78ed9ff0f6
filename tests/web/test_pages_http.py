"""Pages over plain HTTP (no browser): the weight budget of every page, the session that expires, CSRF, what
the public verification page shows and hides, who may enter the console, and the search."""

from __future__ import annotations

import gzip
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from ledger.accounts import ApiToken
from ledger.types import utcnow
from tests.conftest import batch_body, make_user, setup_plant
from tests.web import world

BUDGET = 100 * 1024
ORIGIN = {"Origin": "http://testserver"}


def page_client(app, username: str | None) -> TestClient:  # noqa: ANN001
    c = TestClient(app)
    if username:
        r = c.post("/login", data={"username": username, "password": "password-123"}, headers=ORIGIN,
                   follow_redirects=False)
        assert r.status_code == 303, r.text
    return c


def weight(c: TestClient, url: str) -> tuple[int, int, int]:
    """(gzipped HTML, own JS + CSS, total) in bytes for one page."""
    r = c.get(url, headers={"Accept-Encoding": "gzip", "Accept": "text/html"})
    assert r.status_code in (200, 403, 404), (url, r.status_code)
    html = r.content
    assets = set(re.findall(rb'(?:src|href)="(/assets/[^"]+)"', html))
    own = sum(len(c.get(a.decode().replace("&amp;", "&")).content) for a in assets)
    zipped = len(gzip.compress(html, 6))
    return zipped, own, zipped + own


def weigh_pages(app, pages_by_user: dict, capsys=None) -> None:  # noqa: ANN001
    """Every page of every user under BUDGET (gzipped HTML + its own JS and CSS); the table printed with `capsys`."""
    rows = []
    for user, pages in pages_by_user.items():
        c = page_client(app, user)
        for name, url in pages:
            z, own, total = weight(c, url)
            rows.append((name, z, own, total))
            assert total < BUDGET, f"{name} {url}: {total} bytes"
    if capsys is not None:
        with capsys.disabled():
            print("\npage                 html.gz    js+css     total (bytes)")
            for name, z, own, total in rows:
                print(f"{name:20} {z:8} {own:9} {total:9}")


def test_every_page_weighs_under_100_kb_with_its_own_js_and_css(app, client, admin, session, capsys):
    weigh_pages(app, world.build(client, admin, session)["pages"], capsys)
    r = page_client(app, None).get("/login", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"  # pages are served compressed


def test_assets_are_versioned_and_cached_for_a_year(client):
    html = client.get("/login").text
    css = re.search(r'href="(/assets/app\.css\?v=[0-9a-f]+)"', html).group(1)
    r = client.get(css)
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    assert client.get("/login").headers["cache-control"] == "private, no-store"
    assert "script-src 'self'" in client.get("/login").headers["content-security-policy"]


def test_login_logout_and_a_session_that_expires(app, session):
    plant_user, _ = make_user(session, role="regulator", region_prefix="37")
    c = TestClient(app)
    r = c.post("/login", data={"username": plant_user.username, "password": "wrong"}, headers=ORIGIN)
    assert r.status_code == 401 and "用户名或密码不正确" in r.text
    r = c.post("/login", data={"username": plant_user.username, "password": "password-123", "next": "//evil.example"},
               headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console"  # never sent to another host
    cookie = r.cookies.get("wl_session") or c.cookies.get("wl_session")
    assert cookie and "httponly" in r.headers["set-cookie"].lower() and "samesite=lax" in r.headers["set-cookie"].lower()
    assert c.get("/console").status_code == 200
    # The shift ends: the session's token expires.
    session.execute(update(ApiToken).where(ApiToken.user_id == plant_user.id).values(
        expires_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    r = c.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fconsole&expired=1"
    r = c.get(r.headers["location"])
    assert 'id="expired"' in r.text and "登录已过期" in r.text
    # a public page still works with the stale cookie (anonymous view), instead of a 401
    assert c.get("/login").status_code == 200
    # log in again, then out: the token is revoked
    c.post("/login", data={"username": plant_user.username, "password": "password-123"}, headers=ORIGIN)
    assert c.get("/console").status_code == 200
    r = c.post("/logout", headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?bye=1"
    c.cookies.clear()
    assert c.get("/console", follow_redirects=False).status_code == 303


def test_cookie_writes_need_our_origin_and_bearer_writes_do_not(app, client, admin, session):
    plant = setup_plant(client, admin, session)
    op, _ = make_user(session, role="operator", unit_id=plant["unit"]["id"])
    c = page_client(app, op.username)
    body = batch_body(plant)
    r = c.post("/api/v1/batches", json=body, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.csrf"
    assert c.post("/api/v1/batches", json=body).status_code == 403  # no Origin, no Referer
    r = c.post("/api/v1/batches", json=body, headers={"Referer": "http://testserver/station"})
    assert r.status_code == 201  # an old browser that sends only the Referer
    r = c.post("/api/v1/batches", json=body, headers={**ORIGIN, "Idempotency-Key": "k1"})
    assert r.status_code == 201
    assert c.post("/logout", headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/api/v1/batches", json=body, headers=plant["op"]).status_code == 201  # bearer: as before


def test_public_verification_shows_what_an_outsider_may_see(app, client, admin, session):
    built = world.build(client, admin, session)
    m2, w = built["m2"], built["w"]
    anon = TestClient(app)
    r = anon.get(f"/m/{m2['number']}")
    assert r.status_code == 200
    text = r.text
    for shown in (m2["number"], "明泉化工", "绿源环保", "已接收", "328", "314", "接受人签收", "承运人提货"):
        assert shown in text, shown
    plate = m2["vehicle_plate"]
    for hidden in (plate, "36.65", "117.12", "桶体破损", built["drums"][2]["digital_id"], "operator", "driver",
                   "张师傅", "/api/v1/manifests/"):
        assert hidden not in text, hidden
    assert plate[:3] + "*" in text
    assert 'id="receive-form"' not in text and "wl.js" not in text
    assert "noindex" in text
    # a party sees the whole manifest
    rc = page_client(app, f"rcv-{w['unit']['id']}")
    full = rc.get(f"/m/{m2['number']}").text
    assert "桶体破损" in full and plate in full and built["drums"][2]["digital_id"] in full
    # a number that does not exist says so
    r = anon.get("/m/20990000000099", headers={"Accept": "text/html"})
    assert r.status_code == 404 and "伪造" in r.text


def test_console_is_for_supervisors_and_finds_manifests_by_number_plate_or_unit(app, client, admin, session):
    built = world.build(client, admin, session)
    w, m1, m2 = built["w"], built["m1"], built["m2"]
    uid = w["unit"]["id"]
    reg = page_client(app, f"reg-{uid}")
    assert "辖区单位" in reg.get("/console").text

    def found(q: str = "", **params) -> list[str]:
        html = reg.get("/console/manifests", params={"q": q, **params}).text
        return re.findall(r'href="/m/(\d{14})"', html)

    assert found(m1["number"]) == [m1["number"]]
    assert found(m1["number"][:10]) == [m2["number"], m1["number"]]
    assert found(m1["vehicle_plate"][-4:]) == [m2["number"], m1["number"]]
    assert found("绿源") == [m2["number"], m1["number"]]
    assert found(status="received") == [m2["number"]]
    assert found("不存在的单位") == []
    assert reg.get(f"/console/units/{uid}").status_code == 200
    assert reg.get(f"/console/units/{uid}/chain").text.count("哈希链无断点") == 1
    # another city's regulator sees none of it
    session.rollback()  # end the test session's read snapshot before it writes (SQLite WAL)
    other, _ = make_user(session, role="regulator", region_prefix="4401")
    oc = page_client(app, other.username)
    assert f'href="/m/{m1["number"]}"' not in oc.get("/console/manifests", params={"q": m1["number"]}).text
    r = oc.get(f"/console/units/{uid}")
    assert r.status_code == 404 and "不在您的查看范围" in r.text
    # a driver is sent away with a page that says what to do
    drv = page_client(app, next(u for u, pages in built["pages"].items() if any(n == "pickup" for n, _ in pages)))
    r = drv.get("/console")
    assert r.status_code == 403 and "监管控制台供监管人员" in r.text and "换个账号登录" in r.text


@pytest.mark.parametrize("path", ["/s/NOT-AN-ID", "/nowhere"])
def test_browsers_get_pages_for_bad_paths_and_machines_get_json(client, path):
    page = client.get(path, headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    api = client.get("/api/v1/nowhere")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def test_every_template_compiles():
    from api.pages.common import HERE, templates

    names = [str(p.relative_to(HERE / "templates")) for p in (HERE / "templates").rglob("*.html")]
    assert len(names) > 25 and "console/alerts.html" in names and "console/park.html" in names
    for name in names:
        templates.env.get_template(name)
