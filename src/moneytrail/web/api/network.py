"""The money network around a subject, and offender discovery from a seed (names: audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from moneytrail.web.api.schemas import ExpandOut, NetworkOut
from moneytrail.web.deps import Con, PersonalCaller, State, audit, utc
from moneytrail.web.queries.network import discover, neighbourhood

router = APIRouter(tags=["network"])


@router.get("/network/expand/{seed}", response_model=ExpandOut)
def network_expand(
    seed: Annotated[str, Path(max_length=200, description="subject id, account, email or phone")],
    caller: PersonalCaller, state: State, con: Con,
    top: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Subjects connected to the seed, ranked by personalised PageRank, with the path to each."""
    out = discover(state.reader, con, seed, top)
    audit(state, caller, "network.expand", f"seed:{seed}",
          details={"seed_subjects": out["seed_subjects"], "returned": len(out["connected"])})
    return out


@router.get("/network/{subject_id}", response_model=NetworkOut)
def network(
    subject_id: Annotated[str, Path(max_length=64)],
    caller: PersonalCaller, state: State, con: Con,
    hops: Annotated[int, Query(ge=1, le=4)] = 2,
    min_amount: Annotated[float, Query(ge=0, description="least USD an edge carried in all")] = 0.0,
    since: Annotated[datetime | None, Query(description="edges with payments on or after")] = None,
    until: Annotated[datetime | None, Query(description="edges with payments on or before")] = None,
    max_nodes: Annotated[int, Query(ge=1, le=2000)] = 200,
    p2p_only: Annotated[bool, Query(description="leave out shops and cash-out links")] = True,
) -> dict[str, Any]:
    """Subjects within `hops` payments of the subject, with the money between them."""
    out = neighbourhood(state.reader, con, subject_id, hops=hops, min_amount=min_amount, since=utc(since),
                        until=utc(until), max_nodes=max_nodes, p2p_only=p2p_only)
    audit(state, caller, "network.read", f"subject:{subject_id}",
          details={"hops": hops, "nodes": len(out["nodes"]), "edges": len(out["edges"])})
    return out
