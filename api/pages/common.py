"""What every page shares: the templates, the viewer (who is logged in, or whose session expired), rendering
with the security headers, the role's home page, and the route class that turns refusals into pages.

Pages read through the domain services (server-side) and write through the JSON API from small scripts, so
there is one write path: the API's unit of work with its Idempotency-Key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from alerts.settings import TIER_NAMES as ALERT_TIER_NAMES
from api.deps import SESSION_COOKIE, get_session
from api.routers.manifests import STATUS_NAMES
from ledger.accounts import User, find_token
from ledger.auth import Principal
from ledger.db import reader
from ledger.errors import InvalidInput, LedgerError
from ledger.workdays import SHANGHAI

HERE = Path(__file__).parent
STATIC = HERE / "static"
ASSET_PREFIX = "/assets"

ROLE_NAMES = {"operator": "称重员", "unit_admin": "单位管理员", "driver": "驾驶员", "receiver_operator": "收料员",
              "park_manager": "园区管理员", "regulator": "监管人员", "admin": "平台管理员"}
RECORD_KINDS = {"generated": "产生", "stored": "入库", "retrieved": "出库", "used_in_house": "自行利用",
                "disposed_in_house": "自行处置", "shipped": "委外转移", "received": "接收", "refused": "拒收",
                "returned": "退回", "corrected": "更正"}
BATCH_STATUS = {"generated": "已产生", "stored": "在库", "partly_stored": "部分在库", "retrieved": "已出库",
                "in_transit": "运输中", "closed": "已办结"}
MANIFEST_STATUS = STATUS_NAMES  # one vocabulary with the API's status_name
ACCEPTANCE = {"accepted": "接收", "partially_refused": "部分拒收", "refused": "拒收"}
# Content-Security-Policy of every page: nothing but our own scripts, styles and images; no inline script.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'; "
       "object-src 'none'")


def _local(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC instant (or its ISO text, as the API's JSON gives it) as Shanghai wall-clock time."""
    if isinstance(value, str) and value:
        value = datetime.fromisoformat(value)
    return value.astimezone(SHANGHAI).strftime(fmt) if value else ""


def form_day(value: str | None, field: str) -> date | None:
    """A date typed in a page's filter form (YYYY-MM-DD), None when left empty; anything else is refused (422)."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{field} 应为日期，如 2026-01-31", field=field) from None


def kg(value: Decimal | int | float | str | None) -> str:
    """A mass in kg without trailing zeros (164.500 → 164.5)."""
    if value is None or value == "":
        return ""
    d = Decimal(str(value))
    text = f"{d:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


_asset_versions: dict[str, str] = {}


def asset(name: str) -> str:
    """The URL of a static asset, versioned by its content so it can be cached for a year."""
    v = _asset_versions.get(name)
    if v is None:
        v = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]
        _asset_versions[name] = v
    return f"{ASSET_PREFIX}/{name}?v={v}"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(local=_local, kg=kg)
    env.globals.update(asset=asset, ROLE_NAMES=ROLE_NAMES, RECORD_KINDS=RECORD_KINDS, BATCH_STATUS=BATCH_STATUS,
                       MANIFEST_STATUS=MANIFEST_STATUS, ACCEPTANCE=ACCEPTANCE, ALERT_TIERS=ALERT_TIER_NAMES)
    return env


templates = Jinja2Templates(env=_env())


# ---- who is looking ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Viewer:
    """The person behind a page request: a principal, or nobody (with `expired` when a session ran out)."""

    principal: Principal | None = None
    display_name: str = ""
    expires_at: datetime | None = None
    expired: bool = False
    cookie: bool = False

    @property
    def role(self) -> str | None:
        return self.principal.role if self.principal else None


def viewer(request: Request, s: Session = Depends(get_session)) -> Viewer:
    """Who is logged in, from the session cookie (or a bearer token); a stale session is anonymous + expired."""
    header = request.headers.get("authorization", "")
    clear = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(SESSION_COOKIE)
    if not clear:
        return Viewer()
    found = find_token(s, clear=clear)
    if found is None:
        return Viewer(expired=True, cookie=not header)
    token, user = found
    p = Principal.of(user, token_id=token.id, source_ip=request.client.host if request.client else None,
                     user_agent=request.headers.get("user-agent"))
    return Viewer(principal=p, display_name=user.display_name, expires_at=token.expires_at, cookie=not header)


def viewer_of(request: Request) -> Viewer:
    """The viewer, outside dependency injection (for error pages)."""
    with Session(reader(request.app.state.engine)) as s:
        return viewer(request, s)


class LoginRequired(Exception):
    """Raised by a page that needs a login; the page route answers with a redirect to /login."""

    def __init__(self, expired: bool = False):
        self.expired = expired


def login_required(v: Viewer = Depends(viewer)) -> Viewer:
    if v.principal is None:
        raise LoginRequired(expired=v.expired)
    return v


def home_of(p: Principal) -> str:
    """Where a role lands after login."""
    if p.role == "park_manager" and p.park_id:
        return f"/console/parks/{p.park_id}"
    if p.role in ("admin", "regulator", "park_manager"):
        return "/console"
    if p.role == "unit_admin":
        return f"/unit/{p.unit_id}"
    if p.role == "operator":
        return "/station"
    return "/m"


def safe_next(value: str | None) -> str | None:
    """A same-site path to go back to after login (never another host)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    return value


# ---- rendering -----------------------------------------------------------------------------------

def secure(response: Response, *, cache: str = "private, no-store") -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = cache
    return response


def render(request: Request, template: str, ctx: dict[str, Any] | None = None, *, v: Viewer | None = None,
           status: int = 200, cache: str = "private, no-store") -> HTMLResponse:
    """Render a page with the viewer and the security headers."""
    context = {"viewer": v or Viewer(), "path": request.url.path, **(ctx or {})}
    return secure(templates.TemplateResponse(request, template, context, status_code=status), cache=cache)


ERROR_TEXT = {
    403: ("无权访问", "您的账号角色不能进行此操作。请用有权限的账号登录，或联系本单位管理员开通权限。"),
    404: ("未找到", "您要找的内容不存在，或不在您的查看范围内。请核对编号或链接。"),
    409: ("状态已变化", "该记录刚被其他人修改。请刷新页面后重试。"),
    422: ("输入有误", "请检查输入后重试。"),
}


def error_page(request: Request, status: int, detail: str | None = None, v: Viewer | None = None) -> HTMLResponse:
    """A page that says what went wrong and what to do next."""
    title, advice = ERROR_TEXT.get(status, ("出错了", "请稍后重试；如果问题一直存在，请联系平台管理员。"))
    return render(request, "error.html", {"status": status, "title": title, "advice": advice, "detail": detail},
                  v=v, status=status)


def login_redirect(request: Request, *, expired: bool) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = f"/login?next={quote(target, safe='')}" + ("&expired=1" if expired else "")
    return RedirectResponse(url, status_code=303)


class PageRoute(APIRoute):
    """A page route: refusals become pages (404/403 explain what to do), a missing login a redirect."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as e:
                return login_redirect(request, expired=e.expired)
            except LedgerError as e:
                if e.status == 401:
                    return login_redirect(request, expired=True)
                return error_page(request, e.status, e.message, v=viewer_of(request))

        return run


def page_user(s: Session, p: Principal) -> User | None:
    return s.get(User, p.user_id)
