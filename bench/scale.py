"""End-to-end scale benchmark: `moneytrail run` at millions of transactions, on DuckDB and Spark.

For each size (millions of transactions) a synthetic world is generated once
(kept under --work for reruns), then `moneytrail run BUNDLE --out OUT --engine E`
runs in a child process while this script samples the memory of its whole
process tree (the Python driver and, with Spark, the JVM). Then each stage's
time is set against one scan of the tables it reads (every column of every
row: the lower bound for a stage that must look at its input), with the same
engine: DuckDB over the warehouse, Spark over the same tables as Parquet.

    python bench/scale.py --sizes 1,5 --engines duckdb,spark
    python bench/scale.py --sizes 20 --generate-only      # only the world, for a later run

Runs get MONEYTRAIL_TRACE=1 (OUT/trace.jsonl: memory and spill per statement, written as
the run goes); each result keeps the per-stage peak memory and spill of run.json, the
store's size and the free disk. A size whose world, store and spill would not fit the
free disk under --work (WORLD_GB_PER_M, RUN_GB_PER_M) stops before any work.

Writes bench/results/scale.json (figures of earlier sizes/engines are kept) and
bench/results/scale.png. Needs PySpark (the `spark` extra) and Java 17+ for Spark.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from moneytrail.pipeline.trace import free_disk

TXNS_PER_SCALE = 58_000  # bench/results/synth.json: ~58,000 transactions per unit of world scale
# Disk per million transactions (GB), measured (docs/scale.md, out of core): the generated
# world (bundle and truth: 2.6 GB at 5 M), and a DuckDB run's store, outputs and peak spill,
# the warehouse's and Splink's (5 M at a 20 M-like memory limit: 9.5 GB; the first 20 M
# run: 41 GB after 25 minutes).
WORLD_GB_PER_M = 0.55
RUN_GB_PER_M = 2.0
DISK_MARGIN = 1.1
RESULTS = Path(__file__).parent / "results"

# the tables each stage reads; "ingest" reads the bundle's files
STAGE_INPUTS = {
    "resolve": ["parties", "transactions", "referral_subjects", "referral_identifiers"],
    "referrals": [
        "transactions",
        "parties",
        "subject_records",
        "referral_subjects",
        "referral_identifiers",
        "referral_ip_events",
        "referral_sessions",
    ],
    "score": ["transactions", "parties", "subject_records"],
    "network": [
        "transactions",
        "parties",
        "subject_records",
        "subject_scores",
        "transaction_scores",
    ],
    "outputs": [
        "transactions",
        "transaction_scores",
        "subject_scores",
        "subject_records",
        "quarantine",
    ],
}

SPARK_SCAN = """
import json, sys, time
from pyspark.sql import functions as F
from moneytrail.engine.session import spark_session
spark = spark_session(sys.argv[2])
out = {}
for name in sys.argv[3:]:
    df = spark.read.parquet(f"{sys.argv[1]}/{name}.parquet")
    df.select([F.max(F.col(c).cast("string")) for c in df.columns]).collect()  # warm the JVM and cache footers
    t = time.perf_counter()
    df.select([F.max(F.col(c).cast("string")) for c in df.columns]).collect()
    out[name] = time.perf_counter() - t
print(json.dumps(out))
"""


def _tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):  # the process ended meanwhile
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        todo += children.get(pid, [])
    return total


def _dir_bytes(path: Path) -> int:
    """Disk bytes of the files under `path` (0 if it is missing)."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, f)).st_blocks * 512
    return total


def disk_needed(millions: float, world_exists: bool, engine: str | None) -> int:
    """Bytes a run of this size needs free (world if not generated yet, store, spill,
    outputs); with no engine, the world alone."""
    gb = 0.0 if world_exists else WORLD_GB_PER_M * millions
    if engine is not None:
        gb += RUN_GB_PER_M * millions
    if engine == "spark":
        gb += RUN_GB_PER_M * millions  # the tables again as Parquet, and Spark's shuffle
    return int(gb * DISK_MARGIN * 1e9)


