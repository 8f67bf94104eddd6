"""Splink's Spark backend, scoring with the model trained on DuckDB.

Training stays in the driver on DuckDB (u by random sampling and EM on a few
samples: a fixed cost that does not grow with the data, and the same seeds give
the same weights on both engines). Scoring the candidate pairs, which grows with
the data, runs on the Spark session with Splink's ``SparkAPI``: the trained
model's JSON, with each comparison level's SQL condition rewritten for Spark.

The conditions are DuckDB SQL written for the DuckDB backend (:mod:`moneytrail.resolve.splink_model`).
Here they go through the engine's transpiler (:mod:`moneytrail.engine.spark_sql`),
with what Spark lacks spelled out:

- the name macros (``mt_names_compatible``, ``mt_shared_token``...) are expanded
  inline from their DuckDB definitions (:data:`moneytrail.resolve.names.MACROS`),
  one definition for both engines;
- ``jaro_winkler_similarity`` becomes DuckDB's algorithm written in Spark SQL
  (:func:`_jaro_winkler_sql`), not the ``jaro_winkler`` UDF of Splink's similarity
  jar, which computes another value on some strings and would move pairs across the
  levels' thresholds;
- ``hamming(a, b)`` becomes a count of the positions where the two strings differ;
- ``s[1]`` on a string (its first character) becomes ``substring(s, 1, 1)``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

from moneytrail.engine.spark_sql import MoneytrailDuckDB, rewrite_bottom_up, to_spark

_MACRO = re.compile(r"CREATE OR REPLACE MACRO (\w+)\(([^)]*)\) AS (.*)$", re.S)


@contextlib.contextmanager
def deep_sql(limit: int = 20_000) -> Iterator[None]:
    """Room for SQLGlot's recursive parser: the Spark conditions nest Jaro-Winkler
    (a dozen lambda levels) inside the name macros' lambdas, deeper than Python's
    default recursion limit allows SQLGlot (and Splink, which parses them again)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def spark_api(spark: Any) -> Any:
    """Splink's SparkAPI on `spark`, its intermediate tables written as Parquet.

    Splink breaks the lineage of its large intermediate tables (the blocked pairs, the
    comparison vectors, the predictions) by writing them under the SparkContext's
    checkpoint directory; when none is set, one is made in ``spark.local.dir``
    (the run's spill folder on a batch run) or the system's temporary directory.
    Splink's UDFs (``jaro_winkler``...) are registered from the similarity jar."""
    from splink.backends.spark import SparkAPI

    if spark.sparkContext._jsc.sc().getCheckpointDir().isEmpty():
        local = spark.sparkContext.getConf().get("spark.local.dir")
        if local:
            Path(local).mkdir(parents=True, exist_ok=True)
        spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="moneytrail-splink-", dir=local or None))
    return SparkAPI(spark_session=spark, break_lineage_method="parquet")


def to_arrow(df: Any) -> pa.Table:
    """A Spark DataFrame's rows as an Arrow table, in the driver."""
    table: pa.Table = df.toArrow()
    return table


def similarity_jar() -> str | None:
    """Path of Splink's similarity UDF jar for this Spark (None without Splink or PySpark)."""
    try:
        from splink.internals.spark.jar_location import similarity_jar_location
    except ImportError:  # pragma: no cover - splink is a dependency, pyspark the `spark` extra
        return None
    return similarity_jar_location()


def _parse(sql: str, dialect: Any) -> exp.Expression:
    tree = sqlglot.parse_one(sql, read=dialect)
    assert isinstance(tree, exp.Expression)
    return tree


@functools.cache
def _macros() -> dict[str, tuple[list[str], exp.Expression]]:
    """name -> (parameters, body) of the DuckDB name macros."""
    from moneytrail.resolve.names import MACROS

    out = {}
    for sql in MACROS:
        m = _MACRO.match(sql)
        if m is None:  # pragma: no cover - guards a change of the macros' form
            raise ValueError(f"cannot read the macro {sql[:60]!r}")
        params = [p.strip() for p in m.group(2).split(",")]
        out[m.group(1).lower()] = (params, _parse(m.group(3), MoneytrailDuckDB))
    return out


