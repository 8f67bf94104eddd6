"""The stages' DuckDB SQL, transpiled once with SQLGlot for Spark SQL.

SQLGlot does most of the work. What it cannot know is where DuckDB and Spark
disagree on *meaning* rather than spelling; those few rewrites live here, each
with the reason, so a stage keeps one definition for both engines:

- ``date_diff`` counts unit *boundaries* crossed in DuckDB (Spark's
  ``timestampdiff`` counts whole units);
- ``strip_accents`` has no Spark function: a ``translate`` over the Latin letters
  whose canonical decomposition is a base letter and marks (what DuckDB strips);
- ``hash(a, b, ...)`` skips NULL arguments in Spark, so NULL positions are hashed too;
- ordered ``list(x ORDER BY ...)`` becomes a sorted ``collect_list`` of structs;
- ``json_object``/``json_array`` are built as text (Spark's ``to_json`` needs
  one element type per array);
- tuples become structs, ``len(list)`` becomes ``size``, ``list_intersect``
  ``array_intersect``, ``INTERVAL (n) SECOND`` loses its parentheses, and a CTE's
  ``MATERIALIZED`` hint is dropped; ``regexp_full_match`` becomes an anchored ``RLIKE``,
  and ``jaro_winkler_similarity`` DuckDB's algorithm in Spark SQL (as in Splink's conditions).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from typing import Any, ClassVar

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.parsers.duckdb import DuckDBParser


class MoneytrailDuckDB(DuckDB):
    """DuckDB as the stages write it: ``len()`` is only ever applied to lists."""

    class Parser(DuckDBParser):
        FUNCTIONS: ClassVar[dict[str, Any]] = {**DuckDBParser.FUNCTIONS, "LEN": exp.ArraySize.from_arg_list}


def _accent_map() -> tuple[str, str]:
    """Characters DuckDB's strip_accents changes into one base character."""
    src, dst = [], []
    for code in list(range(0xC0, 0x250)) + list(range(0x1E00, 0x1F00)):
        ch = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        if base != ch and len(base) == 1:
            src.append(ch)
            dst.append(base)
    return "".join(src), "".join(dst)


_ACCENTS_FROM, _ACCENTS_TO = _accent_map()

# date_diff units -> Spark expression of the instant in that unit (floor)
_EPOCH_UNITS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _date_diff(node: exp.DateDiff) -> exp.Expression:
    """DuckDB: boundaries of `unit` crossed from start to end."""
    unit = node.text("unit").upper() or "DAY"
    start, end = node.expression, node.this
    if unit in _EPOCH_UNITS:
        size = _EPOCH_UNITS[unit]

        def at(e: exp.Expression) -> exp.Expression:
            secs = _fn("unix_seconds", exp.cast(e.copy(), "timestamp"))
            return secs if size == 1 else exp.Floor(this=exp.Div(this=secs, expression=exp.Literal.number(size)))

        return exp.Sub(this=at(end), expression=at(start))
    if unit == "YEAR":
        return exp.Sub(this=exp.Year(this=end.copy()), expression=exp.Year(this=start.copy()))
    if unit == "MONTH":
        def months(e: exp.Expression) -> exp.Expression:
            return exp.Add(
                this=exp.Mul(this=exp.Year(this=e.copy()), expression=exp.Literal.number(12)),
                expression=exp.Month(this=e.copy()),
            )

        return exp.Sub(this=months(end), expression=months(start))
    raise NotImplementedError(f"date_diff unit {unit} has no Spark rewrite yet")