def check_disk(work: Path, millions: float, engines: list[str]) -> None:
    """Stop before hours of work if the disk under --work cannot hold the run."""
    world_exists = (work / f"world-{millions:g}m" / "done.json").exists()
    need = max(disk_needed(millions, world_exists, e) for e in [*engines, None])
    free = free_disk(work)
    if free < need:
        sys.exit(
            f"bench/scale.py: {millions:g} M transactions need about {need / 1e9:.0f} GB free under "
            f"{work} ({'' if world_exists else 'world; '}{'store, spill, outputs' if engines else ''}) and "
            f"{free / 1e9:.0f} GB are: free disk, or give --work on a larger disk"
        )


def run_measured(
    cmd: list[str], env: dict[str, str], watch: Path | None = None
) -> tuple[float, int, dict[str, int]]:
    """Wall seconds and peak process-tree RSS (bytes) of `cmd`, and the peak bytes of
    the directory `watch` (the run's OUT: store and spill) and the least free disk."""
    peak = 0
    disk = {"peak_out_bytes": 0, "min_free_disk_bytes": free_disk(watch or Path.cwd())}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        n = 0
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            if watch is not None and n % 10 == 0:  # walking the directory every 5 s is enough
                disk["peak_out_bytes"] = max(disk["peak_out_bytes"], _dir_bytes(watch))
                disk["min_free_disk_bytes"] = min(disk["min_free_disk_bytes"], free_disk(watch))
            n += 1
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    done.set()
    sampler.join()
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed after {secs:.0f} s (peak {peak / 2**30:.1f} GiB, OUT up to "
            f"{disk['peak_out_bytes'] / 1e9:.1f} GB, least free disk "
            f"{disk['min_free_disk_bytes'] / 1e9:.1f} GB):\n{err[-3000:]}"
            + (trace_summary(watch / "trace.jsonl") if watch is not None else "")
        )
    return secs, peak, disk


def trace_summary(trace: Path) -> str:
    """Per stage, the peaks in a run's trace.jsonl (written as it goes: it outlives a crash)."""
    if not trace.exists():
        return ""
    peaks: dict[str, list[int]] = {}
    last = ""
    for line in trace.read_text().splitlines():
        with contextlib.suppress(ValueError, KeyError):
            row = json.loads(line)
            p = peaks.setdefault(row["stage"], [0, 0])
            p[0], p[1] = max(p[0], row["rss_mib"]), max(p[1], row["spill_mib"])
            last = f"{row['stage']} at {row['at']}"
    stages = ", ".join(f"{s} {r} MiB RSS / {sp} MiB spill" for s, (r, sp) in peaks.items())
    return f"\ntrace {trace}: {stages}; last sample in {last}"


def write_results(out: Path, results: list[dict[str, Any]]) -> None:
    """A bench's results file: the machine, the Python, and the rows measured on them."""
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": f"{platform.platform()}, {os.cpu_count()} cores", "python": platform.python_version()}
    out.write_text(json.dumps({**meta, "results": results}, indent=2) + "\n")


def ensure_world(work: Path, millions: float, seed: int) -> tuple[Path, int]:
    world = work / f"world-{millions:g}m"
    marker = world / "done.json"
    if not marker.exists():
        from moneytrail.synth import generate

        scale = millions * 1_000_000 / TXNS_PER_SCALE
        print(f"generating {millions:g} M transactions (scale {scale:.1f}) ...", flush=True)
        t = time.perf_counter()
        r = generate(world, scale=scale, seed=seed)
        marker.write_text(
            json.dumps(
                {
                    "transactions": r.summary["transactions"],
                    "seconds": round(time.perf_counter() - t, 1),
                }
            )
        )
    return world / "bundle", int(json.loads(marker.read_text())["transactions"])


