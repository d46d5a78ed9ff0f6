"""What the pages add to the app: their assets, gzip for pages and assets, the Origin check that protects
cookie-authenticated writes (CSRF), and HTML error pages for browsers outside /api."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import cookie_parser
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import SESSION_COOKIE
from api.errors import envelope
from api.pages.common import ASSET_PREFIX, STATIC, error_page, viewer_of

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class Assets(StaticFiles):
    """Our own CSS and JS; versioned URLs (?v=content hash) are cached for a year."""

    async def get_response(self, path: str, scope: Scope):  # noqa: ANN201
        resp = await super().get_response(path, scope)
        if resp.status_code in (200, 304):
            versioned = b"v=" in scope.get("query_string", b"")
            resp.headers["Cache-Control"] = ("public, max-age=31536000, immutable" if versioned
                                             else "public, max-age=300")
            resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp


class PageGZip:
    """Gzip pages and assets (a phone on a weak network); the JSON API is left as it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=500, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/api/"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _netloc(url: str | None) -> str | None:
    if not url or url == "null":
        return None
    parts = urlsplit(url)
    return parts.netloc.lower() if parts.scheme in ("http", "https") and parts.netloc else None


class OriginCheck:
    """CSRF protection for cookie-authenticated writes: SameSite=Lax on the session cookie, and every unsafe
    request that the cookie authenticates (pages and API alike) must come from our own origin (the Origin
    header, or the Referer when an old browser sends no Origin). Requests with a bearer token are not
    affected: a browser never adds one on its own."""

    def __init__(self, app: ASGIApp, public_url: str) -> None:
        self.app = app
        self.public = _netloc(public_url)

    def allowed(self, headers: Headers) -> bool:
        source = _netloc(headers.get("origin")) or _netloc(headers.get("referer"))
        host = (headers.get("host") or "").lower()
        return source is not None and source in {host, self.public}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookie_auth = (SESSION_COOKIE in cookie_parser(headers.get("cookie", ""))
                       and not headers.get("authorization"))
        page_form = not scope["path"].startswith("/api/")
        has_source = bool(headers.get("origin") or headers.get("referer"))
        if (cookie_auth or (page_form and has_source)) and not self.allowed(headers):
            resp = envelope(403, "auth.csrf", "a write authenticated by the session cookie must come from this "
                            "service's own pages (Origin/Referer check); reload the page and try again, or use "
                            "a bearer token", {"origin": headers.get("origin"), "referer": headers.get("referer")})
            await resp(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    """Mount the assets and add the middlewares and the HTML error handler (after api.errors.install)."""
    app.mount(ASSET_PREFIX, Assets(directory=str(STATIC)), name="assets")
    app.add_middleware(OriginCheck, public_url=app.state.settings.public_url)
    app.add_middleware(PageGZip)
    json_http = app.exception_handlers[StarletteHTTPException]

    async def http_error(request: Request, exc: StarletteHTTPException):  # noqa: ANN202
        if _wants_html(request) and exc.status_code in (403, 404, 405):
            return error_page(request, exc.status_code, v=viewer_of(request))
        return await json_http(request, exc)

    app.add_exception_handler(StarletteHTTPException, http_error)
