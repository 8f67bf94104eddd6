"""Benchmark scoring: speed over N transactions, and quality against a world's truth.

Speed (default): builds a canonical warehouse of N random transactions
(remittances, wallet payments and card purchases, with both parties and
exact-key subjects) by SQL, then times (1) one DuckDB scan of the stage's
input (every column of ``transactions``, ``parties`` and ``subject_records``,
as bench/scale.py measures it) and (2) ``score(con)``, wall and CPU seconds
(all threads) with the load average beside them.

    python bench/scoring.py [--rows 5000000] [--store /tmp/b5m.duckdb] [--profile]

``--store`` keeps the built warehouse and reuses it (each run scores a copy);
``--profile`` lists the statements that took most CPU. Prints the figures and
writes them to bench/results/scoring.json (or ``--output``).

Quality: for each seed, a synthetic world (``moneytrail synth``), ingested,
resolved and referral-linked once into ``WORK/wSEED/resolved.duckdb`` (kept and
reused; ``--fresh`` rebuilds it after entity resolution changed), then the
stages after that (score, network) on a copy, the contract files and
``moneytrail evaluate``; the rule baseline on another copy. Prints every
target of issue 4 per seed beside the baseline and writes
bench/results/scoring_quality.json.

    python bench/scoring.py --quality 202,2,3 [--scale 0.5] [--work /tmp/scoring]
                            [--weights FILE] [--fresh] [--no-baseline]

Never report a seed the weights were trained on (see weights.json
``trained_on``; the bench refuses one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import duckdb

from moneytrail.scoring import score
from moneytrail.store import Warehouse, scalar


def build(con: Any, n: int) -> None:
    n_people = max(n // 10, 100)
    con.execute(f"""
        INSERT INTO transactions (provider, record_id, format, txn_type, ts_utc, local_hour, amount, currency,
            amount_usd, payout_agent_id, paid_out_at, channel, memo, mcc, merchant_name, sender_country,
            receiver_country, device_id)
        SELECT 'p' || (i % 4), 'R' || i,
               CASE WHEN i % 10 < 6 THEN 'remittance-csv' WHEN i % 10 < 8 THEN 'wallet-csv' ELSE 'card-csv' END,
               CASE WHEN i % 10 < 6 THEN 'transfer' WHEN i % 10 < 8 THEN 'send_money' ELSE 'purchase' END,
               TIMESTAMP '2024-01-01' + to_seconds(CAST(hash(i) % 31536000 AS BIGINT)),
               CAST(hash(i * 7) % 24 AS SMALLINT),
               CAST(5 + hash(i * 3) % 500 AS DECIMAL(20,4)), 'USD', CAST(5 + hash(i * 3) % 500 AS DOUBLE),
               CASE WHEN i % 10 < 6 THEN 'AG' || (hash(i) % 5000) END,
               CASE WHEN i % 10 < 6 THEN TIMESTAMP '2024-01-01' + to_seconds(CAST(hash(i) % 31536000 + hash(i * 5) % 100000 AS BIGINT)) END,
               'web',
               CASE hash(i * 11) % 6 WHEN 0 THEN 'school fees' WHEN 1 THEN 'pang-aral' WHEN 2 THEN 'rent' ELSE NULL END,
               CASE WHEN i % 10 >= 8 THEN ['5411', '5967', '4816', '4814', '3000', '6011'][CAST(1 + hash(i) % 6 AS BIGINT)] END,
               CASE WHEN i % 10 >= 8 THEN ['Tesco', 'LiveCams', 'NordVPN', 'Skype', 'Cebu Pacific', 'BDO ATM'][CAST(1 + hash(i) % 6 AS BIGINT)] END,
               ['US', 'GB', 'AU', 'CA', 'DE', 'PH'][CAST(1 + hash(i * 13) % 6 AS BIGINT)],
               ['PH', 'TH', 'CO', 'US', 'GB', 'PH'][CAST(1 + hash(i * 17) % 6 AS BIGINT)],
               'D' || (hash(i * 19) % {n_people})
        FROM range({n}) r(i)
    """)
    con.execute(f"""
        INSERT INTO parties (provider, record_id, party, side, name, name_norm, dob, country, account)
        SELECT provider, record_id, 'sender', 'from', NULL,
               ['john', 'peter', 'mark', 'jose'][CAST(1 + hash(record_id) % 4 AS BIGINT)] || ' ' ||
               ['smith', 'brown', 'santos', 'muller', 'cruz'][CAST(1 + hash(record_id || 'x') % 5 AS BIGINT)],
               DATE '1950-01-01' + CAST(hash(record_id) % 18000 AS INTEGER), sender_country,
               'S' || (hash(record_id || 's') % {n_people})
        FROM transactions
        UNION ALL
        SELECT provider, record_id, CASE WHEN format = 'card-csv' THEN 'merchant' ELSE 'receiver' END, 'to', NULL,
               ['maria', 'ana', 'rosa'][CAST(1 + hash(record_id || 'r') % 3 AS BIGINT)] || ' ' ||
               ['santos', 'reyes', 'cruz', 'srisuk', 'smith'][CAST(1 + hash(record_id || 'y') % 5 AS BIGINT)],
               NULL, receiver_country, 'B' || (hash(record_id || 'b') % {n_people})
        FROM transactions
    """)
    con.execute("""
        CREATE OR REPLACE TABLE subject_records AS
        SELECT provider || ':' || account AS subject_id, provider, record_id, party FROM parties
    """)


def prepare_world(seed: int, scale: float, work: Path, fresh: bool) -> tuple[Path, Path]:
    """The world of a seed and its store after ingest, resolve and referrals (built once)."""
    import subprocess
    import sys

    from moneytrail.ingest import ingest_bundle
    from moneytrail.referrals import run_referrals
    from moneytrail.resolve import resolve

    world = work / f"w{seed}"
    if not (world / "truth" / "transactions.csv").is_file():
        subprocess.run([sys.executable, "-m", "moneytrail", "synth", "--out", str(world), "--scale", str(scale),
                        "--seed", str(seed), "--quiet"], check=True)
    store = world / "resolved.duckdb"
    if fresh or not store.is_file():
        store.unlink(missing_ok=True)
        tmp = world / "resolved.tmp.duckdb"
        tmp.unlink(missing_ok=True)
        with Warehouse(tmp) as wh:
            ingest_bundle(wh, world / "bundle")
            resolve(wh.con)
            run_referrals(wh.con)
        tmp.replace(store)
    return world, store


def run_quality_seed(seed: int, world: Path, store: Path, weights: Path | None, baseline: bool) -> dict[str, Any]:
    import shutil

    from moneytrail.evaluate.baseline import baseline_run
    from moneytrail.evaluate.evaluator import evaluate
    from moneytrail.network import run_network
    from moneytrail.pipeline.outputs import write_outputs

    res: dict[str, Any] = {}
    runs = [("model", world / "run")] + ([("baseline", world / "run-baseline")] if baseline else [])
    for name, out in runs:
        out.mkdir(parents=True, exist_ok=True)
        db = out / "warehouse.duckdb"
        shutil.copyfile(store, db)
        t0 = time.perf_counter()
        c0 = time.process_time()
        with Warehouse(db) as wh:
            if name == "model":
                score(wh.con, weights=weights)
                run_network(wh.con)
            else:
                baseline_run(wh.con)
            write_outputs(wh.con, out)
        secs = (time.perf_counter() - t0, time.process_time() - c0)
        db.unlink()
        r = evaluate(world / "truth", out)
        res[name] = summarise(r) | {"seconds": round(secs[0], 1), "cpu_seconds": round(secs[1], 1)}
    return res


def summarise(r: dict[str, Any]) -> dict[str, object]:
    t, s = r["transactions"], r["subjects"]
    out: dict[str, object] = {
        "tx_ap": t["average_precision"], "tx_precision": t["precision"], "tx_recall": t["recall"],
        "tx_n": t["n"], "tx_positives": t["positives"],
        "lone_consumer_recall": s["lone_consumer_recall"],
    }
    for role in ("consumer", "facilitator", "intermediary"):
        out[f"{role}_precision"] = s[role]["precision"]
        out[f"{role}_recall"] = s[role]["recall"]
        out[f"{role}_true"] = s[role]["true"]
        out[f"{role}_predicted"] = s[role]["predicted"]
    for k, v in r["hard_negative_fpr"].items():
        out[f"tx_fpr_{k}"] = v["fpr"]
    for k, v in s["hard_negative_fpr"].items():
        out[f"subject_fpr_{k}"] = v["fpr"]
    return out


QUALITY_ROWS = [
    ("transactions AP (>= 0.90)", "tx_ap"),
    ("transactions P (flagged)", "tx_precision"),
    ("transactions R (flagged)", "tx_recall"),
    ("consumers P (>= 0.90)", "consumer_precision"),
    ("consumers R (>= 0.85)", "consumer_recall"),
    ("lone consumers R", "lone_consumer_recall"),
    ("facilitators P (>= 0.95)", "facilitator_precision"),
    ("facilitators R (>= 0.95)", "facilitator_recall"),
    ("intermediaries P", "intermediary_precision"),
    ("intermediaries R", "intermediary_recall"),
]


def print_quality(results: dict[str, dict[str, Any]]) -> None:
    seeds = list(results)
    keys = [k for k, _ in QUALITY_ROWS]
    fpr = sorted({k for r in results.values() for k in r["model"] if k.startswith(("tx_fpr_", "subject_fpr_"))})
    rows = [(label, k) for label, k in QUALITY_ROWS] + [(k.replace("_fpr_", " FPR ") + " (<= 0.01)", k) for k in fpr]
    _ = keys
    head = f"{'metric':42}" + "".join(f"{'seed ' + s:>10}{'base':>8}" for s in seeds)
    print(head)
    for label, k in rows:
        line = f"{label:42}"
        for s in seeds:
            m = results[s]["model"].get(k)
            b = results[s].get("baseline", {}).get(k)
            line += f"{m:>10.3f}" if isinstance(m, float | int) else f"{'-':>10}"
            line += f"{b:>8.3f}" if isinstance(b, float | int) else f"{'-':>8}"
        print(line)
    print(f"{'facilitators true / flagged':42}" + "".join(
        f"{str(results[s]['model']['facilitator_true']) + '/' + str(results[s]['model']['facilitator_predicted']):>18}"
        for s in seeds))


def quality(args: argparse.Namespace) -> None:
    from moneytrail.errors import UserError
    from moneytrail.scoring.model import load_models

    seeds = [int(x) for x in str(args.quality).split(",") if x.strip()]
    weights = Path(args.weights) if args.weights else None
    trained = load_models(weights).trained_on
    never = set(trained.get("never_evaluate_on_seeds", [])) | (
        {trained["never_evaluate_on_seed"]} if "never_evaluate_on_seed" in trained else set())
    bad = sorted(set(seeds) & {int(x) for x in never})
    if bad:
        raise UserError(f"the weights were trained on seed(s) {bad}: report other seeds")
    work = Path(args.work)
    results: dict[str, dict[str, Any]] = {}
    for seed in seeds:
        world, store = prepare_world(seed, args.scale, work, args.fresh)
        results[str(seed)] = run_quality_seed(seed, world, store, weights, not args.no_baseline)
        print(f"seed {seed}: done", flush=True)
    print_quality(results)
    payload = {"scale": args.scale, "weights": str(weights or "shipped"), "trained_on": trained,
               "loadavg": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else None,
               "seeds": results}
    out = Path(args.output) if args.output else Path(__file__).parent / "results" / "scoring_quality.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000_000, help="speed: transactions to score")
    ap.add_argument("--quality", metavar="SEEDS", help="quality: comma-separated world seeds to evaluate")
    ap.add_argument("--scale", type=float, default=0.5, help="quality: world scale (default 0.5)")
    ap.add_argument("--work", default="/tmp/scoring", help="quality: where worlds and stores are kept")
    ap.add_argument("--weights", help="quality: a weights file (default: the shipped weights.json)")
    ap.add_argument("--fresh", action="store_true", help="quality: rebuild the resolved stores")
    ap.add_argument("--no-baseline", action="store_true", help="quality: skip the rule baseline")
    ap.add_argument("--output", help="JSON results file (default bench/results/scoring.json or scoring_quality.json)")
    ap.add_argument("--store", help="speed: keep the built warehouse here and reuse it (each run scores a copy)")
    ap.add_argument("--profile", action="store_true", help="speed: the statements taking most CPU")
    args = ap.parse_args()
    if args.quality:
        quality(args)
        return
    speed(args)


# the tables the scoring stage reads, scanned as bench/scale.py does (every column of every row)
SCORE_INPUTS = ("transactions", "parties", "subject_records")


def cpu_seconds() -> float:
    """CPU seconds of this process, all threads (DuckDB's workers included)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class StatementClock:
    """The connection ``score`` sees: every statement's wall and CPU seconds (``--profile``)."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.rows: list[tuple[float, float, str]] = []

    def execute(self, sql: str, params: object = None) -> Any:
        w, c = time.perf_counter(), cpu_seconds()
        res = self.con.execute(sql, params or [])
        self.rows.append((time.perf_counter() - w, cpu_seconds() - c, " ".join(sql.split())[:100]))
        return res

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


def timed_scan(con: Any, sql: str) -> tuple[float, float]:
    con.execute(sql).fetchall()  # warm: the stage, too, reads from memory
    w, c = time.perf_counter(), cpu_seconds()
    con.execute(sql).fetchall()
    return time.perf_counter() - w, cpu_seconds() - c


def speed(args: argparse.Namespace) -> None:
    """Score a warehouse of N random transactions; set the time against one scan of its input."""
    import shutil

    with tempfile.TemporaryDirectory() as d:
        kept = Path(args.store) if args.store else None
        path = Path(d) / "bench.duckdb"
        build_s = None
        if kept is None or not kept.is_file():
            wh = Warehouse(kept or path)
            t0 = time.perf_counter()
            build(wh.con, args.rows)
            build_s = time.perf_counter() - t0
            wh.con.execute("CHECKPOINT")
            wh.close()
        if kept is not None:
            shutil.copyfile(kept, path)  # score a copy: the kept store stays as built
        wh = Warehouse(path)
        rows = int(scalar(wh.con, "SELECT count(*) FROM transactions"))
        # the whole input of the stage, every column, as bench/scale.py measures it
        full = [timed_scan(wh.con, f"SELECT max(COLUMNS(*)::VARCHAR) FROM {t}") for t in SCORE_INPUTS]
        scan_s, scan_cpu = sum(w for w, _ in full), sum(c for _, c in full)
        # the narrower scan of earlier sessions (8 columns of transactions), kept for comparison
        narrow_s, _ = timed_scan(wh.con, """SELECT count(*), sum(amount_usd), count(DISTINCT receiver_country),
            max(memo), max(merchant_name), max(ts_utc), max(local_hour), max(sender_country) FROM transactions""")
        load_before = os.getloadavg()
        clock = StatementClock(wh.con) if args.profile else None
        t0, c0 = time.perf_counter(), cpu_seconds()
        score(cast(duckdb.DuckDBPyConnection, clock) if clock else wh.con)
        score_s, score_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        load_after = os.getloadavg()
        n = wh.con.execute("SELECT count(*) FROM transaction_scores").fetchone()
        wh.close()
    result = {
        "rows": rows,
        "scored_rows": n[0] if n else 0,
        "build_seconds": round(build_s, 2) if build_s is not None else None,
        "scan_seconds": round(scan_s, 3),
        "scan_cpu_seconds": round(scan_cpu, 3),
        "scan_tables": list(SCORE_INPUTS),
        "narrow_scan_seconds": round(narrow_s, 3),
        "score_seconds": round(score_s, 2),
        "score_cpu_seconds": round(score_cpu, 2),
        "ratio_to_scan": round(score_s / scan_s, 1) if scan_s else None,
        "cpu_ratio_to_scan": round(score_cpu / scan_cpu, 1) if scan_cpu else None,
        "rows_per_second": round(rows / score_s),
        "load_average": [round(load_before[0], 1), round(load_after[0], 1)],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if clock is not None:
        top = sorted(clock.rows, key=lambda r: -r[1])[:15]
        result["statements_by_cpu"] = [{"wall": round(w, 2), "cpu": round(c, 2), "sql": q} for w, c, q in top]
    print(json.dumps(result, indent=2))
    out = Path(args.output) if args.output else Path(__file__).parent / "results" / "scoring.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")

if __name__ == "__main__":
    main()
