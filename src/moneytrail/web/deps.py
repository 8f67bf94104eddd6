"""FastAPI dependencies: the app's state, the warehouse cursor, the caller and their rights.

`Requires("read_personal")` is both the dependency that refuses a role (403) and a
label the tests read to know which permission each route needs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import duckdb
from fastapi import Depends, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from moneytrail.opstore import OpsStore
from moneytrail.opstore.audit import record
from moneytrail.opstore.models import User
from moneytrail.opstore.users import can, user_for_token
from moneytrail.web.auth import (
    COOKIE,
    CSRF_HEADER,
    SAFE_METHODS,
    Caller,
    SessionSigner,
    bearer_token,
    csrf_ok,
)
from moneytrail.web.queries.reader import WarehouseReader

MAX_PAGE_SIZE = 500
SHARED = ("read_shared", "read_personal")  # aggregates without personal data: every role reads them


@dataclass
class AppState:
    reader: WarehouseReader
    ops: OpsStore
    signer: SessionSigner
    cookie_secure: bool = False


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.moneytrail
    return state


def warehouse(request: Request) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of its own for this request (temporary tables stay private to it)."""
    with app_state(request).reader.connect() as con:
        yield con


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def current_caller(request: Request) -> Caller:
    """The user behind the bearer token or the session cookie; 401 without either."""
    state = app_state(request)
    token = bearer_token(request.headers.get("authorization"))
    if token:
        def check(s: Session) -> Caller | None:
            user = user_for_token(s, token)  # notes when the token was last used: a write
            return None if user is None else Caller(user.id, user.username, user.role, "bearer")

        caller = write(state, check)
        if caller is None:
            raise _unauthorised("the bearer token is unknown or revoked; issue a new one with POST /api/v1/auth/tokens")
        return caller
    data = state.signer.read(request.cookies.get(COOKIE))
    if data is None:
        raise _unauthorised("sign in first: POST /api/v1/auth/login, or send `Authorization: Bearer TOKEN`")
    with state.ops.session() as s:
        user = s.get(User, data.user_id)
        if user is None or not user.active:
            raise _unauthorised("this account is no longer active; sign in again")
        cookie_caller = Caller(user.id, user.username, user.role, "cookie", data.csrf)
    if request.method not in SAFE_METHODS and not csrf_ok(data.csrf, request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header; use the csrf_token from login or GET /me")
    return cookie_caller


CallerDep = Annotated[Caller, Depends(current_caller)]


class Requires:
    """A dependency that lets the caller through when their role has any of `permissions`."""

    def __init__(self, *permissions: str):
        self.permissions = permissions

    def __call__(self, caller: CallerDep) -> Caller:
        if not any(can(caller.role, p) for p in self.permissions):
            need = " or ".join(p.replace("_", " ") for p in self.permissions)
            raise HTTPException(403, f"your role ({caller.role}) may not {need}")
        return caller

    def __repr__(self) -> str:
        return f"Requires{self.permissions}"


personal = Requires("read_personal")
shared = Requires(*SHARED)
cases_read = Requires("read_cases")
cases_edit = Requires("edit_case")
cases_assign = Requires("assign_case")
audit_read = Requires("read_audit")
scorer = Requires("score")

PersonalCaller = Annotated[Caller, Depends(personal)]
SharedCaller = Annotated[Caller, Depends(shared)]
Con = Annotated[duckdb.DuckDBPyConnection, Depends(warehouse)]
State = Annotated[AppState, Depends(app_state)]


@dataclass
class Paging:
    page: int
    page_size: int


def paging(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="page number, from 1")] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"items per page, at most {MAX_PAGE_SIZE}")] = 50,
) -> Paging:
    return Paging(page, page_size)


PageParams = Annotated[Paging, Depends(paging)]


def page_of(items: list[Any], total: int, p: Paging) -> dict[str, Any]:
    return {"items": items, "total": total, "page": p.page, "page_size": p.page_size}


_WRITES = threading.Lock()
T = TypeVar("T")


def write(state: AppState, work: Callable[[Session], T], attempts: int = 5) -> T:
    """Run `work` in one transaction of the operational store, one writer at a time.

    Every change appends to the audit chain, whose head two writers must not both extend:
    PostgreSQL serialises them with an advisory lock, SQLite would fail the second with a
    stale snapshot or a duplicate `prev_hash`. So writes of this process take turns, and a
    race lost to another process is retried (the failed transaction was rolled back whole).
    """
    for attempt in range(attempts):
        try:
            with _WRITES, state.ops.session() as s:
                return work(s)
        except (IntegrityError, OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


def audit(state: AppState, caller: Caller, action: str, target: str, details: Any = None) -> None:
    """One audit entry for a read of personal data, committed before the data leaves the server."""
    write(state, lambda s: record(s, caller.username, action, target, details=details))


def load_user(session: Session, caller: Caller) -> User:
    """The caller as a `User` of this database session (for the case workflow's functions)."""
    user = session.scalar(select(User).where(User.id == caller.id))
    if user is None:
        raise HTTPException(401, "this account no longer exists; sign in again")
    return user


def utc(at: datetime | None) -> datetime | None:
    """A query's time as naive UTC, the way the warehouse stores times."""
    if at is None or at.tzinfo is None:
        return at
    return at.astimezone(UTC).replace(tzinfo=None)
