"""The OpenAPI contract: every operation lists every status it can answer, generated from its dependencies.

`install(app)` wraps `app.openapi` so that, the first time the schema is built, each API route gets the error
responses that follow from what it depends on (a route added later gets them too, with nothing to write):

| status | when |
|---|---|
| 401 (`WWW-Authenticate`) | it needs a principal (`principal`, `caller`, `tx`, `deferred_tx`) or reads an optional one |
| 403, 404 | it needs a principal (a unit outside your scope answers 404, a forbidden act 403) |
| 409 | it writes (`tx`, `deferred_tx`): a racing change, a duplicate, a state that forbids the step |
| 400, 413 | it takes a body: unreadable (not UTF-8 JSON), or too large (see `api/limits.py`) |
| 422 | always: a parameter, a body field or a NUL character refused, with the field named |
| 401, 429 (`Retry-After`) | it depends on `throttled` (attempts at a secret, rate-limited) |
| 503 (`Retry-After`) | it uses the database (`get_session`): down, disk full, I/O error, read-only |

Every error uses the `ErrorEnvelope` schema. A route may declare more in its own `responses=`; nothing it
declares is overwritten. Non-JSON answers (labels, PDFs, CSV) get their media types from `MEDIA_TYPES`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api import deps
from api.errors import ErrorEnvelope

DESCRIPTIONS = {
    400: "The body could not be read (not UTF-8 JSON)",
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


def api_routes(app: FastAPI) -> Iterator:
    """Every API route of `app` as FastAPI serves it (full path, effective dependencies), in the schema or not."""
    try:  # FastAPI ≥ 0.16x includes routers lazily; their effective routes carry the prefix and dependencies
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: included routes are plain APIRoutes
        yield from (r for r in app.routes if isinstance(r, APIRoute))
        return
    for ctx in iter_route_contexts(app.routes):
        if isinstance(ctx.original_route, APIRoute):
            yield ctx


def allowed_methods(app: FastAPI, scope: dict) -> set[str]:
    """The methods answered at the path of `scope`, by its most specific path template (for a 405's Allow)."""
    from starlette.routing import Match

    found: dict[str, set[str]] = {}
    probe = {**scope, "method": "\x00"}
    for route in list(api_routes(app)) + [r for r in app.routes if not hasattr(r, "original_router")]:
        try:
            match, _ = route.matches(probe)
        except Exception:  # noqa: BLE001 - a route that cannot match this scope
            continue
        if match is not Match.NONE:
            found.setdefault(getattr(route, "path_format", ""), set()).update(getattr(route, "methods", None) or ())
    if not found:
        return set()
    # /batches/bulk also fits /batches/{batch_id}; the template with the most literal text is the resource.
    best = max(found, key=lambda f: len(re.sub(r"{[^}]*}", "", f)))
    return found[best]


def _calls(dependant: Dependant | None) -> Iterator[Callable]:
    if dependant is None:
        return
    for d in dependant.dependencies:
        if d.call is not None:
            yield d.call
        yield from _calls(d)


def statuses_for(route) -> set[int]:  # noqa: ANN001
    """The error statuses a route can answer, from its dependencies, parameters and body."""
    calls = set(_calls(route.dependant))
    out = {422}
    if calls & {deps.principal, deps.tx, deps.deferred_tx, deps.caller}:
        out |= {401, 403, 404}
    elif deps.optional_principal in calls:
        out.add(401)
    if route.dependant.path_params:
        out.add(404)
    if calls & {deps.tx, deps.deferred_tx}:
        out.add(409)
    if route.body_field is not None:
        out |= {400, 413}
    if deps.throttled in calls:  # an attempt at a secret: wrong (401) or too many (429)
        out |= {401, 429}
    if calls & {deps.get_session, deps.optional_principal, deps.principal, deps.tx, deps.deferred_tx, deps.caller}:
        out.add(503)
    return out


def _media(media: str) -> dict:
    if media == "application/json":
        return {"schema": {}}
    if media.startswith("text/"):
        return {"schema": {"type": "string"}}
    return {"schema": {"type": "string", "format": "binary"}}


def annotate(app: FastAPI, schema: dict) -> dict:
    """Add the error responses (and non-JSON media types) to every operation of `schema`, built from `app`."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}").pop(
            "$defs", {}).items():
        components.setdefault(name, definition)
    components["ErrorEnvelope"] = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    components["ErrorEnvelope"].pop("$defs", None)
    ref = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            op = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if op is None:
                continue
            responses = op.setdefault("responses", {})
            for status in sorted(statuses_for(route)):
                entry = responses.get(str(status))
                if entry is None or status == 422 and "HTTPValidationError" in str(entry):
                    entry = {"description": DESCRIPTIONS[status]}
                entry.setdefault("content", {"application/json": {"schema": ref}})
                if status in HEADERS:
                    entry.setdefault("headers", HEADERS[status])
                responses[str(status)] = entry
            for status, entry in responses.items():  # one the route declared itself, beyond what it depends on
                if status[0] in "45" and status != "422":
                    entry.setdefault("content", {"application/json": {"schema": ref}})
            ok = str(route.status_code or 200)
            media = MEDIA_TYPES.get((method, route.path_format)) or tuple(
                m for suffix, m in SUFFIX_MEDIA.items() if route.path_format.endswith(suffix))
            if media:
                entry = responses.setdefault(ok, {"description": "Successful Response"})
                content = entry.setdefault("content", {})
                for m in media:
                    content.setdefault(m, _media(m))
    if "HTTPValidationError" not in str(schema.get("paths")):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return schema


def install(app: FastAPI) -> None:
    """Post-process the OpenAPI schema the first time it is built (after every router is included)."""
    build = app.openapi

    def openapi() -> dict:
        fresh = app.openapi_schema is None
        schema = build()
        if fresh or "ErrorEnvelope" not in schema.get("components", {}).get("schemas", {}):
            app.openapi_schema = annotate(app, schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
