"""Communities: the list (aggregates, shared) and one community's members (personal, audited)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from moneytrail.web.api.cases import case_refs_for
from moneytrail.web.api.schemas import CommunityDetailOut, CommunityOut, Page
from moneytrail.web.deps import Con, PageParams, PersonalCaller, State, audit, page_of, shared
from moneytrail.web.queries.communities import community_detail, community_page

router = APIRouter(tags=["network"])


@router.get("/communities", response_model=Page[CommunityOut], dependencies=[Depends(shared)])
def communities(
    state: State, con: Con, paging: PageParams,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    sort: Literal["-score", "score", "-members", "members", "-total_usd", "total_usd", "community_id"] = "-score",
) -> dict[str, Any]:
    """Payment communities (Leiden) with their size, roles, money and score."""
    items, total = community_page(state.reader, con, min_score, sort, paging.page, paging.page_size)
    return page_of(items, total, paging)


@router.get("/communities/{community_id}", response_model=CommunityDetailOut)
def community(community_id: Annotated[str, Path(max_length=64)], caller: PersonalCaller, state: State, con: Con
              ) -> dict[str, Any]:
    """A community's members, the payments between them and the cases that cover them."""
    out = community_detail(state.reader, con, community_id)
    refs = case_refs_for(state, [m["subject_id"] for m in out["member_list"]])
    out["cases"] = list({r["ref"]: r for r in refs.values()}.values())
    audit(state, caller, "community.read", f"community:{community_id}", details={"members": len(out["member_list"])})
    return out
