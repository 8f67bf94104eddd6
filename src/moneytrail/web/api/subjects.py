"""A subject: its page, its transactions and its timeline (personal data, every read audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from sqlalchemy import select

from moneytrail.opstore.models import Run, ScoreHistory
from moneytrail.web.api.cases import case_refs_for
from moneytrail.web.api.schemas import Page, SubjectOut, TimelineOut, TransactionOut
from moneytrail.web.deps import (
    AppState,
    Con,
    PageParams,
    PersonalCaller,
    State,
    audit,
    page_of,
    utc,
)
from moneytrail.web.queries import NotFound
from moneytrail.web.queries.subjects import exists, subject_detail, timeline
from moneytrail.web.queries.transactions import TxFilter, transaction_page

router = APIRouter(tags=["subjects"])

SubjectId = Annotated[str, Path(max_length=64, description="a subject id such as S000123")]
TxSort = Literal["ts_utc", "-ts_utc", "score", "-score", "amount_usd", "-amount_usd"]


def score_history(state: AppState, subject_id: str) -> list[dict[str, Any]]:
    with state.ops.session() as s:
        got = s.execute(
            select(ScoreHistory, Run.synced_at).join(Run, Run.id == ScoreHistory.run_id)
            .where(ScoreHistory.subject_id == subject_id).order_by(Run.id)
        ).all()
        return [{"run_id": h.run_id, "at": at, "role": h.role, "score": h.score, "flagged": h.flagged}
                for h, at in got]


@router.get("/subjects/{subject_id}", response_model=SubjectOut)
def subject(subject_id: SubjectId, caller: PersonalCaller, state: State, con: Con) -> dict[str, Any]:
    """Identifiers, records by provider, indicators with values and sources, score history, cases."""
    out = subject_detail(state.reader, con, subject_id)
    out["score_history"] = score_history(state, subject_id)
    ref = case_refs_for(state, [subject_id]).get(subject_id)
    out["cases"] = [ref] if ref else []
    audit(state, caller, "subject.read", f"subject:{subject_id}")
    return out


@router.get("/subjects/{subject_id}/transactions", response_model=Page[TransactionOut])
def subject_transactions(
    subject_id: SubjectId, caller: PersonalCaller, state: State, con: Con, paging: PageParams,
    direction: Literal["sent", "received"] | None = None,
    flagged: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_amount: Annotated[float | None, Query(ge=0)] = None,
    sort: TxSort = "-ts_utc",
) -> dict[str, Any]:
    """The subject's payments, sent and received, newest first."""
    if not exists(con, subject_id):
        raise NotFound(f"no subject {subject_id!r} in this warehouse")
    f = TxFilter(subject_id=subject_id, direction=direction, flagged=flagged, since=utc(since), until=utc(until),
                 min_amount=min_amount)
    items, total = transaction_page(state.reader, con, f, sort, paging.page, paging.page_size)
    audit(state, caller, "subject.transactions", f"subject:{subject_id}",
          details={"page": paging.page, "transactions": len(items)})
    return page_of(items, total, paging)


@router.get("/subjects/{subject_id}/timeline", response_model=TimelineOut)
def subject_timeline(
    subject_id: SubjectId, caller: PersonalCaller, state: State, con: Con,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 2000,
) -> dict[str, Any]:
    """Payments beside the platform sessions and logins of the referral accounts linked to the subject."""
    out = timeline(state.reader, con, subject_id, utc(since), utc(until), limit)
    audit(state, caller, "subject.timeline", f"subject:{subject_id}")
    return out
