"""Login, logout and the role's home: a plain HTML form (works without JavaScript) on the same login service and
session cookie as POST /api/v1/auth/login."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from api.deps import SESSION_COOKIE, get_session
from api.pages.common import PageRoute, Viewer, home_of, login_required, render, safe_next, viewer
from ledger.errors import LedgerError
from ledger.users import login, revoke_token

router = APIRouter(route_class=PageRoute)


@router.get("/login")
def login_form(request: Request, next: str | None = None, expired: int = 0, bye: int = 0,
               v: Viewer = Depends(viewer)):
    if v.principal is not None and not expired:
        return RedirectResponse(safe_next(next) or home_of(v.principal), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "expired": bool(expired or v.expired),
                                          "bye": bool(bye), "hours": request.app.state.settings.session_hours})


@router.post("/login")
def login_submit(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form(""),
                 s: Session = Depends(get_session)):
    settings = request.app.state.settings
    try:
        user, clear = login(s, username=username.strip(), password=password, hours=settings.session_hours,
                            source_ip=request.client.host if request.client else None)
    except LedgerError:
        s.rollback()
        return render(request, "login.html", {"next": safe_next(next), "username": username,
                                              "error": "用户名或密码不正确。", "hours": settings.session_hours},
                      status=401)
    s.commit()
    from ledger.auth import Principal

    resp = RedirectResponse(safe_next(next) or home_of(Principal.of(user)), status_code=303)
    resp.set_cookie(SESSION_COOKIE, clear, httponly=True, samesite="lax", max_age=settings.session_hours * 3600,
                    secure=request.url.scheme == "https", path="/")
    return resp


@router.post("/logout")
def logout(request: Request, s: Session = Depends(get_session), v: Viewer = Depends(viewer)):
    if v.principal is not None and v.principal.token_id and v.cookie:
        revoke_token(s, principal=v.principal, token_id=v.principal.token_id)
        s.commit()
    resp = RedirectResponse("/login?bye=1", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/home")
def home(v: Viewer = Depends(login_required)):
    return RedirectResponse(home_of(v.principal), status_code=303)
