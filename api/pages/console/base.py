"""What every console section shares: who may enter, the navigation, the unit page's extra panels.

A section is one route module with a `router` (paths under /console) that registers its navigation entry with
`nav(...)` and, if it adds something to a unit's page, a panel function with `unit_panel(...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Depends, Request
from sqlmodel import Session

from api.pages.common import Viewer, login_required, render
from ledger.auth import Principal
from ledger.errors import Forbidden
from ledger.registry.models import Unit

CONSOLE_ROLES = ("regulator", "admin", "park_manager")


@dataclass(frozen=True)
class NavItem:
    key: str
    title: str
    href: str
    order: int = 50


@dataclass
class Panel:
    """A block on the console's unit page: a template and its context (e.g. the unit's 固废码)."""

    template: str
    ctx: dict = field(default_factory=dict)
    order: int = 50


NAV: list[NavItem] = []
UNIT_PANELS: list[Callable[[Session, Principal, Unit], Panel | None]] = []


def nav(key: str, title: str, href: str, order: int = 50) -> None:
    """Add an entry to the console's navigation (once per key)."""
    if all(n.key != key for n in NAV):
        NAV.append(NavItem(key, title, href, order))
        NAV.sort(key=lambda n: n.order)


def unit_panel(fn: Callable[[Session, Principal, Unit], Panel | None]) -> Callable:
    """Register a function that adds a panel to the console's unit page (return None to add nothing)."""
    if fn not in UNIT_PANELS:
        UNIT_PANELS.append(fn)
    return fn


def console_viewer(v: Viewer = Depends(login_required)) -> Viewer:
    """Regulators, park managers (their park's units) and platform admins."""
    if v.principal.role not in CONSOLE_ROLES:
        raise Forbidden("监管控制台供监管人员、园区管理员使用；单位用户请使用本单位页面。", code="auth.forbidden")
    return v


def render_console(request: Request, template: str, ctx: dict, *, v: Viewer, active: str, status: int = 200):
    """Render a console page with its navigation."""
    return render(request, template, {"nav": NAV, "active": active, **ctx}, v=v, status=status)