def _json_text(node: exp.Expression) -> exp.Expression:
    """Spark SQL text of `node` as a JSON value."""
    if isinstance(node, exp.JSONArray):
        parts: list[exp.Expression] = [exp.Literal.string("[")]
        for i, e in enumerate(node.expressions):
            if i:
                parts.append(exp.Literal.string(","))
            parts.append(_json_text(e))
        parts.append(exp.Literal.string("]"))
        return _fn("concat", *parts)
    if isinstance(node, exp.JSONObject):
        parts = [exp.Literal.string("{")]
        for i, kv in enumerate(node.expressions):
            if i:
                parts.append(exp.Literal.string(","))
            parts += [_json_text(kv.this), exp.Literal.string(":"), _json_text(kv.expression)]
        parts.append(exp.Literal.string("}"))
        return _fn("concat", *parts)
    # one scalar: to_json of a one-element array, brackets cut off
    arr = _fn("to_json", exp.Array(expressions=[node.copy()]))
    return _fn("substring", arr, exp.Literal.number(2), exp.Sub(this=exp.Length(this=arr.copy()), expression=exp.Literal.number(2)))


def _comparator(keys: list[exp.Ordered]) -> exp.Expression:
    """array_sort comparator over structs with fields k0, k1, ... (DuckDB orders NULLs last)."""
    ifs = []
    for i, key in enumerate(keys):
        lhs, rhs = exp.column(f"k{i}", table="l"), exp.column(f"k{i}", table="r")
        desc = bool(key.args.get("desc"))
        lt, gt = (exp.Literal.number(1), exp.Literal.number(-1)) if desc else (exp.Literal.number(-1), exp.Literal.number(1))
        ifs += [
            exp.If(this=exp.and_(exp.Is(this=lhs.copy(), expression=exp.null()), exp.not_(exp.Is(this=rhs.copy(), expression=exp.null()))), true=exp.Literal.number(1)),
            exp.If(this=exp.and_(exp.not_(exp.Is(this=lhs.copy(), expression=exp.null())), exp.Is(this=rhs.copy(), expression=exp.null())), true=exp.Literal.number(-1)),
            exp.If(this=exp.LT(this=lhs.copy(), expression=rhs.copy()), true=lt),
            exp.If(this=exp.GT(this=lhs.copy(), expression=rhs.copy()), true=gt),
        ]
    body = exp.Case(ifs=ifs, default=exp.Literal.number(0))
    return exp.Lambda(this=body, expressions=[exp.to_identifier("l"), exp.to_identifier("r")])


def _ordered_list(node: exp.ArrayAgg, flt: exp.Expression | None) -> exp.Expression:
    """list(x ORDER BY k...) [FILTER (WHERE c)] -> transform(array_sort(collect_list(struct)), s -> s.v)."""
    order = node.this
    assert isinstance(order, exp.Order)
    value = order.this
    distinct = isinstance(value, exp.Distinct)
    if distinct:
        value = value.expressions[0]
    keys = list(order.expressions)
    if distinct and len(keys) == 1 and keys[0].this == value and not keys[0].args.get("desc"):
        agg: exp.Expression = _fn("collect_set", value.copy())
        if flt is not None:
            agg = exp.Filter(this=agg, expression=exp.Where(this=flt.copy()))
        return _null_if_empty(exp.ArraySort(this=agg))
    fields = [exp.PropertyEQ(this=exp.to_identifier("v"), expression=value.copy())]
    fields += [exp.PropertyEQ(this=exp.to_identifier(f"k{i}"), expression=k.this.copy()) for i, k in enumerate(keys)]
    struct = _fn("named_struct", *[a for f in fields for a in (exp.Literal.string(f.this.name), f.expression)])
    agg = _fn("collect_list", struct)  # a struct is never NULL: NULL values are kept, as list() does
    if flt is not None:
        agg = exp.Filter(this=agg, expression=exp.Where(this=flt.copy()))
    sorted_ = _fn("array_sort", agg, _comparator(keys))
    pick = exp.Lambda(this=exp.column("v", table="s"), expressions=[exp.to_identifier("s")])
    return _null_if_empty(exp.Transform(this=sorted_, expression=pick))


def _null_if_empty(arr: exp.Expression) -> exp.Expression:
    """DuckDB's list() of no rows is NULL; Spark's collect_list is []."""
    return exp.Case(ifs=[exp.If(this=exp.EQ(this=exp.ArraySize(this=arr.copy()), expression=exp.Literal.number(0)),
                                true=exp.null())], default=arr)


