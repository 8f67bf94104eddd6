"""GET /runs: what the served warehouse holds, and the runs synchronised into the case store."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import select

from moneytrail.opstore.models import Run
from moneytrail.web.api.schemas import RunsOut
from moneytrail.web.deps import Con, State, shared
from moneytrail.web.queries.runs import current_run

router = APIRouter(tags=["runs"])


@router.get("/runs", response_model=RunsOut, dependencies=[Depends(shared)])
def runs(state: State, con: Con) -> dict[str, Any]:
    """Counts, time span, files and stage timings of the warehouse; synchronised runs, newest first."""
    with state.ops.session() as s:
        synced = [
            {"id": r.id, "warehouse": r.warehouse, "synced_at": r.synced_at, "synced_by": r.synced_by,
             "created": r.created, "updated": r.updated, "unchanged": r.unchanged}
            for r in s.scalars(select(Run).order_by(Run.id.desc()).limit(100))
        ]
    return {"current": current_run(state.reader, con), "synced": synced}
