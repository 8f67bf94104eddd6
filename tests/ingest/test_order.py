"""`unordered`: preserve_insertion_order off for a block, then as it was (also after an error)."""

from __future__ import annotations

import duckdb
import pytest

from moneytrail.ingest.order import unordered


def _setting(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0])


def test_unordered_turns_the_setting_off_and_restores_it() -> None:
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    with unordered(con):
        assert not _setting(con)
    assert _setting(con)
    with pytest.raises(RuntimeError), unordered(con):
        raise RuntimeError("boom")
    assert _setting(con)
    con.execute("SET preserve_insertion_order = false")
    with unordered(con):
        assert not _setting(con)
    assert not _setting(con)  # left as it was
