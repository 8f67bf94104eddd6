"""``POST /score``: the real-time API, as a router the web application mounts.

``make_router(engine_provider, auth_dependency)`` returns a FastAPI
``APIRouter``; the web application mounts it under ``/api/v1`` with its own
authentication dependency (users, tokens, the ``score`` permission). The
router never authenticates by itself: every route depends on
`auth_dependency`, whatever it checks.

Request body (JSON)::

    {"provider": "remitco", "record": {...a remittance, wallet or card CSV row as JSON...}}
    {"provider": "atlasbank", "pacs008": "<Document xmlns=...>...</Document>"}

optional ``"format"`` (else found from the record's columns) and ``"timezone"``
(for timestamps without an offset). An XML body (``Content-Type:
application/xml``) is one pacs.008 message, with ``?provider=``.

Answers: 200 with the score, decision and reasons; 409 when the payment was
scored (or ingested) before; 422 when it cannot be read, with the reason the
batch quarantine would give; 400 for a malformed request.

`after` (optional) is awaited after each call that passed authentication,
with the request, the status and the answer (None unless 200), before the
answer leaves: the web application audits the calls there.

The route is kept lean because it is on a payment's critical path: the body
is read and parsed by hand (orjson) and the answer is not validated again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from moneytrail.errors import UserError
from moneytrail.realtime.engine import AlreadyScored, Engine
from moneytrail.realtime.payload import RejectedPayment


class Indicator(BaseModel):
    id: str
    title: str
    level: str
    on: str = Field(description="payment, sender or receiver")
    value: str | None
    threshold: str | None
    weight: float
    sources: str


class Party(BaseModel):
    subject_id: str
    resolved: bool = Field(description="the subject comes from the last batch resolution")
    last_batch: dict[str, Any] | None = Field(description="role, score and flag of the last batch run")


class ScoreAnswer(BaseModel):
    provider: str
    record_id: str
    score: float = Field(description="calibrated probability (0-1) that this is an abuse payment")
    decision: str = Field(description="allow, review or hold")
    decided_by: str = Field(description="'score', or the last batch run's flag on a party")
    reasons: list[str]
    indicators: list[Indicator]
    sender: Party
    receiver: Party
    thresholds: dict[str, float]
    elapsed_ms: float
    detail: dict[str, Any] | None = None


After = Callable[[Request, int, dict[str, Any] | None], Awaitable[None]]


class _Json(JSONResponse):
    """A JSON answer rendered by orjson (NaN as null), several times faster than the standard library."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def make_router(engine_provider: Callable[[], Engine], auth_dependency: Callable[..., Any],
                after: After | None = None) -> APIRouter:
    """The real-time routes; every one depends on `auth_dependency`."""
    router = APIRouter(dependencies=[Depends(auth_dependency)], tags=["real-time scoring"])

    # The answer is documented by ScoreAnswer but not validated again on the way out:
    # the engine builds it, and pydantic would cost a good part of the milliseconds.
    @router.post("/score", response_model=None, responses={200: {"model": ScoreAnswer}})
    async def score(
        request: Request,
        provider: str | None = Query(None, description="the sender of an XML body"),
        detail: bool = Query(False, description="add the feature rows behind the answer"),
    ) -> Response:
        """Score one payment and decide allow, review or hold."""
        return await answer(engine_provider, request, provider, detail, after)

    @router.get("/score/status")
    async def status() -> dict[str, Any]:
        """What the engine serves: warehouse, state, keys, thresholds."""
        return engine_provider().info()

    return router


async def answer(engine_provider: Callable[[], Engine], request: Request, provider: str | None, detail: bool,
                 after: After | None) -> Response:
    """The work of ``POST /score`` once the caller is known: read, score, tell `after`, answer.

    HTTPException for the refusals (400, 409, 422), as the route raises them.
    """
    result: dict[str, Any] | None = None
    status = 500
    try:
        result = _score(engine_provider(), await request.body(), request.headers.get("content-type", ""),
                        provider, detail)
        status = 200
    except HTTPException as exc:
        status = exc.status_code
        raise
    finally:
        if after is not None:
            await after(request, status, result)
    return _Json(result)


def _score(engine: Engine, raw: bytes, ctype: str, provider: str | None, detail: bool) -> dict[str, Any]:
    body: Any
    if "xml" in ctype:
        body = {"provider": provider, "pacs008": raw}
    else:
        try:
            body = orjson.loads(raw or b"null")
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, f"the body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise HTTPException(400, "the body must be a JSON object with 'provider' and 'record' or 'pacs008'")
    try:
        return engine.score(body, detail=detail)
    except AlreadyScored as exc:
        raise HTTPException(409, str(exc)) from None
    except RejectedPayment as exc:
        raise HTTPException(422, str(exc)) from None
    except UserError as exc:
        raise HTTPException(400, str(exc)) from None
