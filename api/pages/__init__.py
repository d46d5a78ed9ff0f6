"""Server-rendered pages for the people who use the ledger every day (zh-CN, little JavaScript, no CDN).

One module per page family: `auth` (login, logout, home), `scan` (/s/…), `facility` (/f/…), `station`
(weighing point), `phone` (/m/…: manifests on a driver's or receiver's phone, and the public verification
page), `unit` (a unit's own pages), `console` (the regulator's console, a package of route modules).
`web.install(app)` adds the assets, gzip, the CSRF Origin check and HTML error pages.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from api.pages import auth, console, facility, phone, scan, station, unit, web

router = APIRouter(include_in_schema=False)
for _module in (auth, scan, facility, station, phone, unit, console):
    router.include_router(_module.router)


def install(app: FastAPI) -> None:
    """Add the pages to `app` (after the API routers and the JSON error handlers)."""
    app.include_router(router)
    web.install(app)
