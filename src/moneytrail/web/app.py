"""The web application: REST API under /api/v1 and the workspace pages, in one process."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from moneytrail import __version__
from moneytrail.errors import UserError
from moneytrail.opstore import OpsStore
from moneytrail.opstore.users import Forbidden
from moneytrail.web.api import api_router
from moneytrail.web.api.schemas import ErrorOut
from moneytrail.web.auth import SessionSigner, server_secret
from moneytrail.web.deps import AppState, app_state
from moneytrail.web.queries import NotFound
from moneytrail.web.queries.reader import WarehouseReader

API_PREFIX = "/api/v1"
log = logging.getLogger("moneytrail.web")


def _error(status: int, detail: str, errors: list[dict[str, Any]] | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body = ErrorOut(status=status, detail=detail, errors=errors or []).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return _error(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"][1:] if len(first["loc"]) > 1 else first["loc"])
        return _error(422, f"{where}: {first['msg']}" if where else str(first["msg"]), errors)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return _error(403, str(exc))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal error; the server log has the details")


def _mount_realtime(app: FastAPI, state: AppState) -> bool:
    """POST /score from `moneytrail.realtime`, when that package is installed.

    Mounted before the rest of the API, so a payment does not walk its routes to find
    its own, with its own authentication (`score_auth`: the same callers and rights,
    bearer tokens remembered for a few seconds) and batched audit. The engine warms its
    state from the warehouse on the first call (once per process), so a server whose
    users never score pays nothing for it. ``MONEYTRAIL_REALTIME_REDIS`` (a Redis URL)
    keeps the state in Redis, shared by the workers, under ``MONEYTRAIL_REALTIME_NAMESPACE``.
    """
    try:
        from moneytrail.realtime.api import answer, make_router
        from moneytrail.realtime.engine import Engine
        from moneytrail.realtime.state import RedisStore
    except ImportError:
        return False
    from starlette.concurrency import run_in_threadpool

    from moneytrail.web.deps import audit
    from moneytrail.web.score_auth import ScoreAudit, ScoreCaller

    def build() -> Engine:
        url = os.environ.get("MONEYTRAIL_REALTIME_REDIS")
        store = RedisStore(url, os.environ.get("MONEYTRAIL_REALTIME_NAMESPACE", "moneytrail:rt")) if url else None
        return Engine.from_warehouse(state.reader.path, store=store)

    def engine() -> Engine:
        return state.reader.cached("realtime-engine", build)

    calls = ScoreAudit(state)

    async def audited(request: Request, status: int, result: dict[str, Any] | None) -> None:
        caller = request.state.caller
        target = f"payment:{result['provider']}:{result['record_id']}" if result else None
        if caller.via == "bearer":  # a machine: batched (see ScoreAudit)
            calls.note(caller, status, target, result["decision"] if result else None)
        elif result is not None:  # a person: one entry per call, committed before the answer leaves
            details = {"decision": result["decision"], "score": result["score"],
                       "subjects": [result["sender"]["subject_id"], result["receiver"]["subject_id"]]}
            await run_in_threadpool(audit, state, caller, "score", target or "score", details)

    app.state.score_audit = calls
    app.state.score_caller = ScoreCaller()
    app.include_router(make_router(engine, app.state.score_caller, audited), prefix=API_PREFIX)
    app.add_middleware(_ScoreFastPath, auth=app.state.score_caller,
                       handle=lambda request: answer(engine, request, None, False, audited))
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with previous(a) as value:
            try:
                yield value
            finally:
                calls.close()  # the last period's entries

    app.router.lifespan_context = lifespan
    return True


class _ScoreFastPath:
    """``POST /api/v1/score`` without a query string, straight to its handler.

    The same authentication (`ScoreCaller`), handler, audit and error answers as the
    route, without FastAPI's routing and dependency solving: a third of a scored
    payment's CPU time on this path. Anything else (``?detail=true``, an XML body
    with ``?provider=``, other routes) goes through the application as usual, and
    the route stays in the OpenAPI document.
    """

    PATH = f"{API_PREFIX}/score"

    def __init__(self, app: Any, auth: Any, handle: Any) -> None:
        self.app, self.auth, self.handle = app, auth, handle

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.PATH or scope["method"] != "POST" or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            await self.auth(request)
            response = await self.handle(request)
        except StarletteHTTPException as exc:  # as the application's handler answers them
            detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
            response = _error(exc.status_code, detail, headers=getattr(exc, "headers", None))
        await response(scope, receive, send)


_SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                     (b"referrer-policy", b"same-origin")]


def _install_security_headers(app: FastAPI) -> None:
    """No framing, no MIME sniffing, no referrer leaving the site, no caching of API answers.

    A plain ASGI middleware: Starlette's `@app.middleware("http")` runs every request
    through a task group and memory streams, a good part of a millisecond per payment.
    """
    app.add_middleware(_SecurityHeaders)


class _SecurityHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith(API_PREFIX)

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                extra = [*_SECURITY_HEADERS, (b"cache-control", b"no-store")] if api else _SECURITY_HEADERS
                headers += [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    warehouse: Path,
    ops_url: str | None = None,
    *,
    ops_store: OpsStore | None = None,
    secret_key: str | None = None,
    cookie_secure: bool | None = None,
    ui: bool = True,
) -> FastAPI:
    """The application serving `warehouse` (read-only) with users, cases and audit in `ops_url`.

    The first start on a warehouse builds its read cache (`queries/facts.py`) beside it.
    `cookie_secure` (default: `$MONEYTRAIL_SECURE_COOKIE` is 1) marks the session cookie
    Secure, for a server behind HTTPS.
    """
    if cookie_secure is None:
        cookie_secure = os.environ.get("MONEYTRAIL_SECURE_COOKIE", "") == "1"
    reader = WarehouseReader(Path(warehouse))
    ops = ops_store or OpsStore(ops_url)
    state = AppState(reader=reader, ops=ops, signer=SessionSigner(server_secret(secret_key)),
                     cookie_secure=cookie_secure)

    app = FastAPI(
        title="moneytrail",
        version=__version__,
        description="Trace the payments behind live-streamed child sexual abuse: the investigator's REST API.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut},
                   422: {"model": ErrorOut}},
    )
    app.state.moneytrail = state
    _install_error_handlers(app)
    state_realtime = _mount_realtime(app, state)
    _install_security_headers(app)  # after: it wraps the score route's fast path too
    app.include_router(api_router(), prefix=API_PREFIX)
    app.state.realtime = state_realtime
    if ui:
        try:
            from moneytrail.web.ui import mount_ui
        except ImportError:
            pass
        else:
            mount_ui(app)
    return app


__all__ = ["API_PREFIX", "app_state", "create_app"]
