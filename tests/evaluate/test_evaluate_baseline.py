"""The baseline rule as a SQL stage over the canonical tables."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from moneytrail.evaluate.baseline import baseline_flags
from moneytrail.schema import TABLES

T0 = datetime(2025, 1, 1, 12)


def _con(rows: list[tuple[str, str, int, float, str, str, str | None, str, str]]) -> duckdb.DuckDBPyConnection:
    """rows: provider, record_id, day, usd, receiver_country, txn_type, account, name_norm, country"""
    con = duckdb.connect()
    con.execute(TABLES["transactions"].ddl())
    con.execute(TABLES["parties"].ddl())
    for prov, rid, day, usd, rc, tt, acct, name, ctry in rows:
        con.execute("INSERT INTO transactions (provider, record_id, txn_type, ts_utc, amount_usd, receiver_country) "
                    "VALUES (?, ?, ?, ?, ?, ?)", [prov, rid, tt, T0 + timedelta(days=day), usd, rc])
        con.execute("INSERT INTO parties (provider, record_id, party, side, name_norm, country, account) "
                    "VALUES (?, ?, 'sender', 'from', ?, ?, ?)", [prov, rid, name, ctry, acct])
        con.execute("INSERT INTO parties (provider, record_id, party, side, name_norm, country, account) "
                    "VALUES (?, ?, 'receiver', 'to', 'x', ?, 'r1')", [prov, rid, rc])
    return con


def test_baseline_flags() -> None:
    rows = [
        # A: three small transfers to PH within 30 days, then a lone one later
        ("p", "a1", 0, 100, "PH", "transfer", "acc1", "a", "US"),
        ("p", "a2", 10, 150, "PH", "transfer", "acc1", "a", "US"),
        ("p", "a3", 25, 20, "TH", "send_money", "acc1", "a", "US"),
        ("p", "a4", 70, 20, "PH", "transfer", "acc1", "a", "US"),
        # B: only two
        ("p", "b1", 0, 50, "CO", "transfer", "acc2", "b", "US"),
        ("p", "b2", 5, 50, "CO", "transfer", "acc2", "b", "US"),
        # C: too large; D: wrong country; E: purchases are not transfers
        ("p", "c1", 0, 200, "PH", "transfer", "acc3", "c", "US"),
        ("p", "c2", 1, 150.01, "PH", "transfer", "acc3", "c", "US"),
        ("p", "c3", 2, 300, "PH", "transfer", "acc3", "c", "US"),
        ("p", "d1", 0, 10, "US", "transfer", "acc4", "d", "US"),
        ("p", "d2", 1, 10, "US", "transfer", "acc4", "d", "US"),
        ("p", "d3", 2, 10, "US", "transfer", "acc4", "d", "US"),
        ("p", "e1", 0, 10, "PH", "purchase", "acc5", "e", "US"),
        ("p", "e2", 1, 10, "PH", "purchase", "acc5", "e", "US"),
        ("p", "e3", 2, 10, "PH", "purchase", "acc5", "e", "US"),
        # F: spread over 40 days, never three within 30
        ("p", "f1", 0, 10, "PH", "transfer", "acc6", "f", "US"),
        ("p", "f2", 20, 10, "PH", "transfer", "acc6", "f", "US"),
        ("p", "f3", 40, 10, "PH", "transfer", "acc6", "f", "US"),
        # G: no account: same name and country is the same sender
        ("q", "g1", 0, 10, "PH", "credit_transfer", None, "john smith", "GB"),
        ("q", "g2", 3, 10, "PH", "credit_transfer", None, "john smith", "GB"),
        ("q", "g3", 6, 10, "PH", "credit_transfer", None, "john smith", "GB"),
        ("q", "h1", 7, 10, "PH", "credit_transfer", None, "john smith", "AU"),
        # the same account at another provider is another sender
        ("r", "x1", 1, 10, "PH", "transfer", "acc1", "a", "US"),
    ]
    con = _con(rows)
    baseline_flags(con)
    got = {r[0]: (r[1], r[2], r[3]) for r in con.execute(
        "SELECT record_id, score, flagged, reasons FROM baseline_transaction_flags").fetchall()}
    assert len(got) == len(rows)
    flagged = {k for k, v in got.items() if v[1] == 1}
    assert flagged == {"a1", "a2", "a3", "g1", "g2", "g3"}
    assert got["a1"][0] == 1.0 and got["a1"][2]
    assert got["a4"][0] == 1 / 3 and got["b1"][0] == 2 / 3
    assert got["f2"][0] == 2 / 3
    assert got["c1"][0] == got["d1"][0] == got["e1"][0] == 0.0
    assert got["h1"][1] == 0 and got["x1"][1] == 0
    cols = con.execute("DESCRIBE baseline_transaction_flags").fetchall()
    assert [(c[0], c[1]) for c in cols] == [("provider", "VARCHAR"), ("record_id", "VARCHAR"), ("score", "DOUBLE"),
                                             ("flagged", "INTEGER"), ("reasons", "VARCHAR")]


def test_baseline_run_writes_the_scoring_tables() -> None:
    from moneytrail.evaluate.baseline import baseline_run

    con = _con([
        ("p", "a1", 0, 100, "PH", "transfer", "acc1", "a", "US"),
        ("p", "a2", 1, 100, "PH", "transfer", "acc1", "a", "US"),
        ("p", "a3", 2, 100, "PH", "transfer", "acc1", "a", "US"),
        ("p", "b1", 0, 100, "PH", "transfer", "acc2", "b", "US"),
    ])
    con.execute("CREATE TABLE subject_records (subject_id VARCHAR, provider VARCHAR, record_id VARCHAR, party VARCHAR)")
    con.execute("""INSERT INTO subject_records VALUES ('S1','p','a1','sender'), ('S1','p','a2','sender'),
                   ('S1','p','a3','sender'), ('S2','p','b1','sender'), ('S3','p','a1','receiver'),
                   ('S3','p','b1','receiver')""")
    baseline_run(con)
    assert con.execute("SELECT count(*), sum(flagged) FROM transaction_scores").fetchone() == (4, 3)
    got = {r[0]: r[1:] for r in con.execute("SELECT subject_id, role, flagged, score FROM subject_scores").fetchall()}
    assert got["S1"] == ("consumer", 1, 1.0)
    assert got["S2"] == ("none", 0, 1 / 3)
    assert got["S3"] == ("none", 0, 0.0)