# Spark functions that return arrays: DuckDB's length() of one of them is a list length
_ARRAY_FUNCS = ("FILTER(", "ARRAY_", "SPLIT(", "COLLECT_", "SLICE(", "TRANSFORM(", "FLATTEN(", "SEQUENCE(", "ARRAY(")


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Length) and node.this.sql("spark").upper().startswith(_ARRAY_FUNCS):
        return exp.ArraySize(this=node.this.copy())
    if isinstance(node, exp.DateDiff):
        return _date_diff(node)
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        args = node.expressions
        if name == "strip_accents":
            return _fn("translate", args[0], exp.Literal.string(_ACCENTS_FROM), exp.Literal.string(_ACCENTS_TO))
        if name == "hash":
            flags = [exp.Is(this=a.copy(), expression=exp.null()) for a in args]
            return _fn("xxhash64", *[a.copy() for a in args], *flags)
        if name == "list_intersect":
            return exp.ArrayIntersect(expressions=[a.copy() for a in args])

    if isinstance(node, exp.JarowinklerSimilarity):
        # DuckDB's algorithm in Spark SQL, to the last bit (Splink's conditions use the same)
        from moneytrail.engine.splink_spark import _jaro_winkler_sql

        text = _jaro_winkler_sql(node.this.sql("spark"), node.expression.sql("spark"))
        jw = sqlglot.parse_one(text, read="spark")
        assert isinstance(jw, exp.Expression)
        return jw
    if isinstance(node, exp.RegexpFullMatch):
        # Spark's RLIKE finds the pattern anywhere: anchor it at both ends ((?!.) with
        # DOTALL: the very end, where Java's $ would also match before a last newline)
        whole = _fn("concat", exp.Literal.string("(?s)^(?:"), node.expression.copy(), exp.Literal.string(")(?!.)"))
        return exp.RegexpLike(this=node.this.copy(), expression=whole)
    if isinstance(node, exp.ArrayOverlaps):
        return _fn("arrays_overlap", node.this.copy(), node.expression.copy())
    if isinstance(node, exp.Interval) and isinstance(node.this, exp.Paren):
        inner = node.this.this
        if isinstance(inner, exp.Literal):
            return exp.Interval(this=exp.Literal.string(inner.name), unit=node.args.get("unit"))
        return _fn("make_dt_interval", exp.Literal.number(0), exp.Literal.number(0), exp.Literal.number(0), inner.copy()) \
            if node.text("unit").upper() == "SECOND" else node
    if isinstance(node, (exp.JSONObject, exp.JSONArray)):
        return _json_text(node)
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.ArrayAgg) and isinstance(node.this.this, exp.Order):
        return _ordered_list(node.this, node.expression.this if isinstance(node.expression, exp.Where) else node.expression)
    if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order) and not isinstance(node.parent, exp.Filter):
        return _ordered_list(node, None)
    if isinstance(node, exp.Bracket) and isinstance(node.this, (exp.Filter, exp.ArrayAgg, exp.Transform, exp.ArraySort, exp.Case)):
        sl = node.expressions[0] if node.expressions else None
        if isinstance(sl, exp.Slice):
            lo = int(sl.this.name) if sl.this is not None else 1  # DuckDB: 1-based, inclusive
            hi = int(sl.expression.name) if sl.expression is not None else None
            length = exp.Literal.number(hi - lo + 1) if hi is not None else exp.ArraySize(this=node.this.copy())
            return _fn("slice", node.this.copy(), exp.Literal.number(lo), length)
    if isinstance(node, exp.Tuple) and not isinstance(node.parent, (exp.In, exp.Values)):
        if isinstance(node.parent, exp.Select) and isinstance(node.parent.parent, exp.Subquery) \
                and isinstance(node.parent.parent.parent, exp.In):
            return node  # (a, b) IN (SELECT (c, d) ...): unpacked below
        return _fn("struct", *[e.copy() for e in node.expressions])
    if isinstance(node, exp.In) and isinstance(node.args.get("query"), exp.Subquery):
        sel = node.args["query"].this
        if isinstance(sel, exp.Select) and len(sel.expressions) == 1 and isinstance(sel.expressions[0], exp.Tuple):
            sel.set("expressions", [e.copy() for e in sel.expressions[0].expressions])
    if isinstance(node, exp.AnyValue):
        return _fn("first", node.this.copy(), exp.true())
    if isinstance(node, exp.IgnoreNulls) and isinstance(node.this, exp.AnyValue):
        return _fn("first", node.this.this.copy(), exp.true())
    return node


