"""The SQL compiler against DuckDB itself: random expressions, random rows with NULLs."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import duckdb
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moneytrail.indicators import build_config
from moneytrail.realtime import aggregates as agg
from moneytrail.realtime.definitions import load_definitions
from moneytrail.realtime.sqlcompile import Scope, UnsupportedSql, compile_expression

CON = duckdb.connect()
SCOPE = Scope({"t": None}, default="t")

ints = st.one_of(st.none(), st.integers(-50, 50))
floats = st.one_of(st.none(), st.sampled_from([-2.5, 0.0, 0.5, 1.0, 3.25, 100.0, 1e-3]))
texts = st.one_of(st.none(), st.sampled_from(["", "x", "y", "X Y", "xy", "a x", "Z"]))
bools = st.one_of(st.none(), st.booleans())


def _num(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"(-{c})"),
        st.tuples(children, children).map(lambda t: f"coalesce({t[0]}, {t[1]})"),
        st.tuples(children, children).map(lambda t: f"nullif({t[0]}, {t[1]})"),
        st.tuples(children, children).map(lambda t: f"greatest({t[0]}, {t[1]})"),
        st.tuples(children, children).map(lambda t: f"least({t[0]}, {t[1]})"),
        st.tuples(_bool_leaf, children, children).map(lambda t: f"CASE WHEN {t[0]} THEN {t[1]} ELSE {t[2]} END"),
        children.map(lambda c: f"CAST({c} AS DOUBLE)"),
    )


_num_leaf = st.sampled_from(["a", "b", "1", "0", "2.5", "-3", "CAST(b AS BIGINT)", "(a % 7)", "NULL"])
_bool_leaf = st.sampled_from([
    "p", "s = 'x'", "s IN ('x', 'y')", "s IS NULL", "s IS NOT NULL", "a >= 3", "b < 1.0",
    "regexp_matches(coalesce(s, ''), '(^|[^a-z0-9])(x|y)([^a-z0-9]|$)')",
    "list_has_any(string_split(s, ' '), string_split('x q', ' '))", "a BETWEEN 0 AND 10",
])
numbers = st.recursive(_num_leaf, _num, max_leaves=6)


def _bool(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, children).map(lambda t: f"({t[0]} AND {t[1]})"),
        st.tuples(children, children).map(lambda t: f"({t[0]} OR {t[1]})"),
        children.map(lambda c: f"(NOT {c})"),
        st.tuples(numbers, st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), numbers).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(numbers, numbers, numbers).map(lambda t: f"({t[0]} BETWEEN {t[1]} AND {t[2]})"),
        children.map(lambda c: f"coalesce({c}, FALSE)"),
    )


booleans = st.recursive(_bool_leaf, _bool, max_leaves=5)
strings = st.sampled_from([
    "s", "lower(s)", "s || 'z'", "coalesce(s, 'q')", "concat_ws(';', s, 'k', NULL)", "CAST(a AS VARCHAR)",
    "CASE WHEN p THEN 'yes' END", "'u:' || s || ':' || coalesce(s, 'n')",
])


def _duck(expr: str, row: dict[str, Any]) -> Any:
    sql = (f"SELECT {expr} FROM (SELECT CAST($a AS INTEGER) AS a, CAST($b AS DOUBLE) AS b, "
           f"CAST($s AS VARCHAR) AS s, CAST($p AS BOOLEAN) AS p) t")
    return CON.execute(sql, row).fetchall()[0][0]


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, bool) or isinstance(y, bool) or x is None or y is None:
        return x == y
    if isinstance(x, int | float) and isinstance(y, int | float):
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return x == y or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)
    return bool(x == y)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=st.one_of(numbers, booleans, strings), a=ints, b=floats, s=texts, p=bools)
def test_compiled_expression_equals_duckdb(expr: str, a: Any, b: Any, s: Any, p: Any) -> None:
    row = {"a": a, "b": b, "s": s, "p": p}
    try:
        expected = _duck(expr, row)
    except duckdb.Error:
        return  # DuckDB refuses it (an overflow, a type clash): nothing to compare
    fn = compile_expression(sqlglot.parse_one(expr, read="duckdb"), SCOPE)
    got = fn({"t": row})
    assert _same(got, expected), f"{expr} with {row}: python {got!r}, duckdb {expected!r}"


def test_unknown_construct_is_refused_at_compile_time() -> None:
    with pytest.raises(UnsupportedSql, match="not supported"):
        compile_expression(sqlglot.parse_one("md5(s)", read="duckdb"), SCOPE)
    with pytest.raises(UnsupportedSql, match="alias"):
        compile_expression(sqlglot.parse_one("z.a + 1", read="duckdb"), SCOPE)


AGG_SQL = {
    "count": "count(x)", "count_distinct": "count(DISTINCT x)", "sum": "sum(x)", "avg": "avg(x)",
    "max": "max(x)", "min": "min(x)", "stddev_samp": "stddev_samp(x)", "corr": "corr(x, y)",
}


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(sorted(AGG_SQL)),
       rows=st.lists(st.tuples(st.one_of(st.none(), st.integers(-5, 5).map(float), st.floats(1.7e9, 1.8e9)),
                               st.one_of(st.none(), st.floats(-100, 100, allow_nan=False))), max_size=12))
def test_running_aggregates_equal_duckdb(kind: str, rows: list[tuple[float | None, float | None]]) -> None:
    state = agg.empty(kind)
    for x, y in rows:
        state = agg.add(kind, state, x, y) if kind == "corr" else agg.add(kind, state, x)
    got = agg.result(kind, state)
    if rows:
        expected = CON.execute(f"SELECT {AGG_SQL[kind]} FROM (SELECT unnest($x) AS x, unnest($y) AS y)",
                               {"x": [r[0] for r in rows], "y": [r[1] for r in rows]}).fetchall()[0][0]
    else:
        expected = 0 if kind in ("count", "count_distinct") else None
    if isinstance(expected, float) and isinstance(got, float) and not math.isnan(expected) and not math.isnan(got):
        assert math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-6), (kind, rows, got, expected)
    else:
        assert _same(got, expected), (kind, rows, got, expected)


def test_the_batch_sql_compiles_with_user_parameters() -> None:
    """Per-corridor and per-currency parameters and disabled indicators reach the compiled code."""
    cfg = build_config({
        "indicators": {"MT01": {"max_usd": 150, "by_corridor": {"*-TH": {"max_usd": 120}}},
                       "MT02": {"by_currency": {"PHP": {"round_unit": 500}}}},
        "disabled": ["MT32"],
    })
    d = load_definitions(cfg)
    t = {"is_p2p": True, "cross_border": True, "hr": True, "amount_usd": 130.0, "sender_country": "US",
         "receiver_country": "TH", "currency": "USD", "amount": 130.0}
    def row(**kw: Any) -> defaultdict[str, Any]:  # every other column NULL
        return defaultdict(lambda: None, t | kw)

    assert d.txi.fn({"t": row()})["f_MT01"] == 0  # 130 USD is above the TH corridor's 120
    assert d.txi.fn({"t": row(receiver_country="PH")})["f_MT01"] == 1  # 150 elsewhere
    assert d.txi.fn({"t": row(currency="PHP", amount=1000.0)})["f_MT02"] == 1
    assert d.txi.fn({"t": row(currency="PHP", amount=1010.0)})["f_MT02"] == 0
    assert d.txi.fn({"t": row(currency="USD", amount=1010.0)})["f_MT02"] == 1  # the default unit, 10
    s = defaultdict(lambda: None, {"n_micro": 100})
    assert "f_MT32" in d.subi.columns
    assert d.subi.fn({"s": s, "r": s})["f_MT32"] == 0  # disabled: never fires
