"""Hand-made warehouse fixtures for indicator and scoring tests.

Subjects are made by a simple exact key (explicit ``s``/``r`` keys, else the
account, else name and country), standing in for entity resolution.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from moneytrail.schema import PARTIES, TRANSACTIONS
from moneytrail.store import Warehouse

T0 = datetime(2026, 3, 1, 12, 0, 0)

PARTY_NAMES = {
    "remittance-csv": ("sender", "receiver"),
    "wallet-csv": ("payer", "payee"),
    "card-csv": ("cardholder", "merchant"),
}

_counter = [0]


def tx(
    *,
    day: float = 0,
    s: str = "john smith",
    r: str = "maria santos",
    s_key: str | None = None,
    r_key: str | None = None,
    s_country: str = "US",
    r_country: str = "PH",
    usd: float = 50.0,
    amount: float | None = None,
    currency: str = "USD",
    hour: int = 14,
    memo: str | None = None,
    dob: str | None = "1990-01-01",
    fmt: str = "remittance-csv",
    txn_type: str | None = None,
    mcc: str | None = None,
    merchant: str | None = None,
    payout_min: float | None = None,
    agent: str | None = None,
    device: str | None = None,
    provider: str = "mto",
    record_id: str | None = None,
    aligned: int = 0,
    login: int = 0,
) -> dict[str, Any]:
    _counter[0] += 1
    ts = T0 + timedelta(days=day)
    if fmt == "card-csv":
        txn_type = txn_type or ("card_transfer" if mcc in ("4829", "6538") else "purchase")
        r = merchant.lower() if merchant else r
    return {
        "provider": provider,
        "record_id": record_id or f"R{_counter[0]}",
        "format": fmt,
        "txn_type": txn_type or ("transfer" if fmt == "remittance-csv" else "send_money"),
        "ts_utc": ts,
        "local_hour": hour,
        "amount": amount if amount is not None else usd,
        "currency": currency,
        "amount_usd": usd,
        "payout_agent_id": agent,
        "paid_out_at": ts + timedelta(minutes=payout_min) if payout_min is not None else None,
        "channel": "web",
        "memo": memo,
        "mcc": mcc,
        "merchant_name": merchant,
        "sender_country": s_country,
        "receiver_country": r_country,
        "device_id": device,
        "_s": s, "_r": r, "_s_key": s_key or f"{s}|{s_country}", "_r_key": r_key or f"{r}|{r_country}",
        "_dob": dob,
        "_aligned": aligned, "_login": login,
    }


TX_COLS = [
    "provider", "record_id", "format", "txn_type", "ts_utc", "local_hour", "amount", "currency",
    "amount_usd", "payout_agent_id", "paid_out_at", "channel", "memo", "mcc", "merchant_name",
    "sender_country", "receiver_country", "device_id",
]


def load(wh: Any, rows: list[dict[str, Any]]) -> None:
    con = wh.con
    con.executemany(
        f"INSERT INTO transactions ({', '.join(TX_COLS)}) VALUES ({', '.join('?' for _ in TX_COLS)})",
        [[r[c] for c in TX_COLS] for r in rows],
    )
    parties, subj = [], []
    for r in rows:
        fp, tp = PARTY_NAMES[r["format"]]
        if r["txn_type"] == "card_transfer":
            tp = "receiver"
        parties.append((r["provider"], r["record_id"], fp, "from", r["_s"], r["_s"], r["_dob"], r["sender_country"], r["_s_key"]))
        parties.append((r["provider"], r["record_id"], tp, "to", r["_r"], r["_r"], None, r["receiver_country"], r["_r_key"]))
        subj.append((r["_s_key"], r["provider"], r["record_id"], fp))
        subj.append((r["_r_key"], r["provider"], r["record_id"], tp))
    con.executemany(
        "INSERT INTO parties (provider, record_id, party, side, name, name_norm, dob, country, account) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        parties,
    )
    con.execute("CREATE OR REPLACE TABLE subject_records (subject_id VARCHAR, provider VARCHAR, record_id VARCHAR, party VARCHAR)")
    con.executemany("INSERT INTO subject_records VALUES (?, ?, ?, ?)", subj)
    flags = [(r["provider"], r["record_id"], r["_aligned"], r["_login"]) for r in rows if r["_aligned"] or r["_login"]]
    if flags:  # what the referrals stage writes (moneytrail.referrals.alignment)
        con.execute(
            "CREATE OR REPLACE TABLE referral_txn_features (provider VARCHAR, record_id VARCHAR, "
            "aligned_session INTEGER, login_time_match INTEGER, referral_linked_sender INTEGER, "
            "referral_linked_receiver INTEGER)"
        )
        con.executemany("INSERT INTO referral_txn_features VALUES (?, ?, ?, ?, 1, 1)", flags)


class MemoryWarehouse:
    """Just the canonical transactions and parties, in memory (fast for unit tests)."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET threads = 2")
        for t in (TRANSACTIONS, PARTIES):
            self.con.execute(t.ddl())

    def close(self) -> None:
        self.con.close()


def warehouse(tmp: Path | None, rows: list[dict[str, Any]]) -> Any:
    """A warehouse holding `rows`: in memory, or a full DuckDB store under `tmp`."""
    wh: Any = MemoryWarehouse() if tmp is None else Warehouse(tmp / f"wh{_counter[0]}.duckdb")
    load(wh, rows)
    return wh
