"""Routes registered flat on the app, not as included routers.

Since 0.137, FastAPI keeps each `include_router` as one node of the app's route list and finds a request's route
by walking every route of every included router in turn, with some bookkeeping per route (its own pull request
fastapi/fastapi#16159 measures 2.5 ms to reach a late route of 800). In this app that walk cost more than some
whole requests: in-process, `GET /api/v1/health` (after every API and page route) took 1.0 ms of CPU against
0.75 ms with FastAPI 0.136, and an unknown path 2.4 ms against 0.9 ms.

So the app takes each router's routes onto its own router, as FastAPI did before 0.137: `include_flat` adds every
`APIRoute` of a router again with the prefix, the same parameters and the same route class. The app's own
dependencies (`clean_parameters`) and the router's (already in each route's) apply as before, the OpenAPI schema
is the same, and a route is matched by its path's regular expression alone. A router's lifespan is not carried
over: the app's lifespan runs it (see `api.app.lifespan`).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

#: the `add_api_route` parameters an `APIRoute` keeps under the same name
_COPIED = ("response_model", "status_code", "tags", "dependencies", "summary", "description", "response_description",
           "responses", "deprecated", "methods", "operation_id", "response_model_include", "response_model_exclude",
           "response_model_by_alias", "response_model_exclude_unset", "response_model_exclude_defaults",
           "response_model_exclude_none", "include_in_schema", "response_class", "name", "callbacks",
           "openapi_extra", "generate_unique_id_function")


def include_flat(app: FastAPI, router: APIRouter, *, prefix: str = "", include_in_schema: bool = True) -> None:
    """Add every route of `router` to `app` itself, under `prefix` (`include_in_schema=False` hides them all)."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r} is not an APIRoute: include_flat takes routers of path operations only "
                            "(mount sub-applications and static files on the app itself)")
        params = {name: getattr(route, name) for name in _COPIED}
        params["include_in_schema"] = route.include_in_schema and include_in_schema
        app.router.add_api_route(prefix + route.path, route.endpoint, route_class_override=type(route), **params)
