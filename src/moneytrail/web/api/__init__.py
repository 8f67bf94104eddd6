"""The REST API's routers, one module per resource, assembled by `api_router()`."""

from __future__ import annotations

from fastapi import APIRouter


def api_router() -> APIRouter:
    from moneytrail.web.api import (
        alerts,
        audit,
        cases,
        communities,
        geography,
        network,
        referrals,
        runs,
        session,
        subjects,
        transactions,
        trends,
    )

    router = APIRouter()
    for module in (session, runs, alerts, subjects, transactions, network, communities, geography, referrals,
                   cases, audit, trends):
        router.include_router(module.router)
    return router
