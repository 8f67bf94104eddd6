"""`moneytrail run BUNDLE --out OUT`: the batch run as a list of stages.

Each stage reads and writes named warehouse tables and can be rerun alone;
the run is their sequence, then the contract files.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from rich.console import Console

from moneytrail.errors import UserError
from moneytrail.pipeline.outputs import write_outputs
from moneytrail.pipeline.trace import RunTracer, free_disk, tracing
from moneytrail.store import Warehouse, drop_temp_tables, temp_directory

MODELS = ("default", "baseline")
ENGINES = ("duckdb", "spark")


@dataclass
class RunReport:
    out: Path
    store: Path
    stage_seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    ingest: dict[str, int] = field(default_factory=dict)
    stage_peaks: dict[str, dict[str, float]] = field(default_factory=dict)
    min_free_disk_gib: float = 0.0


@contextmanager
def out_of_disk(spill_dir: Path) -> Iterator[None]:
    """DuckDB's "failed to offload" (its spill outgrew the disk or max_temp_directory_size)
    as a UserError saying where it spilled and what to do."""
    try:
        yield
    except (duckdb.OutOfMemoryException, duckdb.IOException) as exc:
        if "offload" not in str(exc) and "No space left" not in str(exc):
            raise
        free = free_disk(spill_dir) / 2**30
        raise UserError(
            f"DuckDB ran out of disk for spilling in {spill_dir} ({free:.1f} GiB free now): "
            "free disk there, point MONEYTRAIL_TEMP_DIR at a larger disk, or raise "
            "MONEYTRAIL_MEMORY_LIMIT; see docs/scale.md, out of core"
        ) from exc


def run_batch(
    bundle: Path,
    out: Path,
    *,
    store: Path | None = None,
    model: str = "default",
    console: Console | None = None,
    scoring: dict[str, object] | None = None,
    engine: str = "duckdb",
    spark_master: str = "local[*]",
) -> RunReport:
    """Ingest `bundle` and write the contract files to `out`.

    Without `--store`, the run keeps its own warehouse in `OUT/warehouse.duckdb`,
    so the outputs cover exactly what this bundle (and earlier runs into the
    same OUT) brought. With `engine="spark"` the stages after ingestion run on
    Spark (`spark_master`), with the same SQL, and their tables come back into
    the warehouse (see `moneytrail.engine`).
    """
    from moneytrail.ingest import ingest_plan
    from moneytrail.ingest.bundle import plan_bundle

    if model not in MODELS:
        raise UserError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    if engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a directory for the results")
    plan = plan_bundle(bundle)
    if not plan.files:
        skipped = ", ".join(plan.unrecognised[:5]) or "none"
        raise UserError(
            f"no file in {bundle} is in a format moneytrail reads (skipped: {skipped}); "
            "see the data contract for the formats, or name files in sources.csv"
        )
    out.mkdir(parents=True, exist_ok=True)
    store_path = store or out / "warehouse.duckdb"
    report = RunReport(out, store_path)
    say = console.print if console else (lambda *a, **k: None)

    with Warehouse(store_path) as wh:
        spill_dir = temp_directory(wh.con)
        trace = out / "trace.jsonl" if tracing() else None
        tracer = RunTracer((str(spill_dir),), trace_file=trace)
        with tracer, out_of_disk(spill_dir):
            t0 = time.perf_counter()
            with tracer.stage("ingest", wh.con):
                ingested = ingest_plan(wh, plan, console=console)
            report.stage_seconds["ingest"] = time.perf_counter() - t0
            report.ingest = {"loaded": ingested.loaded, "quarantined": ingested.quarantined}
            if console:
                ingested.print(console)
            if engine == "spark":
                from moneytrail.engine.batch import run_on_spark

                work = out / "spark-work"
                with tracer.stage("spark"):
                    run_on_spark(wh, stages(model, scoring or {}), work=work, master=spark_master,
                                 seconds=report.stage_seconds, say=say)
                shutil.rmtree(work, ignore_errors=True)
            else:
                for name, stage in stages(model, scoring or {}):
                    t0 = time.perf_counter()
                    say(f"[bold]{name}[/] ...")
                    with tracer.stage(name, wh.con):
                        stage(wh.con)
                        drop_temp_tables(wh.con)  # no stage reads another's scratch tables
                    report.stage_seconds[name] = time.perf_counter() - t0
            t0 = time.perf_counter()
            with tracer.stage("outputs"):
                report.counts = write_outputs(wh.con, out)
            report.stage_seconds["outputs"] = time.perf_counter() - t0
        report.stage_peaks = tracer.peaks
        report.min_free_disk_gib = round((tracer.min_free_disk or 0) / 2**30, 1)
        top = tracer.top() if trace else []
    (out / "run.json").write_text(
        json.dumps(
            {
                "bundle": str(bundle),
                "scoring": {k: str(v) for k, v in (scoring or {}).items() if v is not None},
                "store": str(store_path),
                "model": model,
                "engine": engine if engine == "duckdb" else f"spark ({spark_master})",
                "stage_seconds": {k: round(v, 3) for k, v in report.stage_seconds.items()},
                "ingest": report.ingest,
                "outputs": report.counts,
                # peak resident memory of this process and bytes of DuckDB spill, per stage
                "stage_peaks": report.stage_peaks,
                "min_free_disk_gib": report.min_free_disk_gib,
                **({"trace_top": top} if top else {}),
            },
            indent=2,
        )
    )
    if console:
        for name, n in report.counts.items():
            say(f"wrote {out / name} ({n:,} rows)")
    return report


Stage = Callable[[duckdb.DuckDBPyConnection], object]


def stages(model: str = "default", scoring: dict[str, object] | None = None) -> list[tuple[str, Stage]]:
    """The batch run's stages in order; `scoring` holds the options of `score`."""
    from moneytrail.network import run_network
    from moneytrail.referrals import run_referrals
    from moneytrail.resolve import resolve
    from moneytrail.scoring import score

    if model == "baseline":
        from moneytrail.evaluate.baseline import baseline_run

        return [("resolve", resolve), ("baseline", baseline_run)]
    run: list[tuple[str, Stage]] = [
        ("resolve", resolve),
        ("referrals", run_referrals),
        ("score", lambda con: score(con, **(scoring or {}))),  # type: ignore[arg-type]
        ("network", run_network),
    ]
    budget = (scoring or {}).get("alert_budget")
    if budget is not None:
        from moneytrail.scoring import apply_alert_budget

        run.append(("alert budget", lambda con: apply_alert_budget(con, float(budget))))  # type: ignore[arg-type]
    return run
