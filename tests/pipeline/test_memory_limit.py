"""The warehouse keeps to a share of the machine's memory (DuckDB would take 80%), and a user can set it."""

from __future__ import annotations

from pathlib import Path

import pytest

from moneytrail.store import Warehouse


def _limit_gib(wh: Warehouse) -> float:
    size = wh.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    value, unit = size.split()
    return float(value) * {"MiB": 1 / 1024, "GiB": 1.0, "TiB": 1024.0}[unit]


def test_default_limit_is_under_half_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    monkeypatch.delenv("MONEYTRAIL_MEMORY_LIMIT", raising=False)
    plain = duckdb.connect()
    default = plain.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    plain.close()
    value, unit = default.split()
    duckdb_default = float(value) * {"MiB": 1 / 1024, "GiB": 1.0, "TiB": 1024.0}[unit]  # 80% of the machine
    with Warehouse(tmp_path / "w.duckdb") as wh:
        ours = _limit_gib(wh)
    assert ours == pytest.approx(duckdb_default * 45 / 80, rel=0.02)


def test_the_environment_sets_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONEYTRAIL_MEMORY_LIMIT", "2GiB")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        assert _limit_gib(wh) == pytest.approx(2.0, abs=0.05)


def test_a_bad_limit_says_what_to_give(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from moneytrail.errors import UserError

    monkeypatch.setenv("MONEYTRAIL_MEMORY_LIMIT", "lots")
    with pytest.raises(UserError, match="such as 8GB"):
        Warehouse(tmp_path / "w.duckdb")
