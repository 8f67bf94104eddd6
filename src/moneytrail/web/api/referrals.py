"""Platform referrals and pivots from an account, email or phone to the money (audited)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from moneytrail.web.api.schemas import Page, PivotOut, ReferralDetailOut, ReferralOut
from moneytrail.web.deps import Con, PageParams, PersonalCaller, State, audit, page_of
from moneytrail.web.queries.referrals import pivot, referral_detail, referral_page

router = APIRouter(tags=["referrals"])


@router.get("/referrals", response_model=Page[ReferralOut])
def referrals(
    caller: PersonalCaller, state: State, con: Con, paging: PageParams,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    linked: bool | None = None,
) -> dict[str, Any]:
    """Referrals from platforms, newest first, with how many of their accounts link to payments."""
    items, total = referral_page(state.reader, con, platform, linked, paging.page, paging.page_size)
    return page_of(items, total, paging)


@router.get("/referrals/{report_id}", response_model=ReferralDetailOut)
def referral(report_id: Annotated[str, Path(max_length=128)], caller: PersonalCaller, state: State, con: Con
             ) -> dict[str, Any]:
    """One referral: its accounts with identifiers and links to payment subjects, and its sessions."""
    out = referral_detail(state.reader, con, report_id)
    audit(state, caller, "referral.read", f"referral:{report_id}")
    return out


@router.get("/pivot", response_model=PivotOut)
def pivot_route(
    caller: PersonalCaller, state: State, con: Con,
    kind: Literal["account", "email", "phone"],
    value: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Everything around one platform account, email or phone (`moneytrail pivot --json`)."""
    out = pivot(state.reader, con, kind, value, limit)
    audit(state, caller, "pivot.read", f"{kind}:{value}",
          details={"subjects": [s.get("subject_id") for s in out.get("subjects", [])]})
    return out
