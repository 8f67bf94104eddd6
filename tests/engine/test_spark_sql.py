"""The DuckDB -> Spark rewrites that SQLGlot alone does not make (no Spark needed)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moneytrail.engine.spark_sql import _ACCENTS_FROM, _ACCENTS_TO, transpile
from moneytrail.errors import UserError
from moneytrail.pipeline.run import run_batch


def test_accent_map_matches_duckdb_strip_accents() -> None:
    con = duckdb.connect()
    stripped = con.execute("SELECT strip_accents(?)", [_ACCENTS_FROM]).fetchone()
    assert stripped is not None
    assert stripped[0] == _ACCENTS_TO
    assert "é" in _ACCENTS_FROM and "ñ" in _ACCENTS_FROM


@settings(deadline=None)  # a DuckDB connection per example: over 200 ms on a loaded machine
@given(st.text(alphabet=st.sampled_from(_ACCENTS_FROM + "abcxyz ,.-"), max_size=30))
def test_translate_strips_like_duckdb(text: str) -> None:
    con = duckdb.connect()
    expected = con.execute("SELECT strip_accents(?)", [text]).fetchone()
    table = str.maketrans(_ACCENTS_FROM, _ACCENTS_TO)
    assert expected is not None and text.translate(table) == expected[0]


@pytest.mark.parametrize(
    ("duckdb_sql", "needles"),
    [
        ("SELECT date_diff('minute', a, b) FROM t", ["FLOOR(UNIX_SECONDS", "/ 60"]),
        ("SELECT date_diff('year', a, b) FROM t", ["YEAR(b) - YEAR(a)"]),
        ("SELECT hash(a, b) FROM t", ["XXHASH64(a, b, a IS NULL, b IS NULL)"]),
        ("SELECT len(list_intersect(a, b)) FROM t", ["SIZE(ARRAY_INTERSECT(a, b))"]),
        ("SELECT length(list_filter(a, lambda x: x <> '')) FROM t", ["SIZE(FILTER("]),
        ("SELECT t - INTERVAL (60) SECOND FROM t", ["INTERVAL '60' SECOND"]),
        ("SELECT min((a, b)) FROM t", ["MIN(STRUCT(a, b))"]),
        ("SELECT (a, b) IN (SELECT (c, d) FROM u) FROM t", ["IN (SELECT c, d FROM u)"]),
        ("SELECT list(x ORDER BY n DESC)[1:3] FROM t", ["SLICE(CASE WHEN SIZE(TRANSFORM(ARRAY_SORT(COLLECT_LIST(NAMED_STRUCT(", "END, 1, 3)"]),
        ("SELECT any_value(x) FILTER (WHERE y) FROM t", ["FIRST(x, TRUE) FILTER(WHERE y)"]),
        ("SELECT list_has_any(a, b) FROM t", ["ARRAYS_OVERLAP(a, b)"]),
    ],
)
def test_rewrites(duckdb_sql: str, needles: list[str]) -> None:
    spark_sql = transpile(duckdb_sql)
    for needle in needles:
        assert needle in spark_sql, spark_sql


def test_two_generators_become_one_inline() -> None:
    sql = transpile("SELECT pid, unnest(toks) AS t, generate_subscripts(toks, 1) AS i FROM p")
    assert "INLINE(ARRAYS_ZIP(toks, SEQUENCE(1, SIZE(toks)))) AS (t, i)" in sql
    assert "GENERATE_SUBSCRIPTS" not in sql


def test_unknown_engine_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown engine 'flink'; use one of duckdb, spark"):
        run_batch(tmp_path, tmp_path / "out", engine="flink")
