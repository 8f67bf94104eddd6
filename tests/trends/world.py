"""Hand-built warehouses for the trends tests: flagged payments month by month.

`Month` lists, for one month, how many flagged payments go through each corridor;
`build` writes them (and a few unflagged ones) with the subjects' roles, so the four
labels (corridor, channel, amount band, typology) are all exercised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import duckdb

from moneytrail.schema import TABLES
from moneytrail.scoring import SUBJECT_SCORES, TRANSACTION_SCORES


@dataclass
class Payment:
    sender_country: str = "US"
    receiver_country: str = "PH"
    usd: float = 40.0
    format: str = "remittance-csv"
    txn_type: str = "transfer"
    channel: str | None = "app"
    sender_role: str = "consumer"  # '' for no flagged subject
    receiver_role: str = "facilitator"
    reasons: str = "MT01"
    flagged: int = 1


@dataclass
class Month:
    first: date
    payments: list[Payment] = field(default_factory=list)

    def add(self, n: int, **kw: object) -> Month:
        self.payments.extend(Payment(**kw) for _ in range(n))  # type: ignore[arg-type]
        return self


def build(months: list[Month]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    for t in ("transactions", "parties"):
        con.execute(TABLES[t].ddl())
    con.execute("CREATE TABLE subject_records (subject_id VARCHAR, provider VARCHAR, record_id VARCHAR, party VARCHAR)")
    con.execute(SUBJECT_SCORES.ddl())
    con.execute(TRANSACTION_SCORES.ddl())
    tx, parties, records, scores = [], [], [], []
    subjects: dict[str, tuple[str, int]] = {}
    n = 0
    for month in months:
        for i, p in enumerate(month.payments):
            n += 1
            rid = f"T{n:06d}"
            ts = datetime(month.first.year, month.first.month, 1, 3) + timedelta(hours=7 * i % (24 * 27))
            tx.append((rid, p.format, p.txn_type, ts, p.usd, p.usd, p.channel, p.sender_country, p.receiver_country))
            scores.append((rid, 0.9 if p.flagged else 0.1, p.flagged, p.reasons))
            for party, side, role, country in (("sender", "from", p.sender_role, p.sender_country),
                                               ("receiver", "to", p.receiver_role, p.receiver_country)):
                sid = f"{role or 'none'}-{country}-{i % 7}"
                subjects[sid] = (role or "none", 1 if role else 0)
                parties.append((rid, party, side, country))
                records.append((sid, rid, party))
    con.executemany("""INSERT INTO transactions (provider, record_id, format, txn_type, ts_utc, amount, currency,
                       amount_usd, channel, sender_country, receiver_country)
                       VALUES ('p', ?, ?, ?, ?, ?, 'USD', ?, ?, ?, ?)""", tx)
    con.executemany("INSERT INTO transaction_scores VALUES ('p', ?, ?, ?, ?)", scores)
    con.executemany("INSERT INTO parties (provider, record_id, party, side, country) VALUES ('p', ?, ?, ?, ?)", parties)
    con.executemany("INSERT INTO subject_records VALUES (?, 'p', ?, ?)", records)
    con.executemany("INSERT INTO subject_scores (subject_id, role, score, flagged) VALUES (?, ?, 0.9, ?)",
                    [(sid, role, fl) for sid, (role, fl) in subjects.items()])
    return con


def month(i: int) -> date:
    """The i-th month from January 2025."""
    return date(2025 + i // 12, i % 12 + 1, 1)


# Small deterministic wobbles so the past has a spread, as real months do.
WOBBLE = (0, 2, -1, 1, -2, 1, 0, -1, 2, -1, 1, 0)


def steady(n_months: int, jump_last: int = 0) -> list[Month]:
    """US->PH ~30, AU->PH ~10, GB->PH ~10 flagged a month; AU->PH gets `jump_last` more in the last month."""
    out = []
    for i in range(n_months):
        w = WOBBLE[i % len(WOBBLE)]
        m = Month(month(i))
        m.add(30 + w, sender_country="US", channel="app", usd=40.0)
        m.add(10 - w, sender_country="AU", channel="web", usd=70.0)
        m.add(10 + (w % 2), sender_country="GB", channel="agent", usd=120.0)
        if i == n_months - 1 and jump_last:
            m.add(jump_last, sender_country="AU", channel="web", usd=70.0)
        m.add(20, sender_country="US", flagged=0, sender_role="", receiver_role="")  # never counted
        out.append(m)
    return out
