"""One renderer for every error: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import LedgerError

log = logging.getLogger("wasteledger.api")


def envelope(status: int, code: str, message: str, details=None) -> JSONResponse:  # noqa: ANN001
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message,
                                                               "details": details or {}}})


def _field(loc) -> str:  # noqa: ANN001
    parts = [str(p) for p in loc if p not in ("body",)]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def install(app: FastAPI) -> None:
    """Register the error handlers on `app`."""

    @app.exception_handler(LedgerError)
    async def _ledger(_: Request, exc: LedgerError) -> JSONResponse:
        return envelope(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = e.get("loc", ())
            where = loc[0] if loc else "body"
            errors.append({"field": _field(loc), "in": where, "message": e.get("msg", ""),
                           "type": e.get("type", "")})
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        message = f"{first['field']}: {first['message']}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
        return envelope(422, "request.invalid", message, {"field": first["field"], "errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "auth.unauthenticated"}.get(exc.status_code,
                                                                                            "http.error")
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such path; see /api/v1/docs for the paths this service offers"
        return envelope(exc.status_code, code, message)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        return envelope(409, "conflict.integrity",
                        "the write conflicts with existing data (a duplicate or a concurrent change); "
                        "read the current state and retry", {"reason": str(exc.orig).splitlines()[0][:300]})

    @app.exception_handler(OperationalError)
    async def _operational(_: Request, exc: OperationalError) -> JSONResponse:
        text = str(exc.orig)
        if "could not serialize" in text or "deadlock" in text or "database is locked" in text:
            return envelope(409, "conflict.concurrent", "a concurrent write got there first; retry", {})
        log.exception("database error")
        return envelope(503, "database.unavailable", "the database did not answer; retry later", {})

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return envelope(500, "internal", "internal error; it has been logged", {})