def _expand(tree: exp.Expression) -> exp.Expression:
    """Replace calls of the name macros by their bodies, arguments substituted."""
    macros = _macros()
    for _ in range(10):  # macros call macros: expand until none is left
        calls = [n for n in tree.find_all(exp.Anonymous) if n.name.lower() in macros]
        if not calls:
            return tree
        for call in calls:
            params, body = macros[call.name.lower()]
            args = dict(zip(params, call.expressions, strict=True))
            new = body.copy()
            for col in list(new.find_all(exp.Column)):
                if not col.table and col.name in args:
                    col.replace(args[col.name].copy())
            if call is tree:
                tree = new
            else:
                call.replace(new)
    raise ValueError("the name macros call each other without end")  # pragma: no cover


def _hamming(a: exp.Expression, b: exp.Expression) -> exp.Expression:
    """Positions where a and b differ (the conditions compare strings of equal length)."""
    i = exp.to_identifier("mt_i")

    def char(s: exp.Expression) -> exp.Expression:
        return exp.Substring(this=s.copy(), start=exp.column(i.copy()), length=exp.Literal.number(1))

    differ = exp.Lambda(this=exp.NEQ(this=char(a), expression=char(b)), expressions=[i])
    positions = exp.Anonymous(this="sequence", expressions=[exp.Literal.number(1), exp.Length(this=a.copy())])
    count = exp.ArraySize(this=exp.Anonymous(this="filter", expressions=[positions, differ]))
    # sequence(1, 0) is [1, 0] in Spark: the empty string differs nowhere
    empty = exp.EQ(this=exp.Length(this=a.copy()), expression=exp.Literal.number(0))
    return exp.Case(ifs=[exp.If(this=empty, true=exp.Literal.number(0))], default=count)


def _first(node: exp.Bracket) -> bool:
    """`x[1]` in DuckDB (the parser keeps subscripts 0-based)."""
    index = node.expressions[0] if len(node.expressions) == 1 else None
    return isinstance(index, exp.Literal) and not index.is_string and index.to_py() == 0


def _let(value: str, name: str, body: str) -> str:
    """`body` with `name` bound to `value`, evaluated once (Spark SQL has no LET)."""
    return f"element_at(transform(array({value}), {name} -> {body}), 1)"


def _fma_sql(a: str, b: str, c: str) -> str:
    """a * b + c rounded once (a fused multiply-add), in plain double arithmetic: the
    product's rounding error by Dekker's split, the sum's by Knuth's two-sum, both added
    back before the last rounding (`a`, `c`: lambda variables or literals)."""
    split = "CAST(134217729 AS DOUBLE)"  # 2^27 + 1
    err = (
        "((mt_ah * mt_bh - mt_fp) + mt_ah * (mt_b - mt_bh) + (mt_a - mt_ah) * mt_bh) "
        "+ (mt_a - mt_ah) * (mt_b - mt_bh)"
    )
    tail = "mt_fs + (((mt_fp - (mt_fs - mt_fbb)) + (mt_c - mt_fbb)) + mt_fe)"
    body = _let("mt_fs - mt_fp", "mt_fbb", tail)
    body = _let("mt_fp + mt_c", "mt_fs", body)
    body = _let(err, "mt_fe", body)
    body = _let(f"mt_b * {split} - (mt_b * {split} - mt_b)", "mt_bh", body)
    body = _let(f"mt_a * {split} - (mt_a * {split} - mt_a)", "mt_ah", body)
    body = _let("mt_a * mt_b", "mt_fp", body)
    return _let(c, "mt_c", _let(b, "mt_b", _let(a, "mt_a", body)))


