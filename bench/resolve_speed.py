"""Speed of entity resolution: time, CPU and peak memory at 100k, 1M (and 5M) party occurrences.

    python bench/resolve_speed.py                       # 100k and 1M occurrences
    python bench/resolve_speed.py 100000 1000000 5000000 --repeat 3
    python bench/resolve_speed.py 2000000 4000000 --steps   # 1M and 2M transactions, CPU s per step
    python bench/resolve_speed.py --bundle /tmp/worlds/world-1m/bundle --steps  # a world already made

Each size is a synthetic world (``moneytrail.synth``, seed 21, built as
bench/scale.py builds its worlds) of about half as many transactions as
occurrences (a payer and a payee each), ingested once into a DuckDB warehouse
kept under --work, so reruns time resolution alone. Each run resolves in a
fresh process, which reports its wall and CPU seconds (all threads), peak
resident memory and the seconds of every step; with --repeat the median run
(by wall time) is kept. The load average is recorded beside the figures: on a
shared machine wall time is pessimistic, CPU seconds less so. With --steps the spill
is sampled too (every 0.1 s, the warehouse's and Splink's spill files): per step, the
peak and the sum of its rises in GB (``steps_spill_gb``, ``all`` for the whole run).
--memory-limit runs the warehouse under a tighter limit (a 5M world under 1.2GB
spills about as a 20M one would).
Writes bench/results/resolve_speed.json (figures of sizes not rerun are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CHILD = """
import functools, json, os, resource, sys, time
from moneytrail.resolve import ResolveSettings, resolve
from moneytrail.store import Warehouse

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

steps = {}
spill = {}  # step -> [peak spill bytes, sum of the rises of spill] while it ran (innermost step)
stack = []
if "--steps" in sys.argv:
    # CPU seconds (all threads) of every function the run calls, by name (a nested
    # call is counted in its caller too)
    import moneytrail.resolve.run as run
    import moneytrail.resolve.splink_model as sm

    def timed(name, f):
        @functools.wraps(f)
        def g(*a, **k):
            c0 = cpu()
            stack.append(name)
            try:
                return f(*a, **k)
            finally:
                stack.pop()
                steps[name] = round(steps.get(name, 0.0) + cpu() - c0, 2)
        return g

    for name in STEP_FUNCTIONS:
        setattr(run, name, timed(name, getattr(run, name)))
    for name in ("train", "predict"):
        setattr(sm.SplinkModel, name, timed("splink." + name, getattr(sm.SplinkModel, name)))

def sample_spill(temp_dirs, stop):
    # the spill files the process holds open (the warehouse's and Splink's), every 0.1 s,
    # charged to the innermost step running
    from moneytrail.pipeline.trace import spill_bytes

    prev = 0
    while not stop.wait(0.1):
        now = spill_bytes(temp_dirs)
        name = stack[-1] if stack else "other"
        row = spill.setdefault(name, [0, 0])
        row[0] = max(row[0], now)
        row[1] += max(now - prev, 0)
        whole = spill.setdefault("all", [0, 0])
        whole[0] = max(whole[0], now)
        whole[1] += max(now - prev, 0)
        prev = now

load = os.getloadavg()[0]
with Warehouse(sys.argv[1]) as wh:
    stop = None
    if "--steps" in sys.argv:
        import threading
        from moneytrail.store import temp_directory

        stop = threading.Event()
        threading.Thread(
            target=sample_spill, args=((str(temp_directory(wh.con)),), stop), daemon=True
        ).start()
    t0, c0 = time.perf_counter(), cpu()
    rep = resolve(wh.con, ResolveSettings())
    wall, cpu_s = time.perf_counter() - t0, cpu() - c0
    if stop is not None:
        stop.set()
        time.sleep(0.2)  # the sampler's last pass ends before its figures are read
    # what the run leaves in the warehouse's memory (or spill) for the stages after it
    left = {}
    if "--steps" in sys.argv:
        left = {
            "temp_table_rows": dict(wh.con.execute(
                "SELECT table_name, estimated_size FROM duckdb_tables() WHERE temporary "
                "ORDER BY estimated_size DESC").fetchall()),
            "memory_mib": {t: [round(m / 2**20), round(d / 2**20)] for t, m, d in wh.con.execute(
                "SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory() "
                "WHERE memory_usage_bytes + temporary_storage_bytes > 0").fetchall()},
        }
