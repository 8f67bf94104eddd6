"""Health, signing in and out, the caller, machine tokens, and the indicator catalogue."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response
from sqlalchemy import text
from sqlalchemy.orm import Session

from moneytrail import __version__
from moneytrail.indicators import load_catalogue
from moneytrail.opstore.audit import record
from moneytrail.opstore.users import PERMISSIONS, authenticate, issue_token
from moneytrail.web.api.schemas import (
    CatalogueIndicatorOut,
    HealthOut,
    LoginIn,
    LoginOut,
    OkOut,
    TokenIn,
    TokenOut,
    UserOut,
)
from moneytrail.web.auth import COOKIE, Caller
from moneytrail.web.deps import CallerDep, State, load_user, write

router = APIRouter()


def _user_out(caller: Caller) -> UserOut:
    return UserOut(id=caller.id, username=caller.username, role=caller.role,  # type: ignore[arg-type]
                   permissions=sorted(PERMISSIONS.get(caller.role, frozenset())))


@router.get("/health", response_model=HealthOut, tags=["service"])
def health(state: State) -> HealthOut:
    """Whether the server can read the warehouse and reach the operational store (no sign-in needed)."""
    ops_ok = True
    try:
        with state.ops.session() as s:
            s.execute(text("SELECT 1"))
    except Exception:
        ops_ok = False
    wh_ok = state.reader.has("subject_scores")
    return HealthOut(status="ok" if ops_ok and wh_ok else "degraded", version=__version__, warehouse=wh_ok,
                     ops_store=ops_ok)


@router.post("/auth/login", response_model=LoginOut, tags=["session"],
             responses={401: {"description": "wrong username or password"}})
def login(body: LoginIn, response: Response, state: State) -> LoginOut:
    """Check the password, set the session cookie, and hand out the CSRF token for POSTs."""
    def check(s: Session) -> Caller | None:
        user = authenticate(s, body.username, body.password)  # may rehash the password: a write
        if user is None:
            return None
        record(s, user.username, "auth.login", f"user:{user.username}")
        return Caller(user.id, user.username, user.role, "cookie")

    caller = write(state, check)
    if caller is None:
        raise HTTPException(401, "wrong username or password (or the account is disabled)")
    value, csrf = state.signer.new(caller.id)
    response.set_cookie(COOKIE, value, max_age=state.signer.max_age, httponly=True, samesite="strict",
                        secure=state.cookie_secure, path="/")
    return LoginOut(user=_user_out(caller), csrf_token=csrf)


@router.post("/auth/logout", response_model=OkOut, tags=["session"])
def logout(caller: CallerDep, response: Response, state: State) -> OkOut:
    """Clear the session cookie."""
    write(state, lambda s: record(s, caller.username, "auth.logout", f"user:{caller.username}"))
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=state.cookie_secure)
    return OkOut()


@router.get("/me", response_model=LoginOut, tags=["session"])
def me(caller: CallerDep) -> LoginOut:
    """The signed-in user, and the CSRF token of this session (empty for a bearer token)."""
    return LoginOut(user=_user_out(caller), csrf_token=caller.csrf or "")


@router.post("/auth/tokens", response_model=TokenOut, tags=["session"])
def new_token(body: TokenIn, caller: CallerDep, state: State) -> TokenOut:
    """A bearer token acting as the caller, for a machine; shown once."""
    def issue(s: Session) -> str:
        token = issue_token(s, load_user(s, caller), body.name)
        record(s, caller.username, "auth.token", f"user:{caller.username}", details={"name": body.name})
        return token

    token = write(state, issue)
    return TokenOut(name=body.name, token=token)


@router.get("/indicators", response_model=list[CatalogueIndicatorOut], tags=["service"])
def indicators(caller: CallerDep) -> list[CatalogueIndicatorOut]:
    """The published indicator catalogue: what each reason id means and where it comes from."""
    return [
        CatalogueIndicatorOut(id=i.id, title=i.title, role=i.role, level=i.level, definition=i.definition,
                              threshold=i.threshold, sources=[s.model_dump() for s in i.source_refs],  # type: ignore[misc]
                              cite=i.cite())
        for i in load_catalogue().indicators
    ]
