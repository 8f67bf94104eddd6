"""Authentication of ``POST /api/v1/score``: the same callers and rights, without a database write per payment.

A payment provider's gateway calls the score route hundreds of times a second
with one bearer token. The rest of the API looks the token up in the
operational store on every request (in a worker thread, as one write
transaction, because it notes the token's last use); at 500 payments a second
that alone would take more than a core. Here a token that the store accepted
is remembered by its SHA-256 for `ttl` seconds, then checked against the store
again (which also notes its last use, as before). So:

- an unknown, revoked or disabled token is refused by the store on every
  call (refusals are never cached);
- a token revoked, or a user disabled or given another role, while it is
  remembered is refused at most `ttl` seconds later by each worker (5 s by
  default; ``MONEYTRAIL_SCORE_TOKEN_TTL`` sets it, 0 turns the memory off);
- a browser session (cookie) is checked exactly as on every other route,
  CSRF header included.

Each call is also audited (:class:`ScoreAudit`), which this module batches.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from moneytrail.opstore.audit import record
from moneytrail.opstore.users import can
from moneytrail.web.auth import Caller, bearer_token
from moneytrail.web.deps import Requires, app_state, current_caller, write

DEFAULT_TTL = 5.0
MAX_TOKENS = 1024
PERMISSION = "score"


def ttl_from_env() -> float:
    raw = os.environ.get("MONEYTRAIL_SCORE_TOKEN_TTL", "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_TTL
    except ValueError:
        return DEFAULT_TTL


class ScoreCaller(Requires):
    """The FastAPI dependency of the score routes: the caller, who must have the `score` permission.

    Async, so FastAPI calls it on the event loop; the store is only reached
    (in a worker thread) when a token is not remembered or its time is up.
    """

    def __init__(self, ttl: float | None = None, clock: Any = time.monotonic) -> None:
        super().__init__(PERMISSION)
        self.ttl = ttl_from_env() if ttl is None else ttl
        self.clock = clock
        self._tokens: dict[str, tuple[Caller, float]] = {}

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        token = bearer_token(request.headers.get("authorization"))
        if token is None:  # a browser session: exactly the checks of every other route
            caller = await run_in_threadpool(current_caller, request)
        else:
            key = hashlib.sha256(token.encode()).hexdigest()
            hit = self._tokens.get(key)
            now = self.clock()
            if hit is not None and hit[1] > now:
                caller = hit[0]
            else:
                self._tokens.pop(key, None)
                caller = await run_in_threadpool(current_caller, request)  # 401 when unknown or revoked
                if self.ttl > 0:
                    if len(self._tokens) >= MAX_TOKENS:
                        self._tokens.clear()
                    self._tokens[key] = (caller, now + self.ttl)
        if not can(caller.role, PERMISSION):
            raise HTTPException(403, f"your role ({caller.role}) may not score")
        request.state.caller = caller
        return caller

    def forget(self) -> None:
        """Drop every remembered token (the next call of each checks the store again)."""
        self._tokens.clear()


@dataclass
class _Pending:
    calls: int = 0
    first: str = ""
    last: str = ""
    statuses: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    records: list[str] = field(default_factory=list)


class ScoreAudit:
    """The audit of score calls: one entry per caller and period, written by a background thread.

    A scoring gateway sends hundreds of payments a second; one audit entry per
    payment would serialise every call on the audit chain's head (one writer
    at a time) and write more audit than payments. The score route's answer
    carries what the last batch run says about the payment's parties, so the
    calls are audited all the same, as ``score.batch`` entries: per caller and
    `period` seconds, the number of calls, their time span, answers by status
    and decision, and the payments (provider:record) scored, up to
    `max_records` of them. What is lost if the process is killed is at most
    the last period's entry.
    """

    ACTION = "score.batch"

    def __init__(self, state: Any, period: float = 10.0, max_records: int = 10_000) -> None:
        self.state = state
        self.period = period
        self.max_records = max_records
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def note(self, caller: Caller, status: int, record_id: str | None, decision: str | None) -> None:
        """Remember one call (cheap: the event loop calls it)."""
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._lock:
            p = self._pending.setdefault(caller.username, _Pending(first=at))
            p.calls += 1
            p.last = at
            p.statuses[str(status)] += 1
            if decision:
                p.decisions[decision] += 1
            if record_id and len(p.records) < self.max_records:
                p.records.append(record_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="score-audit", daemon=True)
                self._thread.start()

    def flush(self) -> int:
        """Write what was noted since the last flush; the number of entries written."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for user, p in pending.items():
            details = {"calls": p.calls, "from": p.first, "to": p.last, "status": dict(p.statuses),
                       "decisions": dict(p.decisions), "payments": p.records,
                       "payments_left_out": p.calls - len(p.records) if p.calls > len(p.records) else 0}
            self._write(user, details)
        return len(pending)

    def _write(self, user: str, details: dict[str, Any]) -> None:
        write(self.state, lambda s: record(s, user, self.ACTION, "score", details=details))

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.flush()

    def close(self) -> None:
        """Stop the thread and write what is left (at shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.period + 5)
        self.flush()


def score_audit(request: Request) -> ScoreAudit | None:
    audit: ScoreAudit | None = getattr(request.app.state, "score_audit", None)
    return audit


__all__ = ["ScoreAudit", "ScoreCaller", "app_state", "score_audit"]
