"""Benchmark scoring: the whole indicator catalogue and both models over N transactions.

Builds a canonical warehouse of N random transactions (remittances, wallet
payments and card purchases, with both parties and exact-key subjects) by SQL,
then times (1) one DuckDB scan of the transactions and (2) ``score(con)``.

    python bench/scoring.py [--rows 5000000]

Prints the figures and writes them to bench/results/scoring.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from moneytrail.scoring import score
from moneytrail.store import Warehouse


def build(con, n: int) -> None:  # type: ignore[no-untyped-def]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        wh = Warehouse(Path(d) / "bench.duckdb")
        t0 = time.perf_counter()
        build(wh.con, args.rows)
        build_s = time.perf_counter() - t0
        wh.con.execute("CHECKPOINT")
        scan = """SELECT count(*), sum(amount_usd), count(DISTINCT receiver_country), max(memo), max(merchant_name),
                         max(ts_utc), max(local_hour), max(sender_country) FROM transactions"""
        wh.con.execute(scan).fetchall()  # warm
        t0 = time.perf_counter()
        wh.con.execute(scan).fetchall()
        scan_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        score(wh.con)
        score_s = time.perf_counter() - t0
        n = wh.con.execute("SELECT count(*) FROM transaction_scores").fetchone()
        wh.close()
    result = {
        "rows": args.rows,
        "scored_rows": n[0] if n else 0,
        "build_seconds": round(build_s, 2),
        "scan_seconds": round(scan_s, 3),
        "score_seconds": round(score_s, 2),
        "ratio_to_scan": round(score_s / scan_s, 1) if scan_s else None,
        "rows_per_second": round(args.rows / score_s),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results" / "scoring.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
