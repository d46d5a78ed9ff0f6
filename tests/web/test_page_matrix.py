"""The page matrix: every server-rendered page (the routes outside /api with include_in_schema=False, GET pages and
the form POSTs) × the 11 roles of the API's authorisation matrix × 3 ownerships, with the expected answer of each.

It is `tests/api/test_authz_matrix.py` for the pages, on the same `World` (three families of units: `own` in
370112, `same_region` in 370102, `other_region` in 440305; the users of each role bound to the `own` family).

How a role is someone here
- Pages authenticate by the session cookie (`wl_session`) that `POST /login` sets: each role logs in through the
  login form with its World user (password `password-123`) once, and every request sends that cookie alone.
- anonymous: no cookie. A page that needs a login answers 303 to `/login?next=<the page>` (LOGIN).
- revoked: a session that was ended: a user logs in through the form, then `POST /logout` (which revokes the
  session's token), and its old cookie is sent again. Pages treat it as anonymous with `expired=1` on the redirect
  (EXPIRED), so the login page can say the session ran out.

Answers: OK (200), ABSENT (200 without the target: a list or a station that shows the caller's own unit instead),
FACTS (a public page answering 200 with the public facts only, without what those in scope see), LOGIN / EXPIRED (303 to the login form, without / with `expired=1`), REDIRECT (any other 3xx), or the status of the
error page, which must be HTML (403: the role may not; 404: outside the caller's scope, not disclosed; 422: an input
the page refuses).

Rights (ledger/auth.py): seeing, supervising, operating, administering are distinct. Everyone who may read a unit
(its users, its park's manager, regulators whose region covers it, admins) reads its pages (/unit/…, labels,
manifests, pickup orders); only the unit's operating users (and the platform admin) use its weighing station; the
console (/console…) is for regulators, park managers and admins, scoped like the API. The public pages (scan /s/,
facility card /f/, 固废码 /u/, manifest verification /m/{number}) answer everyone.

Where a page answers 200, the matrix also checks who is offered write controls (CONTROLS): the forms of acts a
role may not do must not be on its page.

Adding a page: add a line to PAGES with a grid and a builder (and to CONTROLS if it offers write controls). A page served by the app but missing from PAGES fails
`test_every_page_is_in_the_matrix` with the line to add. A cell whose answer looks wrong by the rules keeps the
answer we believe right and is listed in XFAIL (each runs as its own strict xfail test).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.deps import SESSION_COOKIE
from api.openapi import api_routes
from tests.api.authz_streams import new_alert, new_declaration, new_lot, new_order, new_post, shared
from tests.api.test_authz_matrix import HOME, World
from tests.conftest import _empty

OK, ABSENT, FACTS, LOGIN, EXPIRED, REDIRECT = "OK", "ABSENT", "FACTS", "LOGIN", "EXPIRED", "REDIRECT"
ROLES = ("operator", "unit_admin", "driver", "receiver_operator", "park_manager", "county_regulator",
         "city_regulator", "province_regulator", "admin", "anonymous", "revoked")
USERS = ROLES[:9]
OWNERSHIP = ("own", "same_region", "other_region")
PASSWORD = "password-123"
ORIGIN = "http://testserver"  # the TestClient's own origin: cookie-authenticated form POSTs must come from it


def grid(**rows: tuple) -> dict[str, tuple]:
    """An expectation grid; every role written out (anonymous → LOGIN, revoked → EXPIRED unless given)."""
    rows.setdefault("anonymous", (LOGIN,) * 3)
    rows.setdefault("revoked", (EXPIRED,) * 3)
    assert set(rows) == set(ROLES), set(ROLES) ^ set(rows)
    assert all(len(v) == 3 for v in rows.values())
    return rows


def every(value: object, **but: tuple) -> dict[str, tuple]:
    return grid(**{**{r: (value,) * 3 for r in USERS}, **but})


X3 = (403, 403, 403)

# ---- the grids ------------------------------------------------------------------------------------------------

# Public pages: the label's QR (/s/), the facility card (/f/), the 固废码 (/u/), manifest verification (/m/{n}).
# The page answers everyone; the 固废码 page is the same for all.
PUBLIC = grid(**{r: (OK,) * 3 for r in ROLES})
# The label, the facility card and the manifest add what those who may read the unit see (balances and next
# actions, stock and movements, the whole manifest with people and the plate); everyone else gets the public facts.
PUBLIC_DETAIL = grid(operator=(OK, FACTS, FACTS), unit_admin=(OK, FACTS, FACTS), driver=(OK, FACTS, FACTS),
                     receiver_operator=(OK, FACTS, FACTS), park_manager=(OK, FACTS, FACTS),
                     county_regulator=(OK, FACTS, FACTS), city_regulator=(OK, OK, FACTS),
                     province_regulator=(OK, OK, FACTS), admin=(OK, OK, OK), anonymous=(FACTS,) * 3,
                     revoked=(FACTS,) * 3)
# Any logged-in user (the page shows what is in their own scope).
LOGGED_IN = every(OK)
# Read a unit's page (or its batch's label, its manifest list entry, its pickup order): the unit's users, its park's
# manager, regulators whose region covers it, admins. Others: 404 (not disclosed).
READ = grid(operator=(OK, 404, 404), unit_admin=(OK, 404, 404), driver=(OK, 404, 404),
            receiver_operator=(OK, 404, 404), park_manager=(OK, 404, 404), county_regulator=(OK, 404, 404),
            city_regulator=(OK, OK, 404), province_regulator=(OK, OK, 404), admin=(OK, OK, OK))
# A list in the viewer's scope, the target present or not.
LIST = grid(operator=(OK, ABSENT, ABSENT), unit_admin=(OK, ABSENT, ABSENT), driver=(OK, ABSENT, ABSENT),
            receiver_operator=(OK, ABSENT, ABSENT), park_manager=(OK, ABSENT, ABSENT),
            county_regulator=(OK, ABSENT, ABSENT), city_regulator=(OK, OK, ABSENT),
            province_regulator=(OK, OK, ABSENT), admin=(OK, OK, OK))
# The weighing station operates the unit: its operators, unit admins and receiver operators (a unit user always gets
# its own unit's station, whatever ?unit_id= says: ABSENT for another unit), the admin names any unit. Drivers,
# park managers and regulators never weigh for a unit: 403.
STATION = grid(operator=(OK, ABSENT, ABSENT), unit_admin=(OK, ABSENT, ABSENT), driver=X3,
               receiver_operator=(OK, ABSENT, ABSENT), park_manager=X3, county_regulator=X3, city_regulator=X3,
               province_regulator=X3, admin=(OK, OK, OK))
# A scanned label at the station: the station's unit must hold the batch (another unit's batch: 404).
STATION_SCAN = grid(operator=(OK, 404, 404), unit_admin=(OK, 404, 404), driver=X3, receiver_operator=(OK, 404, 404),
                    park_manager=X3, county_regulator=X3, city_regulator=X3, province_regulator=X3,
                    admin=(OK, OK, OK))
# The console: regulators, park managers, admins; a unit's users are refused by role (403) whatever the target.
CONSOLE = grid(operator=X3, unit_admin=X3, driver=X3, receiver_operator=X3, park_manager=(OK, OK, OK),
               county_regulator=(OK, OK, OK), city_regulator=(OK, OK, OK), province_regulator=(OK, OK, OK),
               admin=(OK, OK, OK))
CONSOLE_LIST = grid(operator=X3, unit_admin=X3, driver=X3, receiver_operator=X3, park_manager=(OK, ABSENT, ABSENT),
                    county_regulator=(OK, ABSENT, ABSENT), city_regulator=(OK, OK, ABSENT),
                    province_regulator=(OK, OK, ABSENT), admin=(OK, OK, OK))
# A unit, park, alert or manifest filter in the console: the park's manager (its member units), regulators of the
# region, admins; outside the scope 404.
CONSOLE_READ = grid(operator=X3, unit_admin=X3, driver=X3, receiver_operator=X3, park_manager=(OK, 404, 404),
                    county_regulator=(OK, 404, 404), city_regulator=(OK, OK, 404), province_regulator=(OK, OK, 404),
                    admin=(OK, OK, OK))
# /unit sends a unit's user to its unit's page, and an account bound to no unit to the console.
MY_UNIT = every(REDIRECT)
# /home and a logged-in /login send the user to its role's home page.
TO_HOME = every(REDIRECT)
LOGIN_FORM = every(REDIRECT, anonymous=(OK,) * 3, revoked=(OK,) * 3)  # an ended session sees the form (expired)
# Posting the login form logs its user in (whoever was logged in before); logging out always ends on /login?bye=1.
FORM_POST = every(REDIRECT, anonymous=(REDIRECT,) * 3, revoked=(REDIRECT,) * 3)
HALL = grid(operator=(OK, OK, OK), unit_admin=(OK, OK, OK), driver=(OK, OK, OK), receiver_operator=(OK, OK, OK),
            park_manager=(OK, 404, 404), county_regulator=(OK, 404, 404), city_regulator=(OK, OK, 404),
            province_regulator=(OK, OK, 404), admin=(OK, OK, OK))
MARKET_NEW = every(403, operator=(OK,) * 3, unit_admin=(OK,) * 3, receiver_operator=(OK,) * 3)
API_DOCS = every(REDIRECT, anonymous=(REDIRECT,) * 3, revoked=(REDIRECT,) * 3)  # `/` → the API's documentation


# ---- requests -------------------------------------------------------------------------------------------------

@dataclass
class Req:
    method: str
    path: str
    needle: str | None = None  # for lists: a text that must (OK) or must not (ABSENT) be on the page
    form: dict | None = None  # a form POST
    cookie: str | None = None  # a session of its own (logout ends the session it is sent with)
    without: str = ABSENT  # the answer when the needle is missing (FACTS on public pages)


Build = Callable[["Pages", str, str], Req]


class Pages:
    """The API matrix's World, with a logged-in session per role."""

    def __init__(self, world: World, client: TestClient) -> None:
        self.w = world
        self.client = client
        self.cookies: dict[str, str] = {r: self.login(world.users[r].username) for r in USERS}
        revoked = self.login(world.login_user.username)
        r = client.post("/logout", headers={"Origin": ORIGIN, "Cookie": f"{SESSION_COOKIE}={revoked}"},
                        follow_redirects=False)
        assert r.status_code == 303, r.text
        self.cookies["revoked"] = revoked

    def login(self, username: str) -> str:
        self.client.cookies.clear()
        r = self.client.post("/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
        assert r.status_code == 303, r.text
        clear = r.cookies.get(SESSION_COOKIE)
        assert clear, r.headers
        self.client.cookies.clear()
        return clear

    # targets, as in the API matrix: the caller's home unit of the family (the plant for roles without a unit)
    def unit(self, role: str, owner: str):  # noqa: ANN201
        return self.w.home(role, owner)

    def batch(self, role: str, owner: str):  # noqa: ANN201
        unit = self.unit(role, owner)
        return shared(self.w, ("batch", unit.id), lambda: self.w.fresh_batch(unit))

    def manifest(self, owner: str):  # noqa: ANN201
        return shared(self.w, ("manifest", owner), lambda: self.w.manifest(owner, "draft"))

    def plate(self, owner: str) -> str:
        """The manifest's whole plate: the public view masks it (鲁A1**45)."""
        return self.w.families[owner].vehicles["hauler"][0].plate

    def facility(self, role: str, owner: str):  # noqa: ANN201
        return self.w.families[owner].fac[(HOME.get(role, "plant"), "store")]

    def park(self, owner: str):  # noqa: ANN201
        return self.w.families[owner].park

    def alert(self, role: str, owner: str) -> int:
        return shared(self.w, ("alert", self.unit(role, owner).id), lambda: new_alert(self.w, role, owner))

    def declaration(self, role: str, owner: str) -> tuple[int, int]:
        return shared(self.w, ("declaration", self.unit(role, owner).id),
                      lambda: new_declaration(self.w, role, owner))

    def post(self, role: str, owner: str) -> int:
        return shared(self.w, ("post", self.unit(role, owner).id), lambda: new_post(self.w, role, owner))

    def lot(self, role: str, owner: str) -> int:
        return shared(self.w, ("lot", self.unit(role, owner).id), lambda: new_lot(self.w, role, owner))

    def order(self, role: str, owner: str) -> int:
        return shared(self.w, ("order", self.unit(role, owner).id),
                      lambda: new_order(self.w, role, owner, producer_is_home=True))


def get(path: Callable[[Pages, str, str], str], needle: Callable[[Pages, str, str], str] | None = None, *,
        without: str = ABSENT) -> Build:
    return lambda p, r, o: Req("GET", path(p, r, o), needle(p, r, o) if needle else None, without=without)


def fixed(path: str) -> Build:
    return lambda p, r, o: Req("GET", path)


def unit_path(suffix: str = "", prefix: str = "/unit") -> Build:
    return get(lambda p, r, o: f"{prefix}/{p.unit(r, o).id}{suffix}")


def login_post(p: Pages, role: str, owner: str) -> Req:
    return Req("POST", "/login", form={"username": p.w.login_user.username, "password": PASSWORD})


def logout_post(p: Pages, role: str, owner: str) -> Req:
    fresh = p.login(p.w.users[role].username) if role in USERS else None
    return Req("POST", "/logout", cookie=fresh)


@dataclass(frozen=True)
class Row:
    expect: dict[str, tuple]
    build: Build


PAGES: dict[str, Row] = {
    # login, logout, home, and `/`
    "GET /": Row(API_DOCS, fixed("/")),
    "GET /login": Row(LOGIN_FORM, fixed("/login")),
    "POST /login": Row(FORM_POST, login_post),
    "POST /logout": Row(FORM_POST, logout_post),
    "GET /home": Row(TO_HOME, fixed("/home")),
    # public pages
    "GET /s/{digital_id}": Row(PUBLIC_DETAIL, get(lambda p, r, o: f"/s/{p.batch(r, o).digital_id}",
                                                  lambda p, r, o: 'id="detail"', without=FACTS)),
    "GET /f/{facility_id}": Row(PUBLIC_DETAIL, get(lambda p, r, o: f"/f/{p.facility(r, o).id}",
                                                   lambda p, r, o: 'id="stock"', without=FACTS)),
    "GET /u/{credit_code}": Row(PUBLIC, get(lambda p, r, o: f"/u/{p.unit(r, o).credit_code}")),
    "GET /m/{number}": Row(PUBLIC_DETAIL, get(lambda p, r, o: f"/m/{p.manifest(o).number}",
                                              lambda p, r, o: p.plate(o), without=FACTS)),
    # the weighing station (?unit_id= names the unit for an admin; a unit's user always gets its own)
    "GET /station": Row(STATION, get(lambda p, r, o: f"/station?unit_id={p.unit(r, o).id}",
                                     lambda p, r, o: p.unit(r, o).name)),
    "GET /station/recent": Row(STATION, get(lambda p, r, o: f"/station/recent?unit_id={p.unit(r, o).id}",
                                            lambda p, r, o: p.batch(r, o).digital_id)),
    "GET /station/batch/{digital_id}": Row(STATION_SCAN, get(
        lambda p, r, o: f"/station/batch/{p.batch(r, o).digital_id}?unit_id={p.unit(r, o).id}")),
    "GET /station/label/{batch_id}": Row(READ, get(lambda p, r, o: f"/station/label/{p.batch(r, o).id}")),
    # phone: manifests, pickup orders
    "GET /m": Row(LIST, get(lambda p, r, o: "/m", lambda p, r, o: p.manifest(o).number)),
    "GET /pickup": Row(LOGGED_IN, fixed("/pickup")),
    "GET /pickup/{order_id}": Row(READ, get(lambda p, r, o: f"/pickup/{p.order(r, o)}")),
    # a unit's own pages
    "GET /unit": Row(MY_UNIT, fixed("/unit")),
    "GET /unit/{unit_id}": Row(READ, unit_path()),
    "GET /unit/{unit_id}/alerts": Row(READ, unit_path("/alerts")),
    "GET /unit/{unit_id}/alerts/{alert_id}": Row(READ, get(
        lambda p, r, o: f"/unit/{p.unit(r, o).id}/alerts/{p.alert(r, o)}")),
    "GET /unit/{unit_id}/chain": Row(READ, unit_path("/chain")),
    "GET /unit/{unit_id}/declarations": Row(READ, unit_path("/declarations")),
    "GET /unit/{unit_id}/declarations/{declaration_id}": Row(READ, get(
        lambda p, r, o: "/unit/{}/declarations/{}".format(*p.declaration(r, o)))),
    "GET /unit/{unit_id}/ledger": Row(READ, unit_path("/ledger")),
    "GET /unit/{unit_id}/consents": Row(READ, unit_path("/consents")),
    "GET /unit/{unit_id}/webhooks": Row(READ, unit_path("/webhooks")),
    "GET /unit/{unit_id}/plans": Row(READ, unit_path("/plans")),
    "GET /unit/{unit_id}/lots": Row(READ, unit_path("/lots")),
    "GET /unit/{unit_id}/lots/{lot_id}": Row(READ, get(lambda p, r, o: f"/unit/{p.unit(r, o).id}/lots/{p.lot(r, o)}")),
    # the console
    # the trading hall: units licensed for a code see its posts wherever they are (every unit of the World is
    # licensed for HW08); park managers and regulators read the posts of their park or region; producers post
    "GET /market": Row(LOGGED_IN, fixed("/market")),
    "GET /market/new": Row(MARKET_NEW, fixed("/market/new")),
    "GET /market/{post_id}": Row(HALL, get(lambda p, r, o: f"/market/{p.post(r, o)}")),
    "GET /console": Row(CONSOLE, fixed("/console")),
    "GET /console/alerts": Row(CONSOLE_READ, get(lambda p, r, o: f"/console/alerts?unit_id={p.unit(r, o).id}")),
    "GET /console/alerts/{alert_id}": Row(CONSOLE_READ, get(lambda p, r, o: f"/console/alerts/{p.alert(r, o)}")),
    "GET /console/units": Row(CONSOLE_LIST, get(lambda p, r, o: f"/console/units?q={p.unit(r, o).credit_code}",
                                                lambda p, r, o: f"/console/units/{p.unit(r, o).id}\"")),
    "GET /console/units/{unit_id}": Row(CONSOLE_READ, unit_path(prefix="/console/units")),
    "GET /console/units/{unit_id}/chain": Row(CONSOLE_READ, unit_path("/chain", prefix="/console/units")),
    "GET /console/parks": Row(CONSOLE_LIST, get(lambda p, r, o: "/console/parks",
                                                lambda p, r, o: f"/console/parks/{p.park(o).id}\"")),
    "GET /console/parks/{park_id}": Row(CONSOLE_READ, get(lambda p, r, o: f"/console/parks/{p.park(o).id}")),
    "GET /console/parks/{park_id}/records": Row(CONSOLE_READ, get(
        lambda p, r, o: f"/console/parks/{p.park(o).id}/records?figure=generated")),
    "GET /console/manifests": Row(CONSOLE_LIST, get(lambda p, r, o: f"/console/manifests?q={p.manifest(o).number}",
                                                    lambda p, r, o: f"/m/{p.manifest(o).number}")),
}


# Write controls: where a page answers 200, who is offered forms that write (`data-api=` action forms, the scan's
# next actions). Seeing is not acting: a page offers a control only to whom the API lets do it (write "W" for a
# cell that shows controls, "." for one that does not; roles not named show none anywhere). Pages not listed show
# no control to anyone.
def controls(**rows: str) -> dict[str, str]:
    assert set(rows) <= set(ROLES) and all(len(v) == 3 and set(v) <= {"W", "."} for v in rows.values()), rows
    return {r: rows.get(r, "...") for r in ROLES}


# The unit's own operating users act on its batches (store, retrieve, use, dispose); regulators and park managers
# only look (the admin is offered no next actions on a label: it belongs to no unit).
BATCH_ACTIONS = controls(operator="W..", unit_admin="W..", receiver_operator="W..")
# An open mid alert: the county and city regulators push it, any regulator of the region may close it, the admin all.
ALERT_ACTS = controls(county_regulator="W..", city_regulator="WW.", province_regulator="WW.", admin="WWW")
CONTROLS: dict[str, dict[str, str]] = {
    "GET /s/{digital_id}": BATCH_ACTIONS,
    "GET /station/batch/{digital_id}": BATCH_ACTIONS,
    # the inbox's acknowledgement and the zero report: those who operate the unit
    "GET /unit/{unit_id}": controls(operator="W..", unit_admin="W..", receiver_operator="W..", admin="WWW"),
    "GET /unit/{unit_id}/alerts/{alert_id}": ALERT_ACTS,
    "GET /console/alerts/{alert_id}": ALERT_ACTS,
    # the unit declares (HJ 1259 §7.1): its operators and admins; nobody declares in its name
    "GET /unit/{unit_id}/declarations/{declaration_id}": controls(operator="W..", unit_admin="W.."),
    # a producer's one-step order form; its own order (cancel) on the order page
    # the trading hall: a unit's operating users post, offer, accept and withdraw; drivers, park managers and
    # regulators only look (the admin, who belongs to no unit, trades for none)
    "GET /market/new": controls(operator="WWW", unit_admin="WWW", receiver_operator="WWW"),
    "GET /market/{post_id}": controls(operator="WWW", unit_admin="WWW", receiver_operator="WWW"),
    # a consent is the producer's own act (its admin); a unit's webhooks are managed by its admin
    "GET /unit/{unit_id}/consents": controls(unit_admin="W.."),
    "GET /unit/{unit_id}/webhooks": controls(unit_admin="W.."),
    # a plan is filed by the unit's admin (it registers the unit); a regulator of the unit returns the current one
    "GET /unit/{unit_id}/plans": controls(unit_admin="W..", county_regulator="W..", city_regulator="WW.",
                                          province_regulator="WW.", admin="WWW"),
    "GET /pickup": controls(operator="WWW", unit_admin="WWW", receiver_operator="WWW"),
    "GET /pickup/{order_id}": controls(operator="W..", unit_admin="W..", receiver_operator="W.."),
}


def writes(html: str) -> str:
    return "W" if "data-api=" in html or 'id="actions"' in html else "."


# Cells where the service's answer looks wrong by the rights rules: (page, role, ownership) → why. The grid keeps
# the answer we believe right; each cell runs as a strict xfail (it fails loudly once the service is fixed).
XFAIL: dict[tuple[str, str, str], str] = {}


# ---- the tests ------------------------------------------------------------------------------------------------

def served_pages(app) -> Iterator[str]:  # noqa: ANN001
    """The app's page routes: everything it serves outside /api that is not in the OpenAPI (HTML, forms)."""
    spec = TestClient(app).get("/api/v1/openapi.json").json()
    documented = {f"{m.upper()} {path}" for path, item in spec["paths"].items() for m in item}
    for ctx in api_routes(app):
        if ctx.path.startswith("/api/"):
            continue
        for method in sorted(ctx.methods - {"HEAD"}):
            if f"{method} {ctx.path}" not in documented:
                yield f"{method} {ctx.path}"


def test_every_page_is_in_the_matrix(app):
    served = set(served_pages(app))
    missing = sorted(served - set(PAGES))
    stale = sorted(set(PAGES) - served)
    lines = [f'    "{r}": Row(<GRID>, <build>),' for r in missing]
    assert not missing, ("pages missing from the page matrix (tests/web/test_page_matrix.py, PAGES); add a row for "
                         "each, with the grid of who may open it:\n" + "\n".join(lines))
    assert not stale, f"rows for pages the app no longer serves: {stale}"
    assert set(CONTROLS) <= set(PAGES), set(CONTROLS) - set(PAGES)
    assert set(XFAIL) <= {(p, r, o) for p in PAGES for r in ROLES for o in OWNERSHIP}, "XFAIL names no cell"


@pytest.fixture(autouse=True)
def clean():  # noqa: PT004  (the module's world is emptied once, by `pages`)
    yield


@pytest.fixture(scope="module")
def pages(engine, app) -> Iterator[Pages]:  # noqa: ANN001
    from alerts import settings as alert_settings

    _empty(engine)
    mp = pytest.MonkeyPatch()
    mp.setenv("LEDGER_ALERTS_ENFORCEMENT_URL", "https://enforcement.example.test/alerts")
    mp.setenv("LEDGER_ALERTS_ENFORCEMENT_SECRET", "matrix-secret")
    alert_settings.config.cache_clear()
    with TestClient(app) as client:
        yield Pages(World(engine), client)
    mp.undo()
    alert_settings.config.cache_clear()
    _empty(engine)


def outcome(r, req: Req) -> object:  # noqa: ANN001
    if 200 <= r.status_code < 300:
        if req.needle is not None:
            return OK if req.needle in r.text else req.without
        return OK
    if 300 <= r.status_code < 400:
        loc = r.headers.get("location", "")
        if loc.startswith("/login?next="):
            return EXPIRED if re.search(r"[?&]expired=1\b", loc) else LOGIN
        return REDIRECT
    if "text/html" not in r.headers.get("content-type", ""):
        return f"{r.status_code} (not an HTML page: {r.headers.get('content-type')})"
    return r.status_code


def title(html: str) -> str:
    """The page's title and the error page's detail, for a failure message."""
    found = re.findall(r"<title>(.*?)</title>|<p class=\"muted small\">(详情：.*?)</p>", html, flags=re.S)
    return " | ".join(x.strip() for pair in found for x in pair if x.strip())[:200]


def ask(p: Pages, route: str, role: str, owner: str):  # noqa: ANN201
    req = PAGES[route].build(p, role, owner)
    template = route.split(" ", 1)[1]
    assert req.path.split("?")[0].startswith(template.split("{")[0]), (route, req.path)
    cookie = req.cookie or p.cookies.get(role)
    headers = {"Accept": "text/html"}
    if cookie:
        headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    if req.method != "GET":
        headers["Origin"] = ORIGIN
    p.client.cookies.clear()
    r = p.client.request(req.method, req.path, data=req.form, headers=headers, follow_redirects=False)
    p.client.cookies.clear()
    return r, req


@pytest.mark.parametrize("route", sorted(PAGES))
def test_page_matrix(route, pages):
    row = PAGES[route]
    wrong = []
    for role, owner in itertools.product(ROLES, OWNERSHIP):
        if (route, role, owner) in XFAIL:
            continue
        want = row.expect[role][OWNERSHIP.index(owner)]
        r, req = ask(pages, route, role, owner)
        got = outcome(r, req)
        if got in (OK, ABSENT, FACTS) and req.method == "GET":
            shown = CONTROLS.get(route, controls())[role][OWNERSHIP.index(owner)]
            if writes(r.text) != shown:
                wrong.append(f"{role:>18} × {owner:<12} write controls expected {shown!r}, got {writes(r.text)!r}: "
                             f"{req.path}")
        if got != want:
            wrong.append(f"{role:>18} × {owner:<12} expected {want}, got {got}: {req.method} {req.path} "
                         f"{r.headers.get('location', '')} {title(r.text)}")
    assert not wrong, f"{route}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("cell", [pytest.param(c, id="|".join(c), marks=pytest.mark.xfail(reason=why, strict=True))
                                  for c, why in sorted(XFAIL.items())] or [pytest.param(None, marks=pytest.mark.skip(
                                      reason="no cell is marked"))])