def _zip_subscripts(select: exp.Select) -> None:
    """`unnest(x) AS a, generate_subscripts(x, 1) AS b`: Spark allows one generator per
    SELECT, so both become `inline(arrays_zip(x, sequence(1, size(x)))) AS (a, b)`."""
    items = select.expressions
    for j, item in enumerate(items):
        gen = item.this if isinstance(item, exp.Alias) else None
        if not (isinstance(gen, exp.Anonymous) and gen.name.lower() == "generate_subscripts"):
            continue
        arr = gen.expressions[0]
        for i, other in enumerate(items):
            if isinstance(other, exp.Alias) and isinstance(other.this, exp.Explode) and other.this.this == arr:
                zipped = _fn("arrays_zip", arr.copy(), _fn("sequence", exp.Literal.number(1), exp.ArraySize(this=arr.copy())))
                both = exp.Aliases(this=_fn("inline", zipped), expressions=[other.args["alias"].copy(), item.args["alias"].copy()])
                new = [x for k, x in enumerate(items) if k != j]
                new[i if i < j else i - 1] = both
                select.set("expressions", new)
                return


def _tidy(tree: exp.Expression) -> exp.Expression:
    for select in list(tree.find_all(exp.Select)):
        _zip_subscripts(select)
    # `WITH x AS MATERIALIZED (...)`: a DuckDB planning hint Spark cannot parse (same rows without it)
    for cte in tree.find_all(exp.CTE):
        if cte.args.get("materialized") is not None:
            cte.set("materialized", None)
    # `ANY_VALUE(x) IGNORE NULLS FILTER (...)`: Spark wants first(x, true) FILTER (...)
    for ignore in list(tree.find_all(exp.IgnoreNulls)):
        if isinstance(ignore.this, exp.AnyValue):
            ignore.replace(_fn("first", ignore.this.this.copy(), exp.true()))
    return rewrite_bottom_up(tree, _rewrite)


def rewrite_bottom_up(tree: exp.Expression, rewrite: Callable[[exp.Expression], exp.Expression]) -> exp.Expression:
    """Replace each node by ``rewrite(node)``, children first, so that a rewrite sees its
    arguments already rewritten; returns the (possibly new) root."""
    for node in reversed(list(tree.walk(bfs=False))):
        if not isinstance(node, exp.Expression):
            continue
        new = rewrite(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


@functools.lru_cache(maxsize=4096)
def parse_duckdb(sql: str) -> exp.Expression:
    """Parse one DuckDB statement (cached: stages run the same SQL again and again)."""
    tree = sqlglot.parse_one(sql, read=MoneytrailDuckDB)
    assert isinstance(tree, exp.Expression)
    return tree


def to_spark(tree: exp.Expression) -> str:
    """Spark SQL for a parsed DuckDB expression or statement."""
    return _tidy(tree.copy()).sql(dialect="spark")


@functools.lru_cache(maxsize=4096)
def transpile(sql: str) -> str:
    """Spark SQL for one DuckDB statement."""
    return to_spark(parse_duckdb(sql))


__all__ = ["MoneytrailDuckDB", "parse_duckdb", "to_spark", "transpile"]
