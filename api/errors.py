"""One renderer for every error: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import LedgerError
from ledger.faults import classify

log = logging.getLogger("wasteledger.api")

LOCATIONS = ("body", "path", "query", "header", "cookie")


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine code, e.g. manifest.invalid_transition")
    message: str = Field(description="what went wrong and what to fix")
    details: dict = Field(default_factory=dict, description="e.g. the field to fix: {\"field\": \"lines[0].mass_kg\"}")


class ErrorEnvelope(BaseModel):
    """Every error the API answers."""

    error: ErrorBody


def envelope(status: int, code: str, message: str, details=None, headers: dict | None = None) -> JSONResponse:  # noqa: ANN001
    return JSONResponse(status_code=status, headers=headers,
                        content={"error": {"code": code, "message": message, "details": details or {}}})


def _field(loc) -> str:  # noqa: ANN001
    parts = [str(p) for p in loc]
    if parts and parts[0] in LOCATIONS:
        parts = parts[1:]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def _headers_for(exc: LedgerError) -> dict | None:
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return headers or None


def install(app: FastAPI) -> None:
    """Register the error handlers on `app`."""

    @app.exception_handler(LedgerError)
    async def _ledger(_: Request, exc: LedgerError) -> JSONResponse:
        return envelope(exc.status, exc.code, exc.message, exc.details, headers=_headers_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = e.get("loc", ())
            where = loc[0] if loc and loc[0] in LOCATIONS else "body"
            errors.append({"field": _field(loc), "in": where, "message": e.get("msg", ""),
                           "type": e.get("type", "")})
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        message = f"{first['field']}: {first['message']}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
        return envelope(422, "request.invalid", message, {"field": first["field"], "errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "auth.unauthenticated",
                413: "request.too_large"}.get(exc.status_code, "http.error")
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 400:
            code, message = "request.unreadable", "the request body could not be read: send UTF-8 JSON (" + message + ")"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such path; see /api/v1/docs for the paths this service offers"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            from api.openapi import allowed_methods

            # Starlette names only the first route that matched the path; a path has one route per method.
            methods = allowed_methods(request.app, request.scope) or set(
                (headers.pop("allow", None) or headers.get("Allow", "")).replace(" ", "").split(","))
            allowed = ", ".join(sorted(m for m in methods if m))
            headers["Allow"] = allowed
            message = f"this path does not answer that method; it answers {allowed}" if allowed else message
        return envelope(exc.status_code, code, message, {}, headers=headers or None)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        return envelope(409, "conflict.integrity",
                        "the write conflicts with existing data (a duplicate or a concurrent change); "
                        "read the current state and retry", {"reason": str(exc.orig).splitlines()[0][:300]})

    async def _database(_: Request, exc: Exception) -> JSONResponse:
        fault = classify(exc)
        if fault is None:
            log.exception("unclassified database error")
            return envelope(500, "internal", "internal error; it has been logged", {})
        if fault.kind == "invalid_value":
            # A value the input models should have refused: answer 422, but log loudly so the gap gets closed.
            log.error("unvalidated input reached the database: %s", getattr(exc, "orig", exc))
        elif fault.status >= 500:
            log.error("database fault (%s): %s", fault.kind, getattr(exc, "orig", exc))
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else None
        return envelope(fault.status, fault.code, fault.message, {"fault": fault.kind}, headers=headers)

    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(PoolTimeout, _database)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return envelope(500, "internal", "internal error; it has been logged", {})
