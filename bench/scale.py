"""End-to-end scale benchmark: `moneytrail run` at millions of transactions, on DuckDB and Spark.

For each size (millions of transactions) a synthetic world is generated once
(kept under --work for reruns), then `moneytrail run BUNDLE --out OUT --engine E`
runs in a child process while this script samples the memory of its whole
process tree (the Python driver and, with Spark, the JVM). Then each stage's
time is set against one scan of the tables it reads (every column of every
row: the lower bound for a stage that must look at its input), with the same
engine: DuckDB over the warehouse, Spark over the same tables as Parquet.

    python bench/scale.py --sizes 1,5 --engines duckdb,spark

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

TXNS_PER_SCALE = 58_000  # bench/results/synth.json: ~58,000 transactions per unit of world scale
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


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak process-tree RSS (bytes) of `cmd`."""
    peak = 0
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    done.set()
    sampler.join()
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    return secs, peak


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
    secs, peak = run_measured(cmd, dict(os.environ))
    load_after = os.getloadavg()[0]
    stages = json.loads((out / "run.json").read_text())["stage_seconds"]
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
        "stage_seconds": stages,
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
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    new = []
    for millions in [float(s) for s in args.sizes.split(",")]:
        bundle, txns = ensure_world(args.work, millions, args.seed)
        for engine in args.engines.split(","):
            r = bench_one(bundle, txns, engine, args.work, args.spark_master)
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
