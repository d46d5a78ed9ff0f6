"""The FastAPI application factory."""

from __future__ import annotations

import gc
import importlib.resources
import ipaddress
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api import errors, openapi, pages
from api.deps import clean_parameters
from api.grouping import CommitGroups
from api.limits import BodySizeLimit
from api.routers import (
    accounts,
    alerts,
    batches,
    declarations,
    history,
    manifests,
    market,
    pickup_orders,
    registry,
    reports,
)
from api.routing import include_flat, index_routes
from ledger.aio import AsyncReader
from ledger.config import WILDCARD_HOSTS, Settings, get_settings
from ledger.db import get_engine, is_sqlite

API_PREFIX = "/api/v1"
#: Swagger UI and ReDoc are served from here, from the copy the fastapi-offline package ships (no CDN).
DOCS_ASSETS = f"{API_PREFIX}/docs-assets"
#: Chatty libraries held at WARNING: fontTools.subset logs a dozen INFO lines for every PDF it embeds a font in.
QUIET_LOGGERS = ("fontTools",)

log = logging.getLogger("wasteledger")

DESCRIPTION = """
Solid-waste traceability ledger (固体废物台账 / 电子转移联单).

Every batch of solid or hazardous waste is weighed, labelled with a QR code, stored, moved on an
electronic manifest and utilised or disposed; every step is an append-only, hash-chained record.

Authenticate with `Authorization: Bearer <token>` (POST /tokens) or the page-session cookie (POST /auth/login).
Mutating POSTs accept an `Idempotency-Key` header: a retry returns the first response.
Errors are `{"error": {"code", "message", "details"}}`. Masses are kilograms (decimal) in the API.
"""


def configure_logging() -> None:
    """The service's logging: INFO to stderr (unless the host process configured logging already), with the
    QUIET_LOGGERS held at WARNING."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1, localhost and *.localhost."""
    h = host.strip().strip("[]").lower().rstrip(".")
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def public_url_warning(settings: Settings) -> str | None:
    """A warning when QR codes would encode a loopback address while the server listens beyond loopback: a phone
    scanning a label would open its own loopback, not this server."""
    public_host = urlsplit(settings.public_url).hostname or ""
    if not is_loopback_host(public_host) or is_loopback_host(settings.host):
        return None
    where = f"{settings.host or '0.0.0.0'} (every interface)" if settings.host.strip() in WILDCARD_HOSTS \
        else settings.host
    why = ("LEDGER_PUBLIC_URL is not set, so it follows LEDGER_HOST/LEDGER_PORT:" if settings.public_url_is_default
           else "LEDGER_PUBLIC_URL is")
    return (f"{why} {settings.public_url} is a loopback address, but the server listens on {where}. QR codes on "
            "labels, facility cards and manifests would open the scanning phone's own loopback, not this server. "
            f"Set LEDGER_PUBLIC_URL to the address phones reach (e.g. http://192.168.1.20:{settings.port} or "
            "https://ledger.example.com) before printing labels.")


def startup_messages(settings: Settings) -> list[tuple[int, str]]:
    """What the server logs at start-up about its addresses: (level, message)."""
    out = [(logging.INFO, f"QR codes on labels and manifests open {settings.public_url}"
                          f"{' (from LEDGER_HOST/LEDGER_PORT)' if settings.public_url_is_default else ''}")]
    warning = public_url_warning(settings)
    if warning:
        out.append((logging.WARNING, warning))
    return out


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start-up: say which address the QR codes open (and warn if phones cannot reach it); warm the PDF font in
    the background (the first PDF would otherwise build it in a request); on PostgreSQL open the pool that label
    scans read from on the event loop; run the alert scheduler."""
    from labels import warm_pdf_fonts

    for level, message in startup_messages(app.state.settings):
        log.log(level, message)
    threading.Thread(target=warm_pdf_fonts, name="warm-pdf-fonts", daemon=True).start()
    quiet_garbage_collector()
    settings = app.state.settings
    aio = None
    if settings.async_reads and not is_sqlite(settings.database_url):
        aio = app.state.aio = AsyncReader(settings.database_url, size=settings.pool_size)  # ledger/aio.py
        await aio.open()
    try:
        async with alerts.lifespan(app):  # the alert scheduler (routers are taken in flat: see api/routing.py)
            yield
    finally:
        if aio is not None:
            app.state.aio = None
            await aio.close()


def quiet_garbage_collector() -> None:
    """Keep the cyclic garbage collector's full passes short: what exists once the app has started (modules, the
    app and its routes, SQLAlchemy's mappers and compiled statements, pydantic's schemas — hundreds of thousands of
    objects that live as long as the process) is moved out of its reach with `gc.freeze()`, so a full collection
    walks only what requests created since. Measured with `python -m bench.ingest --units 64`: without it, every
    few seconds a full collection stalled a worker and the requests in flight in it for about 100 ms (p99 145 ms
    against p90 33 ms; with the collector off, p99 39 ms)."""
    gc.collect()
    gc.freeze()


def docs_assets_dir() -> Path:
    """The Swagger UI and ReDoc dist files shipped by the fastapi-offline package."""
    path = Path(str(importlib.resources.files("fastapi_offline") / "static"))
    if not (path / "swagger-ui-bundle.js").is_file():  # pragma: no cover - only if the package changes shape
        raise RuntimeError(f"fastapi-offline ships no Swagger UI in {path}; reinstall wasteledger's dependencies")
    return path


def install_docs(app: FastAPI) -> None:
    """Swagger UI at /api/v1/docs and ReDoc at /api/v1/redoc, with their scripts, styles and icon served by this
    service (FastAPI's "self-hosting JavaScript and CSS for docs"), so the docs work on an intranet without
    internet access."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=docs_assets_dir()), name="docs-assets")
    oauth2_redirect = f"{API_PREFIX}/docs/oauth2-redirect"

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + app.openapi_url, title=f"{app.title} — API docs",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            oauth2_redirect_url=root + oauth2_redirect,
            swagger_ui_parameters={"validatorUrl": None})  # no badge fetched from validator.swagger.io

    @app.get(oauth2_redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(f"{API_PREFIX}/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + app.openapi_url, title=f"{app.title} — API reference",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png", with_google_fonts=False)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (default: the environment)."""
    settings = settings or get_settings()
    configure_logging()
    app = FastAPI(title="wasteledger", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,
                  dependencies=[Depends(clean_parameters)])
    app.state.settings = settings
    install_docs(app)
    app.state.engine = get_engine(settings.database_url)
    app.state.commit_groups = CommitGroups(app.state.engine, enabled=settings.group_commit)
    errors.install(app)
    app.add_middleware(BodySizeLimit, json_limit=settings.max_body_bytes, upload_limit=settings.max_upload_bytes)
    for module in (accounts, registry, batches, manifests, pickup_orders, market, alerts, reports, declarations,
                   history):
        include_flat(app, module.router, prefix=API_PREFIX)
    pages.install(app)

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse(f"{API_PREFIX}/docs")

    @app.get(f"{API_PREFIX}/health", tags=["meta"])
    async def health():  # on the event loop: nothing here blocks (bench.reads measures it as the floor)
        return {"status": "ok"}

    openapi.install(app)
    index_routes(app)  # last: every route is there (api/routing.py)
    return app
