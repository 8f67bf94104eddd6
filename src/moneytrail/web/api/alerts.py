"""GET /alerts: the review queue of flagged subjects."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from moneytrail.web.api.cases import case_refs_for, subjects_with_case
from moneytrail.web.api.schemas import AlertOut, Page
from moneytrail.web.deps import Con, PageParams, PersonalCaller, State, audit, page_of
from moneytrail.web.queries.alerts import AlertFilter, alert_page

router = APIRouter(tags=["alerts"])

AlertSort = Literal["score", "-score", "total_usd", "-total_usd", "payments", "-payments", "last_payment",
                    "-last_payment", "subject_id", "-subject_id"]
CaseState = Literal["new", "in_review", "escalated", "reported", "closed_tp", "closed_fp", "open", "none"]


@router.get("/alerts", response_model=Page[AlertOut])
def alerts(
    caller: PersonalCaller, state: State, con: Con, paging: PageParams,
    role: Annotated[Literal["consumer", "facilitator", "intermediary", "none"] | None, Query()] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    corridor: Annotated[str | None, Query(max_length=20, description="PH>US (or PH-US)")] = None,
    channel: Annotated[str | None, Query(max_length=20, description="agent, web, app, ecom, pos, moto")] = None,
    case_state: Annotated[CaseState | None, Query(alias="state", description="a case state, open, or none")] = None,
    q: Annotated[str | None, Query(max_length=100, description="subject id, or the start of a name")] = None,
    include_unflagged: bool = False,
    sort: AlertSort = "-score",
) -> dict[str, Any]:
    """Flagged subjects, riskiest first, with their corridors, channels and case."""
    f = AlertFilter(role=role, min_score=min_score, corridor=corridor, channel=channel, q=q,
                    include_unflagged=include_unflagged)
    if case_state == "none":
        f.except_subjects = subjects_with_case(state, None)
    elif case_state:
        f.only_subjects = subjects_with_case(state, case_state)
    items, total = alert_page(con, f, sort, paging.page, paging.page_size)
    refs = case_refs_for(state, [it["subject_id"] for it in items])
    for it in items:
        it["case"] = refs.get(it["subject_id"])
    audit(state, caller, "alerts.read", "alerts",
          details={"filters": {k: v for k, v in {"role": role, "min_score": min_score, "corridor": corridor,
                                                  "channel": channel, "state": case_state, "q": q}.items() if v},
                   "subjects": [it["subject_id"] for it in items]})
    return page_of(items, total, paging)
