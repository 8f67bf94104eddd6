"""The audit trail: entries, newest first, and the check of its hash chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select

from moneytrail.opstore.audit import entries, verify
from moneytrail.opstore.models import AuditEntry
from moneytrail.web.api.schemas import AuditEntryOut, AuditVerifyOut, Page
from moneytrail.web.deps import PageParams, State, audit_read, page_of

router = APIRouter(tags=["audit"], dependencies=[Depends(audit_read)])


@router.get("/audit", response_model=Page[AuditEntryOut])
def audit_entries(
    state: State, paging: PageParams,
    target: Annotated[str | None, Query(max_length=200, description="e.g. case:C-000001 or subject:S000123")] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64, description="an action or its prefix, e.g. case.")] = None,
) -> dict[str, Any]:
    """Who did what, when, to what."""
    q = select(func.count()).select_from(AuditEntry)
    if target:
        q = q.where(AuditEntry.target == target)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if action:
        q = q.where(AuditEntry.action.startswith(action, autoescape=True))
    with state.ops.session() as s:
        total = s.scalar(q) or 0
        items = [
            {"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target, "before": e.before,
             "after": e.after, "details": e.details, "hash": e.hash}
            for e in entries(s, target=target, actor=actor, action=action, limit=paging.page_size,
                             offset=(paging.page - 1) * paging.page_size)
        ]
    return page_of(items, total, paging)


@router.get("/audit/verify", response_model=AuditVerifyOut)
def audit_verify(state: State) -> dict[str, Any]:
    """Walk the hash chain from the first entry and report every break."""
    with state.ops.session() as s:
        got = verify(s)
    return {"ok": got.ok, "entries": got.entries, "problems": got.problems}
