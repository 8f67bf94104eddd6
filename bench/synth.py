"""Benchmark the synthetic world generator: seconds and peak memory per scale.

Each scale runs in a fresh process so its peak RSS is the generator's alone.

    python bench/synth.py [--scales 1 10 100] [--seed 1]

Prints the figures and writes them to bench/results/synth.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, resource, sys, time
from moneytrail.synth import generate
t = time.perf_counter()
r = generate(sys.argv[1], scale=float(sys.argv[2]), seed=int(sys.argv[3]))
secs = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": round(secs, 2), "peak_rss_mib": round(rss / 2**20, 1),
                  "transactions": r.summary["transactions"], "persons": r.summary["persons"]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scales", type=float, nargs="+", default=[1, 10, 100])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    results = []
    for scale in args.scales:
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run([sys.executable, "-c", CHILD, tmp, str(scale), str(args.seed)],
                                  capture_output=True, text=True, check=True)
            fig = json.loads(proc.stdout.strip().splitlines()[-1])
            size = sum(p.stat().st_size for p in Path(tmp, "bundle").rglob("*") if p.is_file())
        fig.update({"scale": scale, "bundle_mib": round(size / 2**20, 1),
                    "txns_per_second": round(fig["transactions"] / fig["seconds"])})
        results.append(fig)
        print(f"scale {scale:>6g}: {fig['transactions']:>10,} txns  {fig['seconds']:>8.1f} s  "
              f"peak {fig['peak_rss_mib']:>8.1f} MiB  bundle {fig['bundle_mib']:>8.1f} MiB", flush=True)
    out = Path(__file__).parent / "results" / "synth.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():  # keep the figures of scales not rerun
        old = json.loads(out.read_text()).get("results", [])
        results = [r for r in old if r["scale"] not in {f["scale"] for f in results}] + results
        results.sort(key=lambda r: r["scale"])
    out.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                               "results": results}, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
