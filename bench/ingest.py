"""Ingestion speed and memory, measured against DuckDB's own CSV reader.

    python bench/ingest.py --scale 20          # about 1 million transactions
    python bench/ingest.py --scale 100 --memory  # also peak memory of a 5-million bundle

Prints the figures and writes them to bench/results/ingest.json. All in one run,
on the same files: our CSV rate is reported as a ratio of DuckDB reading the same
files alone into a table (the lower bound of any CSV ingestion built on it).
Files go through the path `moneytrail ingest` takes: a provider's consecutive
files in batches (`file_batches`), each batch in one transaction. Each figure
comes with the CPU seconds of this process (DuckDB's threads included) and the
load average around it: the machine is shared, so wall time alone misleads.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from moneytrail.ingest import file_batches, ingest_batch, load_fx_rates
from moneytrail.ingest.bundle import SourceFile, plan_bundle
from moneytrail.store import Warehouse

RESULTS = Path(__file__).parent / "results" / "ingest.json"


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children (the pacs.008 parser processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def duckdb_read_alone(paths: list[Path]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and rows of DuckDB reading the files into an in-memory table."""
    con = duckdb.connect()
    rows = 0
    t0, c0 = time.perf_counter(), _cpu()
    for p in paths:
        con.execute(
            f"CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv('{p}', all_varchar = true, header = true, "
            "store_rejects = true)"
        )
        rows += con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    return time.perf_counter() - t0, _cpu() - c0, rows


def ingest_files(
    store: Path, files: list[SourceFile], fx_file: Path | None
) -> tuple[float, float, int, float]:
    """Wall seconds, CPU seconds, records (loaded + quarantined) of ingesting the files, batched,
    and the CPU seconds of parser processes among them."""
    with Warehouse(store) as wh:
        if fx_file is not None:
            load_fx_rates(wh, fx_file)
        t0, c0, k0 = time.perf_counter(), _cpu(), _children_cpu()
        n = 0
        for batch in file_batches(files):
            for r in ingest_batch(wh, batch):
                n += r.loaded + r.quarantined
        return time.perf_counter() - t0, _cpu() - c0, n, _children_cpu() - k0


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--memory", action="store_true", help="peak memory of a whole-bundle ingest (subprocess)"
    )
    ap.add_argument("--world", type=Path, help="reuse a world generated before")
    args = ap.parse_args()

    from moneytrail.synth.world import generate

    work = Path(tempfile.mkdtemp(prefix="mt-bench-ingest-"))
    world = args.world or work / "world"
    if args.world is None:
        generate(world, scale=args.scale, seed=args.seed, show_progress=False)
    plan = plan_bundle(world / "bundle")
    csv_files = [f for f in plan.files if f.format.endswith("-csv")]
    xml_files = [f for f in plan.files if f.format == "pacs008"]

    duck, ours, xml, xml_child = [], [], [], []
    load_before = _load()
    for i in range(args.repeat):
        wall, cpu, rows = duckdb_read_alone([f.path for f in csv_files])
        duck.append((wall, cpu))
        wall, cpu, n_csv, _ = ingest_files(work / f"csv{i}.duckdb", csv_files, plan.fx_file)
        ours.append((wall, cpu))
        wall, cpu, nx, child = ingest_files(work / f"xml{i}.duckdb", xml_files, plan.fx_file)
        xml.append((wall, cpu))
        xml_child.append(child)
        print(
            f"repeat {i}: duckdb {duck[-1][0]:.1f} s, ours {ours[-1][0]:.1f} s, pacs.008 {xml[-1][0]:.1f} s, "
            f"load {_load()[0]}",
            flush=True,
        )
    d_wall, d_cpu = median([w for w, _ in duck]), median([c for _, c in duck])
    o_wall, o_cpu = median([w for w, _ in ours]), median([c for _, c in ours])
    x_wall, x_cpu = median([w for w, _ in xml]), median([c for _, c in xml])
    figures: dict[str, object] = {
        "world": str(args.world) if args.world else f"synth scale {args.scale} seed {args.seed}",
        "path": "batched, as moneytrail ingest (file_batches + ingest_batch)",
        "csv_records": rows,
        "csv_records_ingested": n_csv,
        "csv_duckdb_read_alone_s": round(d_wall, 3),
        "csv_duckdb_read_alone_cpu_s": round(d_cpu, 3),
        "csv_moneytrail_ingest_s": round(o_wall, 3),
        "csv_moneytrail_ingest_cpu_s": round(o_cpu, 3),
        "csv_duckdb_records_per_s": round(rows / d_wall),
        "csv_moneytrail_records_per_s": round(rows / o_wall),
        "csv_moneytrail_records_per_cpu_s": round(rows / o_cpu),
        "csv_ratio_to_duckdb": round(d_wall / o_wall, 3),
        "csv_ratio_to_duckdb_cpu": round(d_cpu / o_cpu, 3),
        "pacs008_transactions": nx,
        "pacs008_ingest_s": round(x_wall, 3),
        "pacs008_ingest_cpu_s": round(x_cpu, 3),
        "pacs008_parser_process_cpu_s": round(median(xml_child), 3),
        "pacs008_transactions_per_s": round(nx / x_wall) if x_wall else None,
        "pacs008_transactions_per_cpu_s": round(nx / x_cpu) if x_cpu else None,
        "repeats": args.repeat,
        "all_csv_ratio_to_duckdb": [round(d[0] / o[0], 3) for d, o in zip(duck, ours, strict=True)],
        "all_csv_ratio_to_duckdb_cpu": [
            round(d[1] / o[1], 3) for d, o in zip(duck, ours, strict=True)
        ],
        "load_before": load_before,
        "load_after": _load(),
    }
    if args.memory:
        store = work / "all.duckdb"
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "moneytrail",
                "ingest",
                str(world / "bundle"),
                "--store",
                str(store),
            ],
            check=True,
            capture_output=True,
        )
        figures["whole_bundle_ingest_s"] = round(time.perf_counter() - t0, 1)
        figures["whole_bundle_peak_rss_mib"] = round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        )
    for k, v in figures.items():
        print(f"{k:32} {v}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
