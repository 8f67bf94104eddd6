"""Splink's model scoring the candidate pairs on Spark, with the model trained on DuckDB.

Training stays in the driver on DuckDB (u by random sampling and EM on a few
samples: a fixed cost that does not grow with the data, and the same seeds give
the same weights on both engines). Scoring the candidate pairs, which grows with
the data, runs on the Spark session (:func:`comparison_vectors`): the pairs meet
their profiles in a Spark join; each comparison's level is Splink's own CASE
statement, in the DuckDB SQL of the DuckDB backend, computed by a DuckDB inside
each Spark task over the task's Arrow batches (``mapInArrow``); the match weights
are Splink's own SQL for Spark. Only the pairs kept come back to the driver.

The levels are computed by DuckDB because it is DuckDB's function, to the last bit,
and compiled: the same conditions in Spark SQL run as interpreted lambdas, and the
name levels call Jaro-Winkler token by token. At 1M transactions (3.77 million
pairs) scoring was still running after 300 s on both cores that way; with DuckDB in
the tasks it takes 71 CPU-s (docs/scale.md, session 8). ``MONEYTRAIL_SPARK_LEVELS=spark-sql``
keeps the pure Spark SQL form (no Python on the executors) for clusters that have
none. It goes through the engine's transpiler (:mod:`moneytrail.engine.spark_sql`),
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

Splink's Spark settings (:func:`spark_settings`) carry these conditions either way:
Splink reads every condition in the Spark dialect when it builds them.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
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


def _parquet_view(spark: Any, table: pa.Table, folder: Path, name: str) -> Any:
    """`table` (in the driver) as Spark view `name`, through a Parquet file in `folder`."""
    import pyarrow.parquet as pq

    path = folder / f"{name}.parquet"
    pq.write_table(table, path)
    df = spark.read.parquet(str(path))
    df.createOrReplaceTempView(name)
    return df


def _as_splink_runs(sql: str) -> str:
    """`sql` (Spark dialect) as Splink's Spark backend would run it: through its ``customspark``
    dialect (``float8`` becomes ``double``, ``log2(x)`` ``log(2, x)``...)."""
    import splink.internals.spark.spark_helpers.custom_spark_dialect  # noqa: F401  (registers the dialect)

    with deep_sql():
        out: str = sqlglot.transpile(sql, read="spark", write="customspark")[0]
    return out


BATCH_ROWS = 100_000
# where the comparison levels are computed: a DuckDB in each Spark task, or Spark SQL
LEVELS = ("duckdb", "spark-sql")


def _with_tf(profiles: pa.Table, tf: dict[str, pa.Table]) -> pa.Table:
    """The profiles with their term frequencies (``tf_<col>``), as Splink's predict joins them."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        con.register("mt_p", profiles)
        joins, cols = [], []
        for i, (col, lookup) in enumerate(tf.items()):
            con.register(f"mt_tf{i}", lookup)
            joins.append(f'LEFT JOIN mt_tf{i} t{i} ON p."{col}" = t{i}."{col}"')
            cols.append(f't{i}."tf_{col}"')
        out: pa.Table = con.sql(f"SELECT p.*{''.join(', ' + c for c in cols)} FROM mt_p p {' '.join(joins)}").to_arrow_table()
        return out
    finally:
        con.close()


def _levels_by_duckdb(sql: str, macros: tuple[str, ...]) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """A ``mapInArrow`` function: each batch of pairs through `sql` (over table ``mt_batch``)
    on a DuckDB of the Spark worker's own, with the name macros."""

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import duckdb

        con = duckdb.connect(config={"threads": 1})
        for macro in macros:
            con.execute(macro)
        for batch in batches:
            con.register("mt_batch", batch)
            yield from con.sql(sql).to_arrow_reader()
            con.unregister("mt_batch")
        con.close()

    return run


