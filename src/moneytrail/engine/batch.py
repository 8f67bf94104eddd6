"""The batch run's stages on Spark: warehouse tables out to Parquet, stages on Spark, results back.

Ingestion stays where it is: each provider file is parsed, validated and
quarantined by DuckDB (one file at a time, its reject tables give true line
numbers), and the canonical tables go to Parquet. From there every stage runs
on Spark through :class:`SparkConnection`, with the same SQL as on DuckDB. The
tables the stages write come back into the DuckDB warehouse, so the contract
files, ``explain``, ``status`` and the web UI read a Spark run as any other.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import duckdb

from moneytrail.engine.session import spark_session
from moneytrail.engine.spark_engine import SparkConnection
from moneytrail.store import Warehouse

Stage = Callable[[duckdb.DuckDBPyConnection], object]


def warehouse_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_catalog <> 'temp' AND table_type = 'BASE TABLE' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def export_parquet(con: duckdb.DuckDBPyConnection, folder: Path) -> dict[str, Path]:
    """Every table of the warehouse as one Parquet file in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in warehouse_tables(con):
        path = folder / f"{name}.parquet"
        con.execute(f"COPY {name} TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
        out[name] = path
    return out


def import_parquet(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> None:
    """Replace warehouse table `name` with Spark's Parquet; Spark's UTC instants become naive UTC."""
    cols = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}/*.parquet')").fetchall()
    select = ", ".join(
        f'CAST("{c}" AS TIMESTAMP) AS "{c}"' if t.startswith("TIMESTAMP WITH TIME ZONE") else f'"{c}"'
        for c, t, *_ in cols
    )
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {select} FROM read_parquet('{path}/*.parquet')")


def spark_stages(stage_list: list[tuple[str, Stage]]) -> list[tuple[str, Stage]]:
    """The stages as they run on Spark: resolution scores its pairs with Splink's Spark
    backend (trained in the driver as on DuckDB, see :mod:`moneytrail.engine.splink_spark`)."""
    from moneytrail.resolve import ResolveSettings, resolve

    on_spark = functools.partial(resolve, settings=ResolveSettings(backend="spark"))
    return [(name, on_spark if stage is resolve else stage) for name, stage in stage_list]


def run_on_spark(
    wh: Warehouse,
    stage_list: list[tuple[str, Stage]],
    *,
    work: Path,
    master: str,
    seconds: dict[str, float],
    say: Callable[..., Any] = lambda *a, **k: None,
) -> SparkConnection:
    """Run `stage_list` on Spark over the warehouse's tables; write their tables back into `wh`."""
    t0 = time.perf_counter()
    base = export_parquet(wh.con, work / "base")
    seconds["to parquet"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    spark = spark_session(master, local_dir=work / "spill")
    # about one shuffle partition per 100,000 transactions: few tasks on small data
    n = int(wh.con.execute("SELECT count(*) FROM transactions").fetchall()[0][0])
    spark.conf.set("spark.sql.shuffle.partitions", str(max(2, min(400, n // 100_000))))
    con = SparkConnection(spark, work / "tables")
    # statement by statement as the run goes on, in OUT (the run removes its spark-work folder)
    con.log = work.parent / "spark-statements.jsonl"
    con.log.unlink(missing_ok=True)
    for name, path in base.items():
        con.load_parquet(name, path)
    seconds["spark start"] = time.perf_counter() - t0

    statements: list[dict[str, Any]] = []
    for name, stage in spark_stages(stage_list):
        t0 = time.perf_counter()
        say(f"[bold]{name}[/] (spark) ...")
        first = len(con.timings)
        try:
            stage(cast(duckdb.DuckDBPyConnection, con))  # the stages use DuckDB's connection surface
        finally:
            seconds[name] = time.perf_counter() - t0
            statements += [{"stage": name, "seconds": round(s, 3), "sql": sql} for s, sql in con.timings[first:]]
            # each statement's wall time, for the benchmarks (what a stage spends where on Spark)
            (work / "statements.json").write_text(json.dumps(statements, indent=1))

    t0 = time.perf_counter()
    for name in con.table_names(include_temp=False):
        if name in base and not con.changed(name):
            continue
        path = work / "results" / name
        con.write_parquet(name, path)
        import_parquet(wh.con, name, path)
    seconds["from parquet"] = time.perf_counter() - t0
    return con
