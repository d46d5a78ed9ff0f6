"""The route index (`api/routing.py: RouteIndex`) picks, for every path and method, the route the app's own walk
over all its routes picks: it only tries fewer."""

from __future__ import annotations

import itertools
import re

from starlette.routing import Match

from api.routing import RouteIndex

SAMPLES = ("1", "42", "X", "abc", "91370100MA000000239002490820261202001", "")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _walk(routes, scope):  # noqa: ANN001, ANN202
    """The app's walk: the first route that matches in full."""
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


def _paths(app) -> set[str]:  # noqa: ANN001
    """Every route's path with its parameters filled in several ways, with and without a trailing slash, and
    paths no route has."""
    out = {"/", "/nope", "/api", "/api/v1", "/api/v1/", "/api/v1/nope/1", "/assets/app.css", "/api/v1/docs-assets/x.js"}
    for route in app.router.routes:
        fmt = getattr(route, "path_format", None)
        if not fmt:
            continue
        names = re.findall(r"{[^}]+}", fmt)
        for values in itertools.islice(itertools.product(SAMPLES, repeat=len(names)), 12):
            path = fmt
            for name, value in zip(names, values, strict=True):
                path = path.replace(name, value, 1)
            # (a decoded %0A ends a path with a newline, before which a route's `$` also matches)
            out |= {path, path.rstrip("/") + "/", path + "/extra", path + "\n"}
    return out


def test_the_index_is_first_and_picks_what_the_walk_picks(app) -> None:  # noqa: ANN001
    routes = app.router.routes
    assert isinstance(routes[0], RouteIndex)
    index, rest = routes[0], routes[1:]
    paths = _paths(app)
    assert len(paths) > 500
    found = 0
    for path, method, root in itertools.product(sorted(paths), METHODS, ("", "/ledger")):
        # (behind a proxy's prefix, a route sees the path without it: the index reads it the same way)
        scope = {"type": "http", "path": root + path, "method": method, "root_path": root, "headers": []}
        expected = _walk(rest, scope)
        match, child = index.matches(scope)
        if expected is None or "\n" in path:  # nothing to find, or left to the walk (which then picks `expected`)
            assert match == Match.NONE, (method, path)
        else:
            found += 1
            assert match == Match.FULL and child["wasteledger.route"] is expected, (method, path, expected)
    assert found > 300  # most of them are real routes
    # and it tries fewer: a label scan is the fiftieth route of the walk
    scan = {"type": "http", "path": "/api/v1/scan/91370100MA000000239002490820261202001", "method": "GET",
            "root_path": "", "headers": []}
    assert len(index._candidates(scan["path"])) < 10 < [r for r in rest].index(_walk(rest, scan))


def test_a_request_goes_to_the_route_the_walk_picks(client) -> None:  # noqa: ANN001
    """Through the whole app: a literal route before a parameter route of the same prefix, and a path that ends in
    a decoded newline (the walk's choice, which the index leaves to it)."""
    r = client.get("/api/v1/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert client.get("/api/v1/alerts/stats").status_code == 401  # the stats route, not /alerts/{alert_id}
    assert client.get("/api/v1/alerts/stats%0A").status_code == 401
    assert client.get("/api/v1/nope").status_code == 404
    assert client.post("/api/v1/health").status_code == 405
