"""GET /transactions: the ledger, filtered and paged (personal data: names and accounts)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from moneytrail.web.api.schemas import Page, TransactionOut
from moneytrail.web.api.subjects import TxSort
from moneytrail.web.deps import Con, PageParams, PersonalCaller, State, audit, page_of, utc
from moneytrail.web.queries.transactions import TxFilter, transaction_page

router = APIRouter(tags=["transactions"])


@router.get("/transactions", response_model=Page[TransactionOut])
def transactions(
    caller: PersonalCaller, state: State, con: Con, paging: PageParams,
    provider: Annotated[str | None, Query(max_length=64)] = None,
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    flagged: bool | None = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    min_amount: Annotated[float | None, Query(ge=0)] = None,
    max_amount: Annotated[float | None, Query(ge=0)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    corridor: Annotated[str | None, Query(max_length=20, description="PH>US (or PH-US)")] = None,
    channel: Annotated[str | None, Query(max_length=20)] = None,
    txn_type: Annotated[str | None, Query(max_length=40)] = None,
    sort: TxSort = "-ts_utc",
) -> dict[str, Any]:
    """Transactions with both ends and the score, newest first."""
    f = TxFilter(provider=provider, subject_id=subject_id, flagged=flagged, min_score=min_score,
                 min_amount=min_amount, max_amount=max_amount, since=utc(since), until=utc(until), corridor=corridor,
                 channel=channel, txn_type=txn_type)
    items, total = transaction_page(state.reader, con, f, sort, paging.page, paging.page_size)
    audit(state, caller, "transactions.read", f"subject:{subject_id}" if subject_id else "transactions",
          details={"page": paging.page, "records": [f"{t['provider']}:{t['record_id']}" for t in items]})
    return page_of(items, total, paging)