def _jaro_winkler_sql(a: str, b: str) -> str:
    """DuckDB's ``jaro_winkler_similarity(a, b)`` in Spark SQL, to the last bit.

    Splink's jar computes Jaro-Winkler otherwise (Apache Commons Text: another
    matching order and transposition count; 0.848 against DuckDB's 0.857 for
    "dela liza ramos" / "dela flores lia"), which moves pairs across the levels'
    thresholds. DuckDB (the rapidfuzz algorithm) matches each character of the
    longer string, in order, with the first unmatched equal character of the shorter
    one within max(len) / 2 - 1 positions; transpositions are half the matched
    characters out of order; the Winkler bonus (common prefix up to 4, weight 0.1)
    is added above 0.7 as one fused multiply-add, as DuckDB's build computes it
    (:func:`_fma_sql`). Empty strings score 0, as in DuckDB.
    """
    short = f"(CASE WHEN length({a}) <= length({b}) THEN {a} ELSE {b} END)"
    long_ = f"(CASE WHEN length({a}) <= length({b}) THEN {b} ELSE {a} END)"
    window = f"greatest(div(length({long_}), 2) - 1, 0)"
    candidate = (
        f"array_min(filter(sequence(1, length({short})), mt_i -> abs(mt_i - mt_j) <= {window} "
        f"AND NOT element_at(mt_acc.f, mt_i) AND substring({short}, mt_i, 1) = substring({long_}, mt_j, 1)))"
    )
    step = _let(
        candidate,
        "mt_c",
        "CASE WHEN mt_c IS NULL THEN mt_acc ELSE named_struct("
        "'f', transform(mt_acc.f, (mt_x, mt_k) -> mt_x OR mt_k + 1 = mt_c), "
        f"'lm', concat(mt_acc.lm, array(substring({long_}, mt_j, 1)))) END",
    )
    # f: which characters of the shorter string matched; lm: the matched characters of the longer, in order
    flags = (
        f"aggregate(sequence(1, length({long_})), "
        f"named_struct('f', array_repeat(false, length({short})), 'lm', array_repeat('', 0)), "
        f"(mt_acc, mt_j) -> {step})"
    )
    matched_short = f"transform(filter(sequence(1, length({short})), mt_i -> element_at(mt_r.f, mt_i)), mt_i -> substring({short}, mt_i, 1))"
    m = "CAST(size(mt_r.lm) AS DOUBLE)"
    t = f"CAST(div(size(filter(zip_with({matched_short}, mt_r.lm, (mt_x, mt_y) -> mt_x <> mt_y), mt_z -> mt_z)), 2) AS DOUBLE)"
    jaro = f"(({m} / length({short}) + {m} / length({long_})) + ({m} - {t}) / {m}) / CAST(3 AS DOUBLE)"
    prefix = f"size(filter(sequence(1, least(4, length({short}))), mt_k -> substring({a}, 1, mt_k) = substring({b}, 1, mt_k)))"
    bonus = _let(
        f"CAST({prefix} AS DOUBLE) * CAST(0.1 AS DOUBLE)", "mt_w", _fma_sql("mt_w", "CAST(1 AS DOUBLE) - mt_jaro", "mt_jaro")
    )
    winkler = f"CASE WHEN mt_jaro > CAST(0.7 AS DOUBLE) THEN {bonus} ELSE mt_jaro END"
    score = _let(flags, "mt_r", f"CASE WHEN size(mt_r.lm) = 0 THEN CAST(0 AS DOUBLE) ELSE {_let(jaro, 'mt_jaro', winkler)} END")
    return f"(CASE WHEN length({a}) = 0 OR length({b}) = 0 THEN CAST(0 AS DOUBLE) ELSE {score} END)"


def _spark_function(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.JarowinklerSimilarity):
        return _parse(_jaro_winkler_sql(node.this.sql("spark"), node.expression.sql("spark")), "spark")
    if isinstance(node, exp.Anonymous) and node.name.lower() == "hamming":
        return _hamming(*node.expressions)
    if isinstance(node, exp.Bracket) and _first(node):
        # only name tokens are subscripted in the conditions: t[1] is a token's first letter
        return exp.Substring(this=node.this.copy(), start=exp.Literal.number(1), length=exp.Literal.number(1))
    return node


def _spark_functions(tree: exp.Expression) -> exp.Expression:
    return rewrite_bottom_up(tree, _spark_function)


def spark_condition(sql: str) -> str:
    """Spark SQL of one comparison level's DuckDB condition."""
    with deep_sql():
        tree = _parse(sql, MoneytrailDuckDB)
        return to_spark(_spark_functions(_expand(tree)))


def spark_settings(model: dict[str, Any]) -> dict[str, Any]:
    """A trained Splink model (``save_model_to_json``, DuckDB dialect) for Splink's Spark backend:
    the same levels, m and u probabilities and term-frequency settings, conditions in Spark SQL,
    and the comparison vector kept in the predictions."""
    out = copy.deepcopy(model)
    out["sql_dialect"] = "spark"
    # the predictions keep the comparison vector (gamma_*) only with the matching columns
    out["retain_matching_columns"] = True
    for comp in out["comparisons"]:
        for level in comp["comparison_levels"]:
            cond = level["sql_condition"]
            if cond.strip().upper() != "ELSE":
                level["sql_condition"] = spark_condition(cond)
    for rule in out.get("blocking_rules_to_generate_predictions", []):
        rule["blocking_rule"] = sqlglot.transpile(rule["blocking_rule"], read="duckdb", write="spark")[0]
        rule["sql_dialect"] = "spark"
    return out


__all__ = ["deep_sql", "similarity_jar", "spark_api", "spark_condition", "spark_settings", "to_arrow"]
