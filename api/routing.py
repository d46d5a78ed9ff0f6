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

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import Receive, Scope, Send

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


class RouteIndex(BaseRoute):
    """The app's routes by the literal segments their paths begin with, placed first among them: a request is
    matched against the routes its path could match only, in their order, not against every route.

    A route's path matches only paths that begin with its literal segments (those before its first `{…}`), so
    the routes kept at the trie's nodes along a request's path, in the app's order, include every route that could
    match it; the first that matches in full among them is the one the app's own walk would have taken. When
    none matches in full (a 404, a 405, a trailing slash to redirect), the index answers "no match" and the app's
    walk goes on as before, over every route. So the index changes which routes are tried, never which one answers.
    Mounts and any other kind of route are tried for every request. The walk of 177 routes cost about 1 µs a route
    (53 µs to reach a label scan, the 50th), about a twentieth of a scan's CPU.

    It indexes the routes as they are when it is built (`index_routes`, last in `create_app`): a route added after
    is still found by the walk, but one removed or put before another after that would not be seen by it."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.root = _Node()
        for index, route in enumerate(routes):
            node = self.root
            if isinstance(route, Route):  # APIRoute and PageRoute too: matched by their path's regular expression
                for segment in _literal_segments(route.path_format):
                    node = node.children.setdefault(segment, _Node())
            node.routes.append((index, route))
        self.root.seal([])

    def _candidates(self, path: str) -> list[BaseRoute]:
        node = self.root
        for segment in path.split("/")[1:]:
            child = node.children.get(segment)
            if child is None:
                break
            node = child
        return node.candidates

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = get_route_path(scope) if scope["type"] == "http" else "\n"
        if "\n" in path:  # (a route's `$` also matches before a final newline: the walk decides those)
            return Match.NONE, {}
        for route in self._candidates(path):
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                return Match.FULL, {**child_scope, _CHOSEN: route}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope.pop(_CHOSEN).handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)  # the routes themselves answer, after the index


_CHOSEN = "wasteledger.route"


class _Node:
    __slots__ = ("children", "routes", "candidates")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.routes: list[tuple[int, BaseRoute]] = []
        self.candidates: list[BaseRoute] = []

    def seal(self, above: list[tuple[int, BaseRoute]]) -> None:
        """Each node's candidates: its routes and its ancestors', in the app's order."""
        mine = sorted([*above, *self.routes], key=lambda pair: pair[0])
        self.candidates = [route for _, route in mine]
        for child in self.children.values():
            child.seal(mine)


def _literal_segments(path_format: str) -> list[str]:
    """The whole segments of a route's path before its first parameter ("/api/v1/scan/{id}": api, v1, scan)."""
    literal = []
    for segment in path_format.split("/")[1:]:
        if "{" in segment:
            break
        literal.append(segment)
    return literal


def index_routes(app: FastAPI) -> None:
    """Put a `RouteIndex` of the app's routes first among them (call once, after every route is added)."""
    routes = app.router.routes
    if routes and isinstance(routes[0], RouteIndex):
        routes.pop(0)
    routes.insert(0, RouteIndex(list(routes)))
