"""A count by a grouped CTE joined back on its keys is read as the window it equals (mt_tx's pair_n)."""

from __future__ import annotations

import pytest

from moneytrail.indicators import build_config
from moneytrail.realtime.definitions import _ctes, _parse, grouped_counts, load_definitions
from moneytrail.realtime.sqlcompile import UnsupportedSql

SQL = """WITH base AS (SELECT * FROM t), pair AS (
    SELECT sender_id, receiver_id, count(*) AS pair_n FROM base GROUP BY sender_id, receiver_id)
SELECT b.*, pn.pair_n FROM base b {join} pair pn ON {on}"""
ON = "pn.sender_id = b.sender_id AND pn.receiver_id = b.receiver_id"


def _counts(join: str = "JOIN", on: str = ON, sql: str = SQL) -> dict[tuple[str, str], str]:
    tree = _parse(sql.format(join=join, on=on))
    return {k: w.sql("duckdb") for k, w in grouped_counts(tree, _ctes(tree)).items()}


def test_the_join_is_the_partition_count() -> None:
    want = {("pn", "pair_n"): "COUNT(*) OVER (PARTITION BY b.sender_id, b.receiver_id)"}
    assert _counts() == want
    assert _counts(on="b.receiver_id = pn.receiver_id AND b.sender_id = pn.sender_id") == want


@pytest.mark.parametrize("join, on, sql", [
    ("LEFT JOIN", ON, SQL),  # a left join can leave a row without its count
    ("JOIN", "pn.sender_id = b.sender_id", SQL),  # joined on part of the key only
    ("JOIN", "pn.sender_id = b.receiver_id AND pn.receiver_id = b.sender_id", SQL),  # keys crossed
    ("JOIN", ON, SQL.replace("count(*) AS pair_n", "sum(amount) AS pair_n")),  # not a count
    ("JOIN", ON, SQL.replace("FROM base GROUP BY", "FROM base WHERE amount > 0 GROUP BY")),  # a filtered count
])
def test_other_shapes_stop_start_up(join: str, on: str, sql: str) -> None:
    with pytest.raises(UnsupportedSql):
        _counts(join, on, sql)


def test_the_batch_pair_count_is_a_sender_window() -> None:
    """The batch mt_tx joins its pair counts; real time keeps them as the window, per sender."""
    defs = load_definitions(build_config())
    assert "JOIN pair pn" in defs.sql["mt_tx"]
    assert [(w.kind, w.partition) for w in defs.tx_windows] == [("count", ("sender_id", "receiver_id"))]
