"""The web application: REST API under /api/v1 and the workspace pages, in one process."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
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
from moneytrail.web.deps import AppState, app_state, scorer
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


def _mount_realtime(router: APIRouter, state: AppState) -> bool:
    """POST /score from `moneytrail.realtime`, when that package is installed.

    The engine warms its state from the warehouse on the first call (once per process),
    so a server whose users never score pays nothing for it.
    """
    try:
        from moneytrail.realtime.api import make_router
        from moneytrail.realtime.engine import Engine
    except ImportError:
        return False

    def engine() -> Engine:
        return state.reader.cached("realtime-engine", lambda: Engine.from_warehouse(state.reader.path))

    router.include_router(make_router(engine, scorer))
    return True


def _install_security_headers(app: FastAPI) -> None:
    """No framing, no MIME sniffing, no referrer leaving the site, no caching of API answers."""
    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.url.path.startswith(API_PREFIX):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


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
    _install_security_headers(app)
    router = api_router()
    state_realtime = _mount_realtime(router, state)
    app.include_router(router, prefix=API_PREFIX)
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
