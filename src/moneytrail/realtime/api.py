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
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
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


def make_router(engine_provider: Callable[[], Engine], auth_dependency: Callable[..., Any]) -> APIRouter:
    """The real-time routes; every one depends on `auth_dependency`."""
    router = APIRouter(dependencies=[Depends(auth_dependency)], tags=["real-time scoring"])

    # The answer is documented by ScoreAnswer but not validated again on the way out:
    # the engine builds it, and pydantic would cost a good part of the milliseconds.
    @router.post("/score", response_model=None, responses={200: {"model": ScoreAnswer}})
    async def score(
        request: Request,
        provider: str | None = Query(None, description="the sender of an XML body"),
        detail: bool = Query(False, description="add the feature rows behind the answer"),
    ) -> JSONResponse:
        """Score one payment and decide allow, review or hold."""
        raw = await request.body()
        ctype = request.headers.get("content-type", "")
        body: Any
        if "xml" in ctype:
            body = {"provider": provider, "pacs008": raw}
        else:
            try:
                body = json.loads(raw or b"null")
            except ValueError as exc:
                raise HTTPException(400, f"the body is not JSON: {exc}") from None
            if not isinstance(body, dict):
                raise HTTPException(400, "the body must be a JSON object with 'provider' and 'record' or 'pacs008'")
        engine = engine_provider()
        try:
            return JSONResponse(engine.score(body, detail=detail))
        except AlreadyScored as exc:
            raise HTTPException(409, str(exc)) from None
        except RejectedPayment as exc:
            raise HTTPException(422, str(exc)) from None
        except UserError as exc:
            raise HTTPException(400, str(exc)) from None

    @router.get("/score/status")
    async def status() -> dict[str, Any]:
        """What the engine serves: warehouse, state, keys, thresholds."""
        return engine_provider().info()

    return router