print(json.dumps({
    "records": rep.records, "profiles": rep.profiles, "blocked_pairs": rep.blocked_pairs,
    "subjects": rep.subjects, "seconds": round(wall, 1), "cpu_seconds": round(cpu_s, 1),
    "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    "timings": rep.timings, "load_average": [round(load, 1), round(os.getloadavg()[0], 1)],
    **({"steps_cpu": steps} if steps else {}),
    **({"steps_spill_gb": {k: [round(v[0] / 1e9, 2), round(v[1] / 1e9, 2)] for k, v in spill.items()}}
       if spill else {}),
    "memory_limit": os.environ.get("MONEYTRAIL_MEMORY_LIMIT", ""),
    **({"left_after": left} if left else {}),
}))
"""

# The functions of moneytrail.resolve.run timed by --steps.
STEP_FUNCTIONS = (
    "build_records",
    "build_identifiers",
    "find_shared",
    "blank_shared",
    "strong_links",
    "self_transfer_links",
    "build_profiles",
    "build_pairs",
    "_score",
    "_strong_arrays",
    "account_keys",
    "cluster",
    "counterparty_sets",
    "estimate_counterparty",
    "adjust_counterparty",
    "adjust_receivers",
    "adjust_accounts",
    "merchant_name_links",
    "only_candidate_links",
    "_write_subjects",
    "_write_links",
)


def _ingest_once(store: Path, marker: Path, bundle: Path) -> int:
    """Ingest ``bundle`` into ``store`` unless ``marker`` says it was; its transaction count."""
    if not marker.exists():
        from moneytrail.ingest import ingest_plan
        from moneytrail.ingest.bundle import plan_bundle
        from moneytrail.store import Warehouse

        store.unlink(missing_ok=True)
        with Warehouse(store) as wh:
            ingest_plan(wh, plan_bundle(bundle))
            txns = int(wh.con.execute("SELECT count(*) FROM transactions").fetchall()[0][0])
        marker.write_text(json.dumps({"transactions": txns, "bundle": str(bundle)}))
    return int(json.loads(marker.read_text())["transactions"])


def warehouse(work: Path, occurrences: int, seed: int) -> tuple[Path, int]:
    """The ingested warehouse of a world of ``occurrences`` party occurrences (built once)."""
    from scale import TXNS_PER_SCALE, ensure_world  # noqa: F401 - one way to build worlds

    bundle, _ = ensure_world(work, occurrences / 2 / 1_000_000, seed)
    store = work / f"resolve-{occurrences}.duckdb"
    return store, _ingest_once(store, work / f"resolve-{occurrences}.json", bundle)


def bundle_warehouse(work: Path, bundle: Path) -> tuple[Path, int]:
    """The ingested warehouse of an existing bundle (e.g. bench/scale.py --generate-only's),
    built once under ``work`` and keyed by the bundle's path."""
    import hashlib

    key = hashlib.sha1(str(bundle.resolve()).encode()).hexdigest()[:10]
    store = work / f"resolve-bundle-{key}.duckdb"
    return store, _ingest_once(store, work / f"resolve-bundle-{key}.json", bundle)


def run_once(store: Path, steps: bool = False, memory_limit: str | None = None) -> dict[str, Any]:
    child = CHILD.replace("STEP_FUNCTIONS", repr(STEP_FUNCTIONS))
    argv = [sys.executable, "-c", child, str(store)] + (["--steps"] if steps else [])
    env = dict(os.environ)
    if memory_limit:
        env["MONEYTRAIL_MEMORY_LIMIT"] = memory_limit
    out = subprocess.run(argv, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "sizes", nargs="*", type=int, default=[100_000, 1_000_000], help="party occurrences"
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs per size; the median is kept")
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument(
        "--steps", action="store_true", help="also report the CPU seconds of every step function"
    )
    ap.add_argument(
        "--memory-limit",
        default=None,
        help="the warehouse's memory limit (MONEYTRAIL_MEMORY_LIMIT, e.g. 1.2GB): a tight "
        "limit at 5M makes the spill of a larger world",
    )
    ap.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "moneytrail-resolve-speed"
    )
    ap.add_argument(
        "--bundle",
        type=Path,
        action="append",
        default=[],
        help="time an existing world's bundle instead of the sizes (repeatable); the "
        "figures are printed, not written to the results file",
    )
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for bundle in args.bundle:
        store, txns = bundle_warehouse(args.work, bundle)
        runs = [run_once(store, args.steps, args.memory_limit) for _ in range(max(1, args.repeat))]
        res = sorted(runs, key=lambda r: float(r["seconds"]))[len(runs) // 2]
        res.update({"bundle": str(bundle), "transactions": txns, "runs": len(runs)})
        print(json.dumps(res), flush=True)
    if args.bundle:
        return
    new: list[dict[str, Any]] = []
    for n in args.sizes:
        store, txns = warehouse(args.work, n, args.seed)
        runs = [run_once(store, args.steps, args.memory_limit) for _ in range(max(1, args.repeat))]
        res = sorted(runs, key=lambda r: float(r["seconds"]))[len(runs) // 2]
        res.update(
            {
                "occurrences": n,
                "transactions": txns,
                "runs": len(runs),
                "seconds_all": [r["seconds"] for r in runs],
                "cpu_seconds_median": statistics.median(float(r["cpu_seconds"]) for r in runs),
            }
        )
        print(json.dumps(res), flush=True)
        new.append(res)
    out = HERE / "results" / "resolve_speed.json"
    results = new
    if out.exists():
        old = json.loads(out.read_text())
        old = old.get("results", []) if isinstance(old, dict) else []
        results = [r for r in old if r.get("occurrences") not in set(args.sizes)] + new
    results.sort(key=lambda r: int(r["occurrences"]))
    from scale import write_results

    write_results(out, results)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
