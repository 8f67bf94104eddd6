"""The API on a PostgreSQL operational store (127.0.0.1:5432), a fresh database for this module."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import fresh_postgres_database
from tests.web.conftest import API, login, seed_ops


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_postgres_database("mt_web") as url:
        yield url


@pytest.fixture(scope="module")
def pg_app(pg_url: str, api_warehouse: Path):  # type: ignore[no-untyped-def]
    from moneytrail.web.app import create_app

    seed_ops(pg_url, api_warehouse)
    app = create_app(api_warehouse, pg_url, secret_key="pg-secret-" + "y" * 32)
    assert app.state.moneytrail.ops.engine.dialect.name == "postgresql"
    return app


def test_sign_in_work_a_case_and_verify_the_audit_on_postgresql(pg_app) -> None:  # type: ignore[no-untyped-def]
    ana, sue = login(pg_app, "ana"), login(pg_app, "sue")
    ref = ana.get(f"{API}/cases", params={"state": "new", "page_size": 1}).json()["items"][0]["ref"]
    assert ana.post(f"{API}/cases/{ref}/state", json={"state": "in_review"}).json()["state"] == "in_review"
    assert sue.post(f"{API}/cases/{ref}/assign", json={"username": "ana"}).json()["assignee"] == "ana"
    assert ana.post(f"{API}/cases/{ref}/comments", json={"text": "checked"}).status_code == 200
    assert ana.post(f"{API}/cases/{ref}/state", json={"state": "reported"}).status_code == 409
    sid = ana.get(f"{API}/alerts", params={"page_size": 1}).json()["items"][0]["subject_id"]
    assert ana.get(f"{API}/subjects/{sid}").status_code == 200
    reads = sue.get(f"{API}/audit", params={"target": f"subject:{sid}", "action": "subject.read"}).json()
    assert reads["total"] == 1 and reads["items"][0]["actor"] == "ana"
    assert ana.post(f"{API}/auth/logout").status_code == 200
    assert ana.get(f"{API}/me").status_code == 401
    check = sue.get(f"{API}/audit/verify").json()
    assert check["ok"] and check["entries"] >= 6


def test_concurrent_audited_reads_keep_one_chain(pg_app) -> None:  # type: ignore[no-untyped-def]
    """Audit entries written by parallel requests (PostgreSQL serialises the chain's head)."""
    ana, sue = login(pg_app, "ana"), login(pg_app, "sue")
    ids = [a["subject_id"] for a in ana.get(f"{API}/alerts", params={"page_size": 8}).json()["items"]]
    clients = [TestClient(pg_app, cookies=ana.cookies) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda i: clients[i % 4].get(f"{API}/subjects/{ids[i]}").status_code, range(len(ids))))
    assert codes == [200] * len(ids)
    check = sue.get(f"{API}/audit/verify").json()
    assert check["ok"], check["problems"]
