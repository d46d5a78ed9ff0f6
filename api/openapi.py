"""The OpenAPI contract: every operation lists every status it can answer, generated from its dependencies.

`install(app)` wraps `app.openapi` so that, the first time the schema is built, each API route gets the error
responses that follow from what it depends on (a route added later gets them too, with nothing to write):

| status | when |
|---|---|
| 401 (`WWW-Authenticate`) | it needs a principal (`principal`, `tx`) or reads an optional one |
| 403, 404 | it needs a principal (a unit outside your scope answers 404, a forbidden act 403) |
| 409 | it writes (`tx`): a racing change, a duplicate, a state that forbids the step |
| 413 | it takes a body (see `api/limits.py`) |
| 422 | always: a parameter, a body field or a NUL character refused, with the field named |
| 429 (`Retry-After`) | it depends on `throttled` (rate-limited attempts) |
| 503 (`Retry-After`) | it uses the database (`get_session`): down, disk full, I/O error, read-only |

Every error uses the `ErrorEnvelope` schema. A route may declare more in its own `responses=`; nothing it
declares is overwritten. Non-JSON answers (labels, PDFs, CSV) get their media types from `MEDIA_TYPES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api import deps
from api.errors import ErrorEnvelope

DESCRIPTIONS = {
    401: "Not authenticated: no bearer token or session, or it is unknown, expired or revoked",
    403: "Authenticated, but your role may not do this here",
    404: "No such resource, or it is outside your scope (its existence is not disclosed)",
    409: "Conflict: the state changed or forbids this step, a duplicate, or a racing write; read and retry",
    413: "The request body is larger than this path accepts",
    422: "A parameter or body field is invalid; `details.field` names it",
    429: "Too many attempts; wait for `Retry-After` seconds",
    503: "The database is unavailable, full, read-only or failing; retry after `Retry-After` seconds",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "required": True,
                               "schema": {"type": "integer", "minimum": 0}}}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"description": "the authentication scheme to use (Bearer)",
                                         "schema": {"type": "string"}}}
HEADERS = {401: WWW_AUTHENTICATE, 429: RETRY_AFTER, 503: RETRY_AFTER}

# Answers that are not JSON: media types by path suffix, and by (method, path) for routes that choose a format.
SUFFIX_MEDIA = {".png": "image/png", ".pdf": "application/pdf", ".zpl": "text/plain", ".xlsx":
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".csv": "text/csv"}
MEDIA_TYPES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/api/v1/units/{unit_id}/ledger"): ("application/json", "text/csv"),
}


def _calls(dependant: Dependant) -> Iterator[Callable]:
    for d in dependant.dependencies:
        if d.call is not None:
            yield d.call
        yield from _calls(d)


def statuses_for(route: APIRoute) -> set[int]:
    """The error statuses a route can answer, from its dependencies, parameters and body."""
    calls = set(_calls(route.dependant))
    out = {422}
    if calls & {deps.principal, deps.tx}:
        out |= {401, 403, 404}
    elif deps.optional_principal in calls:
        out.add(401)
    if route.dependant.path_params:
        out.add(404)
    if deps.tx in calls:
        out.add(409)
    if route.body_field is not None:
        out.add(413)
    if deps.throttled in calls:
        out.add(429)
    if calls & {deps.get_session, deps.optional_principal, deps.principal, deps.tx}:
        out.add(503)
    return out


def _binary(media: str) -> dict:
    if media.startswith("text/") or media == "application/json":
        return {"schema": {"type": "string"}} if media != "application/json" else {"schema": {}}
    return {"schema": {"type": "string", "format": "binary"}}


def annotate(app: FastAPI) -> None:
    """Add the error responses (and non-JSON media types) to every API route of `app`."""
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        responses = dict(route.responses or {})
        for status in sorted(statuses_for(route)):
            if status in responses or str(status) in responses:
                entry = dict(responses.get(status) or responses.get(str(status)))
                entry.setdefault("model", ErrorEnvelope)
                entry.setdefault("description", DESCRIPTIONS[status])
            else:
                entry = {"model": ErrorEnvelope, "description": DESCRIPTIONS[status]}
            if status in HEADERS:
                entry.setdefault("headers", HEADERS[status])
            responses.pop(str(status), None)
            responses[status] = entry
        ok = route.status_code or 200
        media = MEDIA_TYPES.get((sorted(route.methods)[0], route.path_format))
        suffix = next((m for s, m in SUFFIX_MEDIA.items() if route.path_format.endswith(s)), None)
        if media or suffix:
            entry = dict(responses.get(ok) or {})
            content = dict(entry.get("content") or {})
            for m in media or (suffix,):
                content.setdefault(m, _binary(m))
            entry["content"] = content
            entry.setdefault("description", "Successful Response")
            responses[ok] = entry
        route.responses = responses


def install(app: FastAPI) -> None:
    """Annotate the routes the first time the OpenAPI schema is built (after every router is included)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            annotate(app)
        return build()

    app.openapi = openapi  # type: ignore[method-assign]
