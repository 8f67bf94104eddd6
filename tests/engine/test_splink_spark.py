"""Splink scores the candidate pairs on Spark, with the model trained on DuckDB, and gives
the DuckDB backend's figures.

Needs PySpark (the `spark` extra) and Java 17+; one local[2] session serves the module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from moneytrail.engine.session import spark_session
from moneytrail.engine.splink_spark import comparison_vectors, spark_condition
from moneytrail.resolve import ResolveSettings
from moneytrail.resolve.blocking import build_pairs
from moneytrail.resolve.run import PROFILES_FOR_MODEL_SQL, resolve
from moneytrail.resolve.sample import generate
from moneytrail.resolve.splink_model import COMPARISON_NAMES, SplinkModel
from moneytrail.store import Warehouse


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    session = spark_session("local[2]", local_dir=tmp_path_factory.mktemp("spill"))
    yield session
    session.stop()


@pytest.fixture(scope="module")
def profiles_and_pairs(tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, pa.Table]:
    wh = Warehouse(tmp_path_factory.mktemp("w") / "w.duckdb")
    generate(wh.con, transactions=2500, seed=21)
    resolve(wh.con)
    build_pairs(wh.con, block_cap=ResolveSettings().block_cap)
    profiles = wh.con.sql(PROFILES_FOR_MODEL_SQL).to_arrow_table()
    pairs = wh.con.sql("SELECT pid_l, pid_r FROM _resolve_pairs").to_arrow_table()
    wh.close()
    return profiles, pairs


def test_splink_scores_on_spark_as_on_duckdb(spark: Any, profiles_and_pairs: tuple[pa.Table, pa.Table]) -> None:
    profiles, pairs = profiles_and_pairs
    assert pairs.num_rows > 1000
    settings = ResolveSettings()
    # one trained model for both backends: training sums floats in parallel, so two
    # trainings on the same data may differ in the last bits of an m probability
    on_duckdb = SplinkModel(profiles)
    on_duckdb.train(settings)
    model = json.loads(on_duckdb.model_json())
    on_spark = SplinkModel(profiles, backend="spark", spark=spark, model=model)
    try:
        duck = on_duckdb.predict(pairs, min_weight=-12.0)
        spk = on_spark.predict(pairs, min_weight=-12.0)
        tf = {col: on_duckdb.con.sql(f"SELECT * FROM {t}").to_arrow_table() for col, t in on_duckdb._tf_tables.items()}
    finally:
        on_duckdb.close()
        on_spark.close()

    assert spk.schema == duck.schema
    assert 0 < spk.num_rows == duck.num_rows < pairs.num_rows
    key = [("pid_l", "ascending"), ("pid_r", "ascending")]
    duck, spk = duck.sort_by(key), spk.sort_by(key)
    for col in duck.column_names:
        assert spk.column(col).to_pylist() == duck.column(col).to_pylist(), col
    assert len(set(spk.column("lvl_name").to_pylist())) >= 4  # the name levels were exercised

    # without a floor, every pair comes back from Spark once, with its comparison vector
    vectors = comparison_vectors(spark, model, profiles, tf, pairs, None)
    assert vectors.num_rows == pairs.num_rows
    got = sorted(zip(vectors.column("pid_l").to_pylist(), vectors.column("pid_r").to_pylist(), strict=True))
    assert got == sorted(zip(pairs.column("pid_l").to_pylist(), pairs.column("pid_r").to_pylist(), strict=True))
    assert {f"gamma_{c}" for c in COMPARISON_NAMES} <= set(vectors.column_names)
    assert not [t for t in spark.catalog.listTables() if t.name.startswith("mt_cv_")]  # views dropped

    # the conditions in Spark SQL (no DuckDB in the tasks) give the same vectors, on a sample
    some = pairs.slice(0, 3000)
    key = [("pid_l", "ascending"), ("pid_r", "ascending")]
    by_duckdb = comparison_vectors(spark, model, profiles, tf, some, None).sort_by(key)
    by_spark_sql = comparison_vectors(spark, model, profiles, tf, some, None, levels="spark-sql").sort_by(key)
    assert by_spark_sql.column_names == by_duckdb.column_names
    for col in by_duckdb.column_names:
        assert by_spark_sql.column(col).to_pylist() == by_duckdb.column(col).to_pylist(), col


@pytest.mark.parametrize(
    ("duckdb_sql", "rows"),
    [
        # (left, right, DuckDB's answer)
        ("hamming(a, b) <= 1 AND length(a) = length(b)", [("19810203", "19810208", True), ("1981", "1918", False), ("ab12", "ab12", True)]),
        ("mt_half_words(a, b)", [("40 togo p lace", "togo place caravn park", False), ("togo place park", "togo place", True)]),
        ("list_sort(string_split(a, '')) = list_sort(string_split(b, ''))", [("1981", "1918", True), ("ab", "ba", True), ("ab", "bc", False)]),
        ("mt_names_compatible(string_split(a, ' '), string_split(b, ' '))",
         [("j a smith", "john andrew smith", True), ("ma santos", "maria santos reyes", True), ("jon smith", "mary jones", False)]),
        ("jaro_winkler_similarity(a, b) >= 0.85", [("martha", "marhta", True), ("dixon", "dicksonx", False)]),
    ],
)
def test_conditions_mean_on_spark_what_they_mean_on_duckdb(spark: Any, duckdb_sql: str, rows: list[tuple[str, str, bool]]) -> None:
    import duckdb

    from moneytrail.resolve.names import install_macros

    con = duckdb.connect()
    install_macros(con)
    data = spark.createDataFrame([(a, b) for a, b, _ in rows], "a STRING, b STRING")
    got = [r[0] for r in data.selectExpr(spark_condition(duckdb_sql)).collect()]
    want = [con.execute(f"SELECT {duckdb_sql} FROM (SELECT ?::VARCHAR AS a, ?::VARCHAR AS b)", [a, b]).fetchall()[0][0]
            for a, b, _ in rows]
    assert got == want == [expected for _, _, expected in rows]