def test_page_matrix_doubtful_cells(cell, pages):
    route, role, owner = cell
    want = PAGES[route].expect[role][OWNERSHIP.index(owner)]
    r, req = ask(pages, route, role, owner)
    assert outcome(r, req) == want, f"{route} as {role} × {owner}: got {outcome(r, req)} ({req.path})"


def test_a_revoked_session_is_refused(pages):
    """The revoked cookie is a real session that logout ended: before it, it opened the station."""
    p = pages
    fresh = p.login(p.w.login_user.username)
    headers = {"Accept": "text/html", "Cookie": f"{SESSION_COOKIE}={fresh}"}
    assert p.client.get("/station", headers=headers, follow_redirects=False).status_code == 200
    r = p.client.post("/logout", headers={**headers, "Origin": ORIGIN}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/login?bye=1")
    r = p.client.get("/station", headers=headers, follow_redirects=False)
    assert outcome(r, Req("GET", "/station")) == EXPIRED, r.headers


def test_a_cross_site_form_post_is_refused(pages):
    """The form POSTs of the matrix carry the service's own Origin; from another site the session's POST is refused
    (403) and the session lives on."""
    p = pages
    fresh = p.login(p.w.login_user.username)
    headers = {"Accept": "text/html", "Cookie": f"{SESSION_COOKIE}={fresh}"}
    r = p.client.post("/logout", headers={**headers, "Origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403, r.text
    assert p.client.get("/station", headers=headers, follow_redirects=False).status_code == 200