def comparison_vectors(
    spark: Any,
    model: dict[str, Any],
    profiles: pa.Table,
    tf: dict[str, pa.Table],
    pairs: pa.Table,
    min_weight: float | None,
    *,
    folder: Path | None = None,
    levels: str | None = None,
) -> pa.Table:
    """Splink's comparison vectors of `pairs` (pid_l, pid_r), computed on `spark` with the trained
    `model` (as ``save_model_to_json`` gives it): pid_l, pid_r, match_key, the gamma_* levels and
    the tf_* term frequencies of the pairs whose match weight on Spark is at least `min_weight`
    (all pairs with None).

    The pairs meet their profiles in a Spark join, partition by partition. Each comparison's
    level is Splink's own CASE statement, in the DuckDB SQL the DuckDB backend runs, computed by
    a DuckDB in each Spark task on the task's Arrow batches (``mapInArrow``): the same function
    as the DuckDB backend's, to the last bit, and compiled code, where the same conditions in
    Spark SQL (:func:`spark_condition`) run as interpreted lambdas (Jaro-Winkler token by
    token in the name macros) at a hundred times the cost. The match weights are then Splink's
    own SQL for Spark, over the comparison vectors.
    """
    from splink import SettingsCreator
    from splink.internals.dialects import SplinkDialect
    from splink.internals.predict import predict_from_comparison_vectors_sqls

    from moneytrail.resolve.names import MACROS

    with deep_sql():
        duck = SettingsCreator.from_path_or_dict(copy.deepcopy(model)).get_settings("duckdb")
        on_spark = SettingsCreator.from_path_or_dict(spark_settings(model)).get_settings("spark")
        # Splink's match weights; training mode keeps the comparison vector (gamma_*) in the
        # predictions without the compared values, which the vectors here do not carry
        weights_sqls = predict_from_comparison_vectors_sqls(
            unique_id_input_columns=on_spark.column_info_settings.unique_id_input_columns,
            core_model_settings=on_spark.core_model_settings,
            sql_dialect=SplinkDialect.from_string("spark"),
            retain_matching_columns=False,
            retain_intermediate_calculation_columns=True,
            training_mode=True,
        )
    levels = levels or os.environ.get("MONEYTRAIL_SPARK_LEVELS", "duckdb")
    if levels not in LEVELS:
        raise ValueError(f"MONEYTRAIL_SPARK_LEVELS: {levels!r} is not one of {', '.join(LEVELS)}")
    names = [c.output_column_name for c in duck.comparisons]
    inputs = list(dict.fromkeys(c.unquote().name for comp in duck.comparisons for c in comp._input_columns_used_by_case_statement))
    tf_cols = [f"tf_{col}" for col in tf]
    carried = [f"{c}_{s}" for c in tf_cols for s in ("l", "r")]

    own = folder is None
    if folder is None:
        local = spark.sparkContext.getConf().get("spark.local.dir")
        if local:
            Path(local).mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="moneytrail-cv-", dir=local or None))
    try:
        _parquet_view(spark, pairs.select(["pid_l", "pid_r"]), folder, "mt_cv_pairs")
        _parquet_view(spark, _with_tf(profiles, tf).select(["pid", *inputs, *tf_cols]), folder, "mt_cv_profiles")
        both = ", ".join(f"l.`{c}` AS `{c}_l`, r.`{c}` AS `{c}_r`" for c in [*inputs, *tf_cols])
        blocked = spark.sql(
            f"SELECT b.pid_l, b.pid_r, {both} FROM mt_cv_pairs b "
            "JOIN mt_cv_profiles l ON l.pid = b.pid_l JOIN mt_cv_profiles r ON r.pid = b.pid_r"
        )
        cases = [f"CAST(({comp._case_statement.rsplit(' as ', 1)[0]}) AS INTEGER) AS gamma_{comp.output_column_name}"
                 for comp in duck.comparisons]
        sql = f"SELECT pid_l, pid_r, {', '.join(cases)}{''.join(', ' + c for c in carried)} FROM mt_batch"
        schema = ", ".join(
            ["pid_l BIGINT", "pid_r BIGINT", *[f"gamma_{n} INT" for n in names], *[f"{c} DOUBLE" for c in carried]]
        )
        if levels == "duckdb":
            # Arrow batches of 100,000 pairs: DuckDB binds the conditions once per batch
            spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(BATCH_ROWS))
            vectors = blocked.mapInArrow(_levels_by_duckdb(sql, tuple(MACROS)), schema)
        else:  # the conditions in Spark SQL: no Python on the executors, a hundred times the cost
            blocked.createOrReplaceTempView("mt_cv_blocked")
            spark_cases = [c._case_statement for c in on_spark.comparisons]
            vectors = spark.sql(_as_splink_runs(
                f"SELECT pid_l, pid_r, {', '.join(spark_cases)}{''.join(', ' + c for c in carried)} FROM mt_cv_blocked"
            ))
        vectors.createOrReplaceTempView("mt_cv_vectors")
        ctes = [("__splink__df_comparison_vectors", "SELECT *, '0' AS match_key FROM mt_cv_vectors")]
        ctes += [(q["output_table_name"], q["sql"]) for q in weights_sqls]
        keep = ["pid_l", "pid_r", "match_key", *[f"gamma_{n}" for n in names], *carried]
        where = "" if min_weight is None else f" WHERE match_weight >= {float(min_weight)!r}"
        query = (
            "WITH " + ", ".join(f"{n} AS ({body})" for n, body in ctes)
            + f" SELECT {', '.join(keep)} FROM {ctes[-1][0]}{where}"
        )
        return to_arrow(spark.sql(_as_splink_runs(query)))
    finally:
        for name in ("mt_cv_pairs", "mt_cv_profiles", "mt_cv_blocked", "mt_cv_vectors"):
            spark.catalog.dropTempView(name)
        if own:
            shutil.rmtree(folder, ignore_errors=True)


__all__ = [
    "comparison_vectors",
    "deep_sql",
    "similarity_jar",
    "spark_condition",
    "spark_settings",
    "to_arrow",
]
