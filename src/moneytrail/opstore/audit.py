"""The audit trail: append-only, each entry hashing the one before.

An edited entry no longer matches its hash; a deleted one breaks the next
entry's link. Deleting the newest entries leaves a shorter valid chain, which
only an anchor kept elsewhere reveals: ``verify`` reports the head hash, and
``moneytrail audit verify --expect HASH`` checks that it is still in the chain.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from moneytrail.opstore.models import AuditEntry

GENESIS = "0" * 64


def _jsonable(value: Any) -> Any:
    return None if value is None else json.loads(json.dumps(value, default=str, sort_keys=True))


def _utc_naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def entry_hash(prev_hash: str, at: datetime, actor: str, action: str, target: str,
               before: Any, after: Any, details: Any) -> str:
    body = json.dumps(
        [prev_hash, _utc_naive(at).isoformat(timespec="microseconds"), actor, action, target, before, after, details],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _lock_chain(session: Session) -> None:
    """One writer at a time appends (PostgreSQL); SQLite serialises writers itself."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(4242001)"))


def record(session: Session, actor: str, action: str, target: str, *, before: Any = None,
           after: Any = None, details: Any = None, flush: bool = True) -> AuditEntry:
    """Append one entry in the caller's transaction: it lands with the change it describes.

    Within one transaction the chain's head is remembered, so a batch of entries
    (``flush=False``) costs one lookup; the unit of work inserts them in the order given.
    """
    txn = session.get_transaction()
    cached = session.info.get("audit_head")
    if cached is not None and cached[0] is txn:
        prev = cached[1]
    else:
        _lock_chain(session)
        prev = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS
    at = datetime.now(UTC)
    before, after, details = _jsonable(before), _jsonable(after), _jsonable(details)
    entry = AuditEntry(
        at=at, actor=actor, action=action, target=target, before=before, after=after, details=details,
        prev_hash=prev, hash=entry_hash(prev, at, actor, action, target, before, after, details),
    )
    session.add(entry)
    session.info["audit_head"] = (txn, entry.hash)
    if flush:
        session.flush()
    return entry


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    head: str
    problems: list[str] = field(default_factory=list)


def verify(session: Session, expect: str | None = None) -> VerifyResult:
    """Walk the chain from the first entry; report every break."""
    problems: list[str] = []
    prev = GENESIS
    seen: set[str] = set()
    n = 0
    for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
        n += 1
        if e.prev_hash != prev:
            problems.append(f"entry {e.id}: does not follow the entry before it (an entry was deleted or inserted)")
        if entry_hash(e.prev_hash, e.at, e.actor, e.action, e.target, e.before, e.after, e.details) != e.hash:
            problems.append(f"entry {e.id}: its content does not match its hash (the entry was edited)")
        prev = e.hash
        seen.add(e.hash)
    if expect and expect not in seen:
        problems.append(f"anchor {expect[:12]}... is not in the chain (entries were removed from its end)")
    return VerifyResult(not problems, n, prev, problems)


def entries(session: Session, target: str | None = None, limit: int = 200, offset: int = 0,
            actor: str | None = None, action: str | None = None) -> list[AuditEntry]:
    q = select(AuditEntry).order_by(AuditEntry.id.desc())
    if target:
        q = q.where(AuditEntry.target == target)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if action:
        q = q.where(AuditEntry.action.startswith(action))
    return list(session.scalars(q.offset(offset).limit(limit)))