def duckdb_scans(store: Path, bundle: Path) -> dict[str, float]:
    """Seconds of one full scan of each stage's input, with DuckDB."""
    import duckdb

    con = duckdb.connect(str(store), read_only=True)

    def scan(sql: str) -> float:
        con.execute(sql).fetchall()  # warm the cache: both runs and scans read from memory
        t = time.perf_counter()
        con.execute(sql).fetchall()
        return time.perf_counter() - t

    tables = {n for names in STAGE_INPUTS.values() for n in names}
    table_s = {n: scan(f"SELECT max(COLUMNS(*)::VARCHAR) FROM {n}") for n in tables}
    out = {stage: sum(table_s[n] for n in names) for stage, names in STAGE_INPUTS.items()}
    csvs = [p for p in bundle.rglob("*.csv") if p.name not in ("sources.csv", "fx_rates.csv")]
    others = [
        p for p in bundle.rglob("*") if p.is_file() and p.suffix in (".xml", ".jsonl", ".json")
    ]
    # the bundle holds malformed records on purpose: read as leniently as the ingest reader's first pass
    reader = (
        "header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"', "
        "strict_mode = false, ignore_errors = true, null_padding = true"
    )
    out["ingest"] = sum(
        scan(f"SELECT max(COLUMNS(*)) FROM read_csv('{p}', {reader})") for p in csvs
    )
    out["ingest"] += sum(scan(f"SELECT max(length(content)) FROM read_text('{p}')") for p in others)
    con.close()
    return out


def spark_scans(store: Path, master: str) -> dict[str, float]:
    """Seconds of one full scan of each stage's input, with Spark over the same tables as Parquet."""
    import duckdb

    tables = sorted({n for names in STAGE_INPUTS.values() for n in names})
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(store), read_only=True)
        for n in tables:
            con.execute(f"COPY {n} TO '{tmp}/{n}.parquet' (FORMAT parquet)")
        con.close()
        proc = subprocess.run(
            [sys.executable, "-c", SPARK_SCAN, tmp, master, *tables],
            capture_output=True,
            text=True,
            check=True,
        )
        table_s = json.loads(proc.stdout.strip().splitlines()[-1])
    return {stage: sum(table_s[n] for n in names) for stage, names in STAGE_INPUTS.items()}


def bench_one(bundle: Path, txns: int, engine: str, work: Path, master: str) -> dict[str, Any]:
    out = work / f"run-{bundle.parent.name}-{engine}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    cmd = [
        sys.executable,
        "-m",
        "moneytrail",
        "run",
        str(bundle),
        "--out",
        str(out),
        "--engine",
        engine,
    ]
    if engine == "spark":
        cmd += ["--spark-master", master]
    load_before = os.getloadavg()[0]
    # the trace is written as the run goes: if it dies, its last lines say where and how big
    env = {**os.environ, "MONEYTRAIL_TRACE": os.environ.get("MONEYTRAIL_TRACE", "1")}
    cpu0 = os.times()
    secs, peak, disk = run_measured(cmd, env, watch=out)
    cpu1 = os.times()
    load_after = os.getloadavg()[0]
    run = json.loads((out / "run.json").read_text())
    stages = run["stage_seconds"]
    store_bytes = (out / "warehouse.duckdb").stat().st_size
    # ingestion and the contract files are DuckDB's on both engines; the stages between are the engine's
    scans = duckdb_scans(out / "warehouse.duckdb", bundle)
    if engine == "spark":
        spark = spark_scans(out / "warehouse.duckdb", master)
        scans.update(
            {k: v for k, v in spark.items() if k in ("resolve", "referrals", "score", "network")}
        )
    ratio = {s: round(stages[s] / scans[s], 1) for s in stages if s in scans and scans[s] > 0}
    return {
        "engine": engine,
        "transactions": txns,
        "wall_seconds": round(secs, 1),
        "peak_rss_mib": round(peak / 2**20),
        "cpu_seconds": round(
            (cpu1.children_user - cpu0.children_user) + (cpu1.children_system - cpu0.children_system), 1
        ),
        "stage_seconds": stages,
        # per stage: peak RSS of the run's process, peak DuckDB spill (run.json)
        "stage_peaks": run.get("stage_peaks", {}),
        "store_gb": round(store_bytes / 1e9, 2),
        "peak_out_gb": round(disk["peak_out_bytes"] / 1e9, 2),
        "free_disk_gb": [round(disk["min_free_disk_bytes"] / 1e9, 1)],
        "scan_seconds": {k: round(v, 3) for k, v in scans.items()},
        "stage_to_scan_ratio": ratio,
        "load_average": [round(load_before, 1), round(load_after, 1)],
    }


