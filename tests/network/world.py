"""A small hand-built warehouse for the network tests.

Subjects (scores as scoring would have left them):

- C1..C6: flagged consumers (score 0.95).
- L1: a lone payer, one payment to F1, unflagged (0.2): the network must flag it.
- F1: a family facilitator in Angeles City (PH), paid by C1, C2, C3 and L1, unflagged.
- R1: F1's relative, paid once by C1, passes money on to F1.
- SR1, SR2: syndicate receivers paid by C4, C5, C6; they pass money on to K.
- K: the syndicate controller, paid only by SR1 and SR2.
- S: a school in Manila paid by 40 parents P01..P40 (regular 100 USD fees)
  and, once each, by C1 and C2: it must stay unflagged, and so must Q1 who
  pays only S.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from moneytrail.schema import TABLES
from moneytrail.scoring import SUBJECT_SCORES, TRANSACTION_SCORES

T0 = datetime(2025, 3, 1, 2, 0)

CONTACTS = {
    "L1": {"account": "ACC-L1", "phone_e164": "+15550100001", "email": "lone.payer@example.com"},
    "C1": {"account": "ACC-C1", "phone_e164": "+15550100002", "email": "c1@example.com"},
}
COUNTRY = {"F1": "PH", "R1": "PH", "SR1": "PH", "SR2": "PH", "K": "PH", "S": "PH", "G1": "CO"}
CITY = {"F1": "Angeles City", "R1": "Angeles City", "SR1": "Cebu", "SR2": "Cebu", "K": "Cebu", "S": "Manila"}


class Builder:
    def __init__(self, con: duckdb.DuckDBPyConnection, names: dict[str, str] | None = None):
        self.con = con
        self.n = 0
        self.names = names or {}  # subject -> folded name (parties.name_norm); the id otherwise
        for t in ("transactions", "parties"):
            con.execute(TABLES[t].ddl())
        con.execute("CREATE TABLE IF NOT EXISTS subject_records "
                    "(subject_id VARCHAR, provider VARCHAR, record_id VARCHAR, party VARCHAR)")
        con.execute(SUBJECT_SCORES.ddl())
        con.execute(TRANSACTION_SCORES.ddl())

    def pay(self, src: str, dst: str, times: int = 1, usd: float = 50.0, *, domestic: bool = False,
            agent: str | None = None, flagged: int = 0, at: datetime | None = None) -> None:
        """``times`` payments, a day apart from the builder's clock, or all at ``at``."""
        for _ in range(times):
            self.n += 1
            rid = f"T{self.n:05d}"
            sc = COUNTRY.get(src, "US")
            rc = COUNTRY.get(dst, "PH") if not domestic else sc
            ts = at if at is not None else T0 + timedelta(days=self.n)
            self.con.execute(
                """INSERT INTO transactions (provider, record_id, format, txn_type, ts_utc, amount, currency,
                   amount_usd, payout_agent_id, sender_country, receiver_country)
                   VALUES ('remitco', ?, 'remittance-csv', 'transfer', ?, ?, 'USD', ?, ?, ?, ?)""",
                [rid, ts, usd, usd, agent, sc, rc])
            for party, side, who, ctry in (("sender", "from", src, sc), ("receiver", "to", dst, rc)):
                c = CONTACTS.get(who, {})
                self.con.execute(
                    """INSERT INTO parties (provider, record_id, party, side, name, name_norm, city, country, account,
                       phone_e164, email) VALUES ('remitco', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [rid, party, side, self.names.get(who, who), self.names.get(who), CITY.get(who), ctry,
                     c.get("account"), c.get("phone_e164"), c.get("email")])
                self.con.execute("INSERT INTO subject_records VALUES (?, 'remitco', ?, ?)", [who, rid, party])
            self.con.execute("INSERT INTO transaction_scores VALUES ('remitco', ?, ?, ?, '')",
                             [rid, 0.9 if flagged else 0.05, flagged])

    def subject(self, sid: str, role: str, score: float, flagged: int) -> None:
        p = {r: (score if r == role else 0.01) for r in ("consumer", "facilitator", "intermediary")}
        self.con.execute("INSERT INTO subject_scores VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         [sid, role, score, flagged, "MT01" if flagged else "",
                          p["consumer"], p["facilitator"], p["intermediary"]])


def build(path: Path | str = ":memory:") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    b = Builder(con)
    for c in ("C1", "C2", "C3"):
        b.pay(c, "F1", 3, 60.0, agent="AG-ANGELES-1", flagged=1)
    b.pay("L1", "F1", 1, 45.0, agent="AG-ANGELES-1")
    b.pay("C1", "R1", 1, 40.0, flagged=1)
    b.pay("R1", "F1", 3, 35.0, domestic=True)
    for c in ("C4", "C5", "C6"):
        b.pay(c, "SR1", 2, 80.0, flagged=1)
        b.pay(c, "SR2", 2, 80.0, flagged=1)
    b.pay("SR1", "K", 4, 150.0, domestic=True)
    b.pay("SR2", "K", 4, 150.0, domestic=True)
    for i in range(1, 41):
        b.pay(f"P{i:02d}", "S", 3, 100.0, agent="AG-MANILA-9")
    b.pay("C1", "S", 1, 100.0)
    b.pay("C2", "S", 1, 100.0)
    b.pay("Q1", "S", 1, 100.0)
    for c in ("C1", "C2", "C3", "C4", "C5", "C6"):
        b.subject(c, "consumer", 0.95, 1)
    b.subject("L1", "consumer", 0.2, 0)
    b.subject("F1", "facilitator", 0.25, 0)
    for s in ("R1", "SR1", "SR2", "K", "S", "Q1", *(f"P{i:02d}" for i in range(1, 41))):
        b.subject(s, "none", 0.02, 0)
    return con
