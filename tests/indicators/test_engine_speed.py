"""The faster evaluation of the catalogue gives what the self-join form gave.

Subject-level indicators used to read ``mt_subj`` (and ``mt_subg``) twice, joined to
itself on ``subject_id``, so that a condition could say ``s.`` (paying side) or ``r.``
(paid side) of the same row; the long table joined both again to the fires table.
Now one scan with ``r.`` read as ``s.`` evaluates them. These tests rebuild the old
form and require the same fires and the same long table, on the hand-made case of
every indicator (each fires at least once there).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from moneytrail.indicators import compute_indicators, load_catalogue
from moneytrail.indicators.config import build_config
from moneytrail.indicators.engine import one_alias, render, threshold_sql
from moneytrail.scoring import score

try:  # tests/ may or may not be a package
    from tests.indicators.builders import warehouse
    from tests.indicators.test_catalogue_fires import CASES, _namespaced
except ModuleNotFoundError:
    from indicators.builders import warehouse  # type: ignore[no-redef]
    from indicators.test_catalogue_fires import CASES, _namespaced  # type: ignore[no-redef]


def test_one_alias_reads_the_paid_side_as_the_same_row() -> None:
    assert one_alias("r.n_in_unrel >= {min_senders}") == "s.n_in_unrel >= {min_senders}"
    assert one_alias("regexp_matches(coalesce(r.r_name, ''), '{words}')") == (
        "regexp_matches(coalesce(s.r_name, ''), '{words}')")
    assert one_alias("s.max_xb_usd / nullif(r.min_xb_usd, 0)") == "s.max_xb_usd / nullif(s.min_xb_usd, 0)"
    # only an alias: a column or word ending in r is left alone
    assert one_alias("s.number.x + mr.x + t.r.x") == "s.number.x + mr.x + t.r.x"


def _old_fires(ind: Any, cfg: Any) -> str:
    if ind.id in cfg.disabled:
        return "0"
    return f"CASE WHEN coalesce(({render(ind, cfg, ind.fires)}), FALSE) THEN 1 ELSE 0 END"


def _rows(con: Any, sql: str) -> list[tuple[Any, ...]]:
    return sorted(con.execute(sql).fetchall(), key=repr)


@pytest.mark.parametrize("disabled", [[], ["MT40", "MT55"]])
def test_subject_fires_and_long_table_match_the_self_join_form(disabled: list[str]) -> None:
    rows = [row for i, case in CASES.items() for row in _namespaced(i, case[0]())]
    wh = warehouse(None, rows)
    cfg = build_config({"disabled": disabled} if disabled else None)
    cat = load_catalogue()
    con = wh.con
    try:
        compute_indicators(con, cfg)
        subj = cat.by_level("sender") + cat.by_level("receiver")
        net = cat.by_level("network")
        for table, fires_table, inds in (("mt_subj", "mt_subi", subj), ("mt_subg", "mt_subgi", net)):
            cols = ", ".join(f"{_old_fires(i, cfg)} AS f_{i.id}" for i in inds)
            old = _rows(con, f"SELECT s.subject_id, {cols} FROM {table} s JOIN {table} r ON r.subject_id = s.subject_id")
            assert old == _rows(con, f"SELECT * FROM {fires_table}")
        parts = [
            f"SELECT s.subject_id, '{i.id}', CAST(({render(i, cfg, i.value)}) AS VARCHAR), {threshold_sql(i, cfg)} "
            f"FROM {table} s JOIN {table} r ON r.subject_id = s.subject_id "
            f"JOIN {fires_table} si ON si.subject_id = s.subject_id WHERE si.f_{i.id} = 1"
            for table, fires_table, inds in (("mt_subj", "mt_subi", subj), ("mt_subg", "mt_subgi", net))
            for i in inds
        ]
        old_long = _rows(con, " UNION ALL ".join(parts))
        assert old_long == _rows(con, "SELECT * FROM subject_indicators")
        fired = {r[1] for r in old_long}
        # the comparison means something: indicators of both aliases and both tables fired
        assert {"MT20", "MT41", "MT53"} <= fired
        assert not fired & set(disabled)
    finally:
        wh.close()


class _Recorder:
    """The connection ``score`` sees, keeping the text of each CREATE ... AS statement."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.sql: dict[str, str] = {}

    def execute(self, sql: str, params: object = None) -> Any:
        m = re.match(r"\s*CREATE OR REPLACE (?:TEMP )?TABLE (\w+) AS", sql)
        if m:
            self.sql[m.group(1)] = sql
        return self.con.execute(sql, params or [])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


def test_model_features_match_the_unfiltered_joins() -> None:
    """mt_txf joins only the subjects with a fire: rebuilt with the plain joins, it is the same."""
    rows = [row for i, case in CASES.items() for row in _namespaced(i, case[0]())]
    wh = warehouse(None, rows)
    con = wh.con
    try:
        rec = _Recorder(con)
        score(rec, build_config())  # type: ignore[arg-type]
        sql = re.sub(r"\(SELECT \* FROM mt_subi WHERE [^)]*\)", "mt_subi", rec.sql["mt_txf"])
        assert sql != rec.sql["mt_txf"]
        con.execute(sql.replace("TABLE mt_txf AS", "TABLE old_mt_txf AS", 1))
        assert _rows(con, "SELECT * FROM mt_txf") == _rows(con, "SELECT * FROM old_mt_txf")
        # the comparison means something: subjects with and without fires, on both sides
        fired = con.execute("SELECT max(f_MT40), min(f_MT40), max(o_MT44), max(f_MT20) FROM mt_txf").fetchone()
        assert fired == (1, 0, 1, 1)
    finally:
        wh.close()


def test_pair_counts_equal_the_window() -> None:
    """mt_tx counts a pair's payments by a grouped count joined back: the window's values, every row kept."""
    rows = [row for i, case in CASES.items() for row in _namespaced(i, case[0]())]
    wh = warehouse(None, rows)
    con = wh.con
    try:
        compute_indicators(con, build_config())
        got = _rows(con, "SELECT provider, record_id, pair_n FROM mt_txi")
        want = _rows(con, "SELECT provider, record_id, count(*) OVER (PARTITION BY sender_id, receiver_id) FROM mt_txi")
        assert got == want
        assert con.execute("SELECT count(*) FROM transactions").fetchone() == (len(got),)
        assert max(r[2] for r in got) > 1  # the comparison means something: pairs paid more than once
    finally:
        wh.close()


def test_transaction_fires_stay_out_of_the_store(tmp_path: Any) -> None:
    """mt_txi is the stage's temporary table; one an older version left in the store is dropped."""
    import duckdb

    from moneytrail.store import Warehouse

    rows = [row for i, case in CASES.items() for row in _namespaced(i, case[0]())]
    wh = warehouse(tmp_path, rows)
    path = wh.path
    try:
        wh.con.execute("CREATE TABLE mt_txi AS SELECT 1 AS stale")
        score(wh.con, build_config())
        where = wh.con.execute("SELECT table_catalog FROM information_schema.tables WHERE table_name = 'mt_txi'").fetchall()
        assert where == [("temp",)]
        assert wh.con.execute("SELECT count(*) FROM mt_txi WHERE f_MT01 = 1").fetchone() != (0,)
    finally:
        wh.close()
    with Warehouse(path) as again:
        names = {r[0] for r in again.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert "mt_txi" not in names and {"transaction_scores", "transaction_indicators", "mt_txf"} <= names
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM transaction_indicators").fetchone() != (0,)
