"""The read cache beside the warehouse: built once, reused, rebuilt when the warehouse changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from moneytrail.web.queries.facts import cache_path, ensure_cache


def test_cache_is_built_once_and_follows_the_warehouse(api_warehouse: Path, tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(api_warehouse, wh)
    first = ensure_cache(wh)
    assert first is not None and first.parent == tmp_path and first == cache_path(wh)
    built_at = first.stat().st_mtime_ns
    assert ensure_cache(wh) == first and first.stat().st_mtime_ns == built_at  # reused, not rebuilt

    con = duckdb.connect(str(first), read_only=True)
    got = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"web_sp", "web_st", "web_ends", "web_subjects", "web_adj"} <= got
    # sorted by subject: what makes a subject's page read one or two row groups
    ids = [r[0] for r in con.execute("SELECT subject_id FROM web_st").fetchall()]
    assert ids == sorted(ids)
    n_cached = con.execute("SELECT count(*) FROM web_subjects").fetchone()[0]  # type: ignore[index]
    con.close()
    src = duckdb.connect(str(wh), read_only=True)
    assert n_cached == src.execute("SELECT count(*) FROM subject_scores").fetchone()[0]  # type: ignore[index]
    src.close()

    rw = duckdb.connect(str(wh))  # the warehouse changes (a later run)
    rw.execute("CREATE TABLE later_run AS SELECT 1 AS x")
    rw.close()
    second = ensure_cache(wh)
    assert second is not None and second != first and second.is_file()
    assert not first.exists()  # the stale cache is gone


def test_a_file_without_the_ledger_gets_empty_tables(tmp_path: Path) -> None:
    from moneytrail.web.queries.alerts import AlertFilter, alert_page
    from moneytrail.web.queries.reader import WarehouseReader

    con = duckdb.connect(str(tmp_path / "other.duckdb"))
    con.execute("CREATE TABLE notes AS SELECT 1 AS x")
    con.close()
    assert ensure_cache(tmp_path / "other.duckdb") is None
    reader = WarehouseReader(tmp_path / "other.duckdb")
    with reader.connect() as cur:
        assert alert_page(cur, AlertFilter(), "-score", 1, 50) == ([], 0)
    reader.close()


def test_the_api_answers_on_a_warehouse_before_any_run(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from moneytrail.opstore import OpsStore
    from moneytrail.opstore.users import create_user
    from moneytrail.store import Warehouse
    from moneytrail.web.app import create_app
    from tests.web.conftest import API, PASSWORD

    with Warehouse(tmp_path / "w.duckdb"):
        pass
    ops_url = f"sqlite:///{tmp_path / 'ops.db'}"
    store = OpsStore(ops_url)
    with store.session() as s:
        create_user(s, "ana", PASSWORD, "analyst")
    store.dispose()
    c = TestClient(create_app(tmp_path / "w.duckdb", ops_url, secret_key="e" * 40))
    c.headers["X-CSRF-Token"] = c.post(f"{API}/auth/login", json={"username": "ana", "password": PASSWORD}).json()["csrf_token"]
    assert c.get(f"{API}/alerts").json()["total"] == 0
    assert c.get(f"{API}/runs").json()["current"]["transactions"] == 0
    assert c.get(f"{API}/corridors").json()["items"] == []
    assert c.get(f"{API}/transactions").json()["total"] == 0
    # nothing scored yet: no such subject, or (when the stage tables were never created) what to run
    for path in ("/subjects/S000001", "/network/S000001"):
        r = c.get(API + path)
        assert (r.status_code, "moneytrail run" in r.json()["detail"]) in ((400, True), (404, False)), r.text
