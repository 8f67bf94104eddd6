"""Ingestion speed and memory, measured against DuckDB's own CSV reader.

    python bench/ingest.py --scale 20          # about 1 million transactions
    python bench/ingest.py --scale 100 --memory  # also peak memory of a 5-million bundle

Prints the figures and writes them to bench/results/ingest.json. All in one run,
on the same files: our CSV rate is reported as a ratio of DuckDB reading the same
files alone into a table (the lower bound of any CSV ingestion built on it).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from moneytrail.ingest import ingest_file
from moneytrail.ingest.bundle import plan_bundle
from moneytrail.store import Warehouse

RESULTS = Path(__file__).parent / "results" / "ingest.json"


def duckdb_read_alone(paths: list[Path]) -> tuple[float, int]:
    con = duckdb.connect()
    rows = 0
    t0 = time.perf_counter()
    for p in paths:
        con.execute(
            f"CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv('{p}', all_varchar = true, header = true, "
            "store_rejects = true)"
        )
        rows += con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    return time.perf_counter() - t0, rows


def ingest_files(store: Path, files: list) -> tuple[float, int]:
    with Warehouse(store) as wh:
        t0 = time.perf_counter()
        n = 0
        for f in files:
            r = ingest_file(wh, f)
            n += r.loaded + r.quarantined
        return time.perf_counter() - t0, n


def median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory", action="store_true", help="peak memory of a whole-bundle ingest (subprocess)")
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

    duck, ours, xml = [], [], []
    for i in range(args.repeat):
        secs, rows = duckdb_read_alone([f.path for f in csv_files])
        duck.append(secs)
        secs, _ = ingest_files(work / f"csv{i}.duckdb", csv_files)
        ours.append(secs)
        secs, nx = ingest_files(work / f"xml{i}.duckdb", xml_files)
        xml.append(secs)
    figures: dict[str, object] = {
        "world": str(args.world) if args.world else f"synth scale {args.scale} seed {args.seed}",
        "csv_records": rows,
        "csv_duckdb_read_alone_s": round(median(duck), 3),
        "csv_moneytrail_ingest_s": round(median(ours), 3),
        "csv_duckdb_records_per_s": round(rows / median(duck)),
        "csv_moneytrail_records_per_s": round(rows / median(ours)),
        "csv_ratio_to_duckdb": round(median(duck) / median(ours), 3),
        "pacs008_transactions": nx,
        "pacs008_ingest_s": round(median(xml), 3),
        "pacs008_transactions_per_s": round(nx / median(xml)) if xml and median(xml) else None,
        "repeats": args.repeat,
    }
    if args.memory:
        store = work / "all.duckdb"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "moneytrail", "ingest", str(world / "bundle"), "--store", str(store)],
                       check=True, capture_output=True)
        figures["whole_bundle_ingest_s"] = round(time.perf_counter() - t0, 1)
        figures["whole_bundle_peak_rss_mib"] = round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        )
    for k, v in figures.items():
        print(f"{k:32} {v}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
