"""Speed of entity resolution: time and peak memory at 100k, 1M (and 5M) party occurrences.

    python bench/resolve_speed.py            # 100k and 1M
    python bench/resolve_speed.py 100000 5000000

Each size is generated into its own DuckDB file (moneytrail.resolve.sample),
then resolved in a fresh process, whose peak resident memory is reported.
Writes bench/results/resolve_speed.json.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def generate(path: str, occurrences: int) -> None:
    from moneytrail.resolve.sample import generate as gen
    from moneytrail.store import Warehouse

    with Warehouse(path) as wh:
        gen(wh.con, transactions=occurrences // 2, seed=11, referrals=max(2, occurrences // 500))


def run_one(path: str) -> dict[str, object]:
    from moneytrail.resolve import ResolveSettings, resolve
    from moneytrail.store import Warehouse

    with Warehouse(path) as wh:
        t0 = time.perf_counter()
        rep = resolve(wh.con, ResolveSettings())
        elapsed = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "records": rep.records,
        "profiles": rep.profiles,
        "blocked_pairs": rep.blocked_pairs,
        "subjects": rep.subjects,
        "seconds": round(elapsed, 1),
        "peak_rss_gib": round(peak_kib / 2**20, 2),
        "timings": rep.timings,
    }


def main(sizes: list[int]) -> None:
    if len(sys.argv) > 2 and sys.argv[1] in ("--generate", "--run"):
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = os.path.join(tmp, f"w{n}.duckdb")
            subprocess.run([sys.executable, __file__, "--generate", path, str(n)], check=True)
            out = subprocess.run(
                [sys.executable, __file__, "--run", path], check=True, capture_output=True, text=True
            )
            res = json.loads(out.stdout.strip().splitlines()[-1])
            res["occurrences"] = n
            print(json.dumps(res), flush=True)
            results.append(res)
            os.remove(path)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "resolve_speed.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        generate(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--run":
        print(json.dumps(run_one(sys.argv[2])))
    else:
        main([int(x) for x in sys.argv[1:]] or [100_000, 1_000_000])
