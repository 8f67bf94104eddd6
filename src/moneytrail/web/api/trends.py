"""GET /trends: the trends dashboard's data (aggregates of flagged activity, no personal data)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from moneytrail.web.api.schemas import TrendsOut
from moneytrail.web.deps import Con, State, shared

router = APIRouter(tags=["trends"])


@router.get("/trends", response_model=TrendsOut, dependencies=[Depends(shared)])
def trends(state: State, con: Con, months: Annotated[int, Query(ge=1, le=120)] = 12) -> dict[str, Any]:
    """Flagged activity month by month per corridor, channel, amount band and typology, and what rises."""
    try:
        from moneytrail.web.queries.trends import trends_data
    except ImportError:
        return {"available": False, "data": {}}
    if not state.reader.has("transaction_scores"):
        return {"available": False, "data": {}}
    return {"available": True, "data": trends_data(state.reader, con, months)}
