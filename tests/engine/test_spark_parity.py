"""The Spark engine gives the DuckDB engine's answers: statement by statement, then a whole run.

One SparkSession (local[2]) serves the module. Needs PySpark (the `spark` extra) and Java 17+.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from moneytrail.engine import spark_engine
from moneytrail.engine.session import spark_session
from moneytrail.engine.spark_engine import SparkConnection
from moneytrail.pipeline.run import run_batch
from moneytrail.store import table_exists
from moneytrail.synth.world import generate


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    session = spark_session("local[2]", local_dir=tmp_path_factory.mktemp("spill"))
    yield session
    session.stop()


SETUP = [
    "CREATE TABLE t (id BIGINT, name VARCHAR, a TIMESTAMP, b TIMESTAMP, n INTEGER, tags VARCHAR)",
    "INSERT INTO t VALUES (1, 'José Núñez', TIMESTAMP '2026-01-01 10:00:59', TIMESTAMP '2026-01-01 10:01:00', 3, 'b a c'),"
    " (2, 'Zoë', TIMESTAMP '2025-12-31 23:59:59', TIMESTAMP '2026-01-01 00:00:00', 1, ''),"
    " (3, NULL, TIMESTAMP '2026-01-01 00:00:00', NULL, NULL, 'x'),"
    " (4, 'ana', TIMESTAMP '2026-01-01 00:00:00', TIMESTAMP '2026-01-01 02:30:00', 3, 'a')",
    "CREATE TABLE u (id BIGINT, label VARCHAR)",
    "INSERT INTO u VALUES (1, 'one'), (4, 'four'), (4, 'four again')",
]

# each query is the DuckDB SQL a stage would write; both engines must agree
QUERIES = [
    "SELECT id, strip_accents(name) FROM t ORDER BY id",
    "SELECT id, date_diff('minute', a, b), date_diff('second', a, b), date_diff('year', a, b), date_diff('hour', a, b) FROM t ORDER BY id",
    "SELECT id, len(list_filter(string_split(tags, ' '), lambda x: x <> '')) FROM t ORDER BY id",
    "SELECT id, array_to_string(list_sort(string_split(tags, ' ')), '+') FROM t ORDER BY id",
    "SELECT n, list(name ORDER BY id DESC) FILTER (WHERE name IS NOT NULL)[1:2] FROM t GROUP BY n ORDER BY n NULLS LAST",
    "SELECT count(DISTINCT hash(name, tags, n)) FROM t",
    "SELECT n, row_number() OVER (ORDER BY k) FROM (SELECT n, min((name, id)) AS k FROM t WHERE name IS NOT NULL GROUP BY n) ORDER BY n",
    "SELECT id, a - INTERVAL (60) SECOND FROM t ORDER BY id",
    "SELECT id FROM t WHERE (id, name) IN (SELECT (id, name) FROM t WHERE n = 3) ORDER BY id",
    "SELECT n, any_value(name) FILTER (WHERE id > 1) FROM t WHERE n = 1 GROUP BY n",
    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'u'",
    "SELECT n, array_to_string(list_sort(list(DISTINCT tags)), ';') FROM t GROUP BY n ORDER BY n NULLS LAST",
    "WITH m AS MATERIALIZED (SELECT id FROM t WHERE n = 3) SELECT count(*) FROM m",
    "SELECT id, regexp_full_match(tags, '[a-z]( [a-z])*'), regexp_full_match(tags, 'b') FROM t ORDER BY id",
]


def _duck() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for sql in SETUP:
        con.execute(sql)
    return con


def test_statements_mean_the_same(spark: Any, tmp_path: Path) -> None:
    duck, sc = _duck(), SparkConnection(spark, tmp_path / "tables")
    for sql in SETUP:
        sc.execute(sql)
    for sql in QUERIES:
        assert sc.execute(sql).fetchall() == duck.execute(sql).fetchall(), sql


@pytest.mark.parametrize("broadcast", [True, False])
def test_dml_means_the_same(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broadcast: bool) -> None:
    if not broadcast:  # an UPDATE's matches joined back by a shuffle, as when there are many
        monkeypatch.setattr(spark_engine, "BROADCAST_MATCHES", 0)
    one_pass: list[bool] = []  # whether each UPDATE was done in one read and write of its table
    in_one_pass = SparkConnection._update_in_one_pass

    def spy(self: SparkConnection, *args: Any) -> Any:
        done = in_one_pass(self, *args)
        one_pass.append(done is not None)
        return done

    monkeypatch.setattr(SparkConnection, "_update_in_one_pass", spy)
    duck, sc = _duck(), SparkConnection(spark, tmp_path / "tables")
    for sql in SETUP:
        sc.execute(sql)
    steps = [
        "UPDATE t SET name = u.label, n = n + 10 FROM u WHERE u.id = t.id AND u.label = 'one'",
        "UPDATE t SET tags = NULL WHERE n IS NULL",
        "UPDATE t SET n = 0 WHERE id = 42",  # no row: the table is left as it is
        # row 4 matches two rows of u: DuckDB updates it once (the one-pass join would write it
        # twice, so the engine takes the general way)
        "UPDATE t SET n = t.n + 100 FROM u WHERE u.id = t.id",
        # a CASE a column, with IN subqueries (resolve's blank_shared)
        "UPDATE t SET tags = CASE WHEN t.tags IN (SELECT tags FROM t WHERE n = 1) THEN NULL ELSE t.tags END, "
        "name = CASE WHEN t.id IN (SELECT id FROM u) THEN NULL ELSE t.name END "
        "WHERE t.id > 1 AND (t.tags IN (SELECT tags FROM t WHERE n = 1) OR t.id IN (SELECT id FROM u))",
        "DELETE FROM t WHERE id = 2",
        "INSERT INTO u BY NAME SELECT 'five' AS label, 5 AS id",
        "CREATE OR REPLACE TEMP TABLE w AS SELECT t.id, t.name FROM t ANTI JOIN u USING (id)",
        # a table written anew from itself (resolve's build_profiles)
        "CREATE OR REPLACE TABLE u AS SELECT u.id, coalesce(w.name, u.label) AS label FROM u LEFT JOIN w USING (id)",
    ]
    for sql in steps:
        sc.execute(sql)
        duck.execute(sql)
    # an UPDATE tells how many rows it changed
    for count, n in (("UPDATE t SET n = n + 1 WHERE id IN (1, 4)", 2),
                     ("UPDATE t SET name = w.name FROM w WHERE w.id = t.id AND w.id = 3", 1)):
        assert sc.execute(count).fetchall() == duck.execute(count).fetchall() == [(n,)], count
    for q in ("SELECT * FROM t ORDER BY id", "SELECT * FROM u ORDER BY id, label"):
        assert sc.execute(q).fetchall() == duck.execute(q).fetchall(), q
    # the row matched twice took the general way; the others were done in one pass
    assert one_pass == [True, True, True, False, True, True, True]
    for q in ("SELECT * FROM t ORDER BY id", "SELECT * FROM u ORDER BY id, label", "SELECT * FROM w ORDER BY id"):
        assert sc.execute(q).fetchall() == duck.execute(q).fetchall(), q
    assert sc.execute("INSERT INTO u VALUES (?, ?)", [6, "six"]).fetchall() == [(1,)]
    assert table_exists(sc, "w") and not table_exists(sc, "nope")  # type: ignore[arg-type]
    # DuckDB settings (network.release_cache) mean nothing on Spark: SET is kept, and read back
    assert sc.execute("SELECT current_setting('memory_limit')").fetchall() == [(None,)]
    sc.execute("SET memory_limit = '256MB'")
    assert sc.execute("SELECT current_setting('memory_limit') AS m").fetchall() == [("256MB",)]


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def _canonical_ids(out: Path) -> dict[str, str]:
    """subject id -> a name that does not depend on numbering: its first record."""
    records: dict[str, list[tuple[str, ...]]] = {}
    for row in _read(out / "subject_records.csv")[1:]:
        records.setdefault(row[0], []).append(tuple(row[1:]))
    return {sid: "|".join(min(recs)) for sid, recs in records.items()}


def test_a_run_on_spark_writes_the_duckdb_run_files(spark: Any, tmp_path: Path) -> None:
    generate(tmp_path / "w", scale=0.05, seed=11)
    bundle = tmp_path / "w" / "bundle"
    duck_out, spark_out = tmp_path / "duckdb", tmp_path / "spark"
    run_batch(bundle, duck_out)
    run_batch(bundle, spark_out, engine="spark", spark_master="local[2]")
    assert json.loads((spark_out / "run.json").read_text())["engine"].startswith("spark")
    # every statement's seconds, kept in OUT after the run removed its work folder
    logged = [json.loads(line) for line in (spark_out / "spark-statements.jsonl").read_text().splitlines()]
    assert any(r["sql"].startswith("UPDATE resolve_records") for r in logged)

    scores = _read(duck_out / "transaction_scores.csv")
    assert len(scores) > 1000 and any(r[3] == "1" for r in scores[1:])  # a real run, with alerts
    assert _read(spark_out / "transaction_scores.csv") == scores

    duck_ids, spark_ids = _canonical_ids(duck_out), _canonical_ids(spark_out)
    for name in ("subject_records.csv", "subjects.csv"):
        duck_rows = sorted([duck_ids.get(r[0], r[0]), *r[1:]] for r in _read(duck_out / name)[1:])
        spark_rows = sorted([spark_ids.get(r[0], r[0]), *r[1:]] for r in _read(spark_out / name)[1:])
        assert len(duck_rows) > 100
        assert spark_rows == duck_rows, name
