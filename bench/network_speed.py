"""Network stage speed: graph build and all analytics on a large synthetic warehouse.

    python bench/network_speed.py --rows 100000 1000000 5000000

The warehouse is generated directly in DuckDB (``moneytrail synth`` plus
ingest and resolve would take far longer than the stage under test): one
subject per ~5 transactions, payers uniform, payees skewed (a few hubs with
tens of thousands of payers, like remittance agents and big merchants),
a fifth of the payments cross-border, 1% flagged consumers and 0.2% flagged
facilitators in ``subject_scores``. Times every step of ``run_network`` and
one ``expand``; writes ``bench/results/network_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb

from moneytrail.schema import TABLES

ROOT = Path(__file__).resolve().parents[1]


def generate(con: duckdb.DuckDBPyConnection, rows: int, seed: float = 0.42) -> None:
    from moneytrail.scoring import SUBJECT_SCORES, TRANSACTION_SCORES

    subjects = max(rows // 5, 100)
    con.execute(f"SELECT setseed({seed})")
    for t in ("transactions", "parties"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
        con.execute(TABLES[t].ddl())
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE g AS
        SELECT i, 'S' || lpad(CAST(CAST(floor(random() * {subjects}) AS BIGINT) AS VARCHAR), 8, '0') AS src,
               'S' || lpad(CAST(CAST(floor(pow(random(), 2.5) * {subjects}) AS BIGINT) AS VARCHAR), 8, '0') AS dst,
               random() < 0.2 AS xb, 10 + random() * 290 AS usd,
               TIMESTAMP '2024-01-01' + to_seconds(CAST(random() * 63000000 AS BIGINT)) AS ts,
               CAST(floor(random() * 500) AS INTEGER) AS city
        FROM range({rows}) r(i)
    """)
    con.execute("""
        INSERT INTO transactions (provider, record_id, format, txn_type, ts_utc, amount, currency, amount_usd,
                                  payout_agent_id, sender_country, receiver_country)
        SELECT 'p', 'T' || i, 'remittance-csv', CASE WHEN i % 7 = 0 THEN 'purchase' ELSE 'transfer' END, ts,
               usd, 'USD', usd, 'AG' || (city % 97), 'US', CASE WHEN xb THEN 'PH' ELSE 'US' END
        FROM g
    """)
    con.execute("""
        INSERT INTO parties (provider, record_id, party, side, name, city, country, account)
        SELECT 'p', 'T' || i, 'sender', 'from', src, 'city' || (city % 50), 'US', 'A' || src FROM g
        UNION ALL
        SELECT 'p', 'T' || i, 'receiver', 'to', dst, 'city' || city, CASE WHEN xb THEN 'PH' ELSE 'US' END, 'A' || dst FROM g
    """)
    con.execute("""
        CREATE OR REPLACE TABLE subject_records AS
        SELECT src AS subject_id, 'p' AS provider, 'T' || i AS record_id, 'sender' AS party FROM g
        UNION ALL SELECT dst, 'p', 'T' || i, 'receiver' FROM g
    """)
    con.execute("DROP TABLE IF EXISTS subject_scores")
    con.execute(SUBJECT_SCORES.ddl())
    con.execute("""
        INSERT INTO subject_scores
        SELECT subject_id, CASE WHEN u < 0.01 THEN 'consumer' WHEN u < 0.012 THEN 'facilitator' ELSE 'none' END,
               CASE WHEN u < 0.012 THEN 0.95 ELSE u / 10 END, CASE WHEN u < 0.012 THEN 1 ELSE 0 END, '',
               CASE WHEN u < 0.01 THEN 0.95 ELSE 0.01 END, CASE WHEN u >= 0.01 AND u < 0.012 THEN 0.95 ELSE 0.01 END, 0.01
        FROM (SELECT subject_id, random() AS u FROM (SELECT DISTINCT subject_id FROM subject_records))
    """)
    con.execute("DROP TABLE IF EXISTS transaction_scores")
    con.execute(TRANSACTION_SCORES.ddl())
    con.execute("INSERT INTO transaction_scores SELECT provider, record_id, 0.05, 0, '' FROM transactions")
    con.execute("DROP TABLE g")


def main() -> None:
    from moneytrail.network import run_network
    from moneytrail.network.expand import expand

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "network_speed.json",
                    help="where to write the figures (a small check need not replace the at-scale record)")
    a = ap.parse_args()
    results = []
    for rows in a.rows:
        with tempfile.TemporaryDirectory() as tmp:
            con = duckdb.connect(str(Path(tmp) / "w.duckdb"))
            con.execute(f"SET threads = {a.threads}")
            t0 = time.perf_counter()
            generate(con, rows)
            gen = time.perf_counter() - t0
            t0, c0 = time.perf_counter(), time.process_time()
            steps = run_network(con)
            total, cpu = time.perf_counter() - t0, time.process_time() - c0
            seed = con.execute("SELECT subject_id FROM subject_scores WHERE role = 'consumer' LIMIT 1").fetchall()
            t0 = time.perf_counter()
            if seed:
                expand(con, seed[0][0], 50)
            exp = time.perf_counter() - t0
            n_sub, n_edges = con.execute(
                "SELECT (SELECT count(DISTINCT subject_id) FROM subject_records), (SELECT count(*) FROM network_edges)"
            ).fetchall()[0]
            con.close()
        r = {"transactions": rows, "subjects": n_sub, "edges": n_edges, "generate_s": round(gen, 2),
             "network_stage_s": round(total, 2), "network_stage_cpu_s": round(cpu, 2),
             "loadavg": Path("/proc/loadavg").read_text().split()[:3], "steps_s": {k: round(v, 2) for k, v in steps.items()},
             "expand_s": round(exp, 2)}
        print(json.dumps(r), flush=True)
        results.append(r)
    out = a.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"threads": a.threads, "runs": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
