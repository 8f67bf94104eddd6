"""Corridors (country pairs, for the map) and places where facilitators collect."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from moneytrail.opstore.users import can
from moneytrail.web.api.schemas import CorridorOut, Page, PlaceOut
from moneytrail.web.deps import Con, PageParams, SharedCaller, State, page_of

router = APIRouter(tags=["geography"])


@router.get("/corridors", response_model=Page[CorridorOut])
def corridors(
    caller: SharedCaller, state: State, con: Con, paging: PageParams,
    flagged_only: bool = False,
    min_payments: Annotated[int, Query(ge=1)] = 1,
) -> dict[str, Any]:
    """Sending and receiving country pairs with payments, money and flagged payments, and map coordinates."""
    from moneytrail.web.queries.geography import corridor_page

    items, total = corridor_page(state.reader, con, flagged_only, min_payments, paging.page, paging.page_size)
    return page_of(items, total, paging)


@router.get("/places", response_model=Page[PlaceOut])
def places(
    caller: SharedCaller, state: State, con: Con, paging: PageParams,
    kind: Literal["city", "agent", "country"] | None = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
) -> dict[str, Any]:
    """Where flagged facilitators collect, ranked; subject ids only for roles that read personal data."""
    from moneytrail.web.queries.geography import place_page

    items, total = place_page(state.reader, con, kind, country, can(caller.role, "read_personal"),
                              paging.page, paging.page_size)
    return page_of(items, total, paging)
