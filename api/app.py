"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse

from api import errors, openapi, pages
from api.deps import clean_parameters
from api.limits import BodySizeLimit
from api.routers import accounts, batches, manifests, registry
from ledger.config import Settings, get_settings
from ledger.db import get_engine

API_PREFIX = "/api/v1"

DESCRIPTION = """
Solid-waste traceability ledger (固体废物台账 / 电子转移联单).

Every batch of solid or hazardous waste is weighed, labelled with a QR code, stored, moved on an
electronic manifest and utilised or disposed; every step is an append-only, hash-chained record.

Authenticate with `Authorization: Bearer <token>` (POST /tokens) or the page-session cookie (POST /auth/login).
Mutating POSTs accept an `Idempotency-Key` header: a retry returns the first response.
Errors are `{"error": {"code", "message", "details"}}`. Masses are kilograms (decimal) in the API.
"""


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Start-up: warm the PDF font in the background (the first PDF would otherwise build it in a request)."""
    from labels import warm_pdf_fonts

    threading.Thread(target=warm_pdf_fonts, name="warm-pdf-fonts", daemon=True).start()
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (default: the environment)."""
    settings = settings or get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = FastAPI(title="wasteledger", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs",
                  redoc_url=f"{API_PREFIX}/redoc", dependencies=[Depends(clean_parameters)])
    app.state.settings = settings
    app.state.engine = get_engine(settings.database_url)
    errors.install(app)
    app.add_middleware(BodySizeLimit, json_limit=settings.max_body_bytes, upload_limit=settings.max_upload_bytes)
    app.include_router(accounts.router, prefix=API_PREFIX)
    app.include_router(registry.router, prefix=API_PREFIX)
    app.include_router(batches.router, prefix=API_PREFIX)
    app.include_router(manifests.router, prefix=API_PREFIX)
    app.include_router(pages.router)

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse(f"{API_PREFIX}/docs")

    @app.get(f"{API_PREFIX}/health", tags=["meta"])
    def health():
        return {"status": "ok"}

    openapi.install(app)
    return app
