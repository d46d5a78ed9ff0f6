"""Server-rendered pages for the people who use the ledger every day (zh-CN, little JavaScript, no CDN).

One module per page family: `auth` (login, logout, home), `scan` (/s/…), `facility` (/f/…), `station`
(weighing point), `phone` (/m/…: manifests on a driver's or receiver's phone, and the public verification
page), `pickup` (/pickup…: pickup orders on a producer's and a collector's phone), `unit` (a unit's own pages, with
its 固废码, alerts and inbox), `unit_reports` (its declarations with their returns, and HJ 1259 ledger downloads), `plans` (its yearly
management plans against what it generated), `collection` (its
consents and a collection centre's lots), `webhooks` (its webhook subscriptions), `public` (/u/…: the
page a unit's 固废码 opens), `market` (/market…: the trading hall), `console` (the console of regulators and park managers, a package of route modules). `alert_views` holds what the console's and the unit's alert pages share.
`web.install(app)` adds the assets, gzip, the CSRF Origin check and HTML error pages.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.pages import (
    auth,
    collection,
    console,
    facility,
    market,
    phone,
    pickup,
    plans,
    public,
    scan,
    station,
    unit,
    unit_reports,
    web,
    webhooks,
)
from api.routing import include_flat

ROUTERS = [m.router for m in (auth, scan, facility, station, phone, pickup, market, unit, unit_reports, plans,
                               collection, webhooks, public)] + [section.router for section in console.SECTIONS]


def install(app: FastAPI) -> None:
    """Add the pages to `app` (after the API routes and the JSON error handlers), out of the API docs."""
    for router in ROUTERS:
        include_flat(app, router, include_in_schema=False)
    web.install(app)
