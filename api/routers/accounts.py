"""Login for the pages, users and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from api.deps import SESSION_COOKIE, Tx, get_session, principal, throttled, tx
from ledger.auth import Principal
from ledger.errors import Unauthenticated
from ledger.users import (
    Login,
    LoginLimits,
    TokenCreate,
    TokenIssued,
    TokenPublic,
    UserCreate,
    UserPublic,
    create_token,
    create_user,
    list_tokens,
    login,
    revoke_token,
    token_public,
    user_public,
)
from ledger.validation import DbId

router = APIRouter(tags=["accounts"])


@router.post("/auth/login", response_model=UserPublic, dependencies=[Depends(throttled)],
             summary="Password login; sets the page-session cookie (failed attempts are rate-limited)")
def do_login(body: Login, request: Request, s: Session = Depends(get_session)):
    settings = request.app.state.settings
    limits = LoginLimits.of(settings)
    try:
        user, clear = login(s, username=body.username, password=body.password, hours=settings.session_hours,
                            source_ip=request.client.host if request.client else None, limits=limits)
    except Unauthenticated:
        s.commit()  # the failed attempt counts towards the rate limit
        raise
    s.commit()
    resp = JSONResponse(user_public(user).model_dump())
    resp.set_cookie(SESSION_COOKIE, clear, httponly=True, samesite="lax", max_age=settings.session_hours * 3600,
                    secure=request.url.scheme == "https")
    return resp


@router.post("/auth/logout", summary="End the page session")
def do_logout(request: Request, t: Tx = Depends(tx)):
    def run(s, p):  # noqa: ANN001
        if p.token_id:
            revoke_token(s, principal=p, token_id=p.token_id)
        return {"ok": True}
    resp = t.run(run)
    resp.delete_cookie(SESSION_COOKIE)
    return resp


@router.get("/auth/me", response_model=UserPublic)
def me(s: Session = Depends(get_session), p: Principal = Depends(principal)):
    from ledger.accounts import User

    return user_public(s.get(User, p.user_id))


@router.post("/users", status_code=201, response_model=UserPublic,
             summary="Create a user bound to a unit, park or region within your scope")
def new_user(body: UserCreate, t: Tx = Depends(tx)):
    return t.run(lambda s, p: user_public(create_user(s, principal=p, data=body)), status=201)


@router.post("/tokens", status_code=201, response_model=TokenIssued,
             summary="Issue a bearer token (for a terminal or an integration); shown once")
def new_token(body: TokenCreate, t: Tx = Depends(tx)):
    def run(s, p):  # noqa: ANN001
        token, clear = create_token(s, principal=p, data=body)
        return token_public(token, clear)
    return t.run(run, status=201)


@router.get("/tokens", response_model=list[TokenPublic])
def my_tokens(s: Session = Depends(get_session), p: Principal = Depends(principal)):
    return [token_public(x) for x in list_tokens(s, principal=p)]


@router.post("/tokens/{token_id}/revoke", response_model=TokenPublic)
def revoke(token_id: DbId, t: Tx = Depends(tx)):
    return t.run(lambda s, p: token_public(revoke_token(s, principal=p, token_id=token_id)))
