"""Resolution keeps the warehouse's DuckDB to a smaller memory budget, and gives it back."""

from __future__ import annotations

from pathlib import Path

import duckdb

from moneytrail.resolve.run import _memory_budget, _memory_bytes
from moneytrail.store import Warehouse


def _limit(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])


def test_budget_lowers_the_limit_and_restores_it_without_drift(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb", memory_limit="10GB") as wh:
        before = _limit(wh.con)
        for _ in range(3):  # a limit shown rounded down must not creep down run after run
            with _memory_budget(wh.con):
                inside = _memory_bytes(wh.con)
                assert inside is not None and inside < _memory_bytes(wh.con, "10GB")  # type: ignore[operator]
            assert _limit(wh.con) == before


def test_a_lower_limit_of_the_user_is_kept(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb", memory_limit="300MB") as wh:
        before = _limit(wh.con)
        with _memory_budget(wh.con):
            assert _limit(wh.con) == before
        assert _limit(wh.con) == before