def chart(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    stages = [
        "ingest",
        "to parquet",
        "spark start",
        "resolve",
        "referrals",
        "score",
        "network",
        "alert budget",
        "from parquet",
        "outputs",
    ]
    labels = [f"{r['transactions'] / 1e6:.1f} M\n{r['engine']}" for r in results]
    bottoms = [0.0] * len(results)
    for stage in stages:
        vals = [float(r["stage_seconds"].get(stage, 0.0)) / 60 for r in results]
        if any(vals):
            ax_t.bar(labels, vals, bottom=bottoms, label=stage)
            bottoms = [b + v for b, v in zip(bottoms, vals, strict=True)]
    ax_t.set_ylabel("minutes (stage times from run.json)")
    ax_t.set_title("moneytrail run, end to end")
    ax_t.legend(fontsize=7)
    ax_m.bar(labels, [float(r["peak_rss_mib"]) / 1024 for r in results], color="#777")
    ax_m.set_ylabel("GiB")
    ax_m.set_title("peak memory (process tree)")
    fig.text(0.01, 0.01, "2-core shared machine; load average in scale.json", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="1,5", help="millions of transactions, comma-separated")
    ap.add_argument("--engines", default="duckdb,spark")
    ap.add_argument("--spark-master", default="local[*]")
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "moneytrail-scale")
    ap.add_argument(
        "--generate-only",
        action="store_true",
        help="only generate the worlds of --sizes under --work (kept for later runs), run nothing",
    )
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.generate_only:
        for millions in [float(s) for s in args.sizes.split(",")]:
            check_disk(args.work, millions, [])
            bundle, txns = ensure_world(args.work, millions, args.seed)
            print(f"{txns:,} transactions in {bundle}", flush=True)
        return
    new = []
    for millions in [float(s) for s in args.sizes.split(",")]:
        free_at_start = free_disk(args.work)
        check_disk(args.work, millions, args.engines.split(","))
        bundle, txns = ensure_world(args.work, millions, args.seed)
        for engine in args.engines.split(","):
            r = bench_one(bundle, txns, engine, args.work, args.spark_master)
            r["free_disk_gb"].insert(0, round(free_at_start / 1e9, 1))  # [at start, least during run]
            new.append(r)
            print(
                f"{txns:>11,} txns  {engine:<6} {r['wall_seconds']:>8.1f} s  peak {r['peak_rss_mib']:>6} MiB  "
                f"load {r['load_average']}  ratio to one scan {r['stage_to_scan_ratio']}",
                flush=True,
            )
    out = RESULTS / "scale.json"
    results = new
    if out.exists():  # keep figures of sizes and engines not rerun
        done = {(r["engine"], r["transactions"]) for r in new}
        results = [
            r
            for r in json.loads(out.read_text())["results"]
            if (r["engine"], r["transactions"]) not in done
        ] + new
    results.sort(key=lambda r: (r["engine"], r["transactions"]))
    write_results(out, results)
    chart(results, RESULTS / "scale.png")
    print(f"written: {out} and {RESULTS / 'scale.png'}")


if __name__ == "__main__":
    main()
