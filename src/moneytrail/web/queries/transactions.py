"""Transactions as the API shows them: the payment, both ends with their subjects, the score.

A subject's transactions come whole from the read cache (``web_st``, sorted by
subject); a page of the whole ledger is chosen from ``transactions`` and completed
from ``web_ends`` by row number (see ``facts.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from moneytrail.web.queries.alerts import normalise_corridor, order_by, split_reasons
from moneytrail.web.queries.reader import WarehouseReader, rows, scalar_int

TX_SORTS = {"ts_utc": "t.ts_utc", "score": "s.score", "amount_usd": "t.amount_usd"}
COLUMNS = ("provider, record_id, ts_utc, txn_type, amount, currency, amount_usd, channel, sender_country, "
           "receiver_country, payout_agent_id")


def _shape(t: dict[str, Any]) -> dict[str, Any]:
    for end in ("sender", "receiver"):
        t[end] = t[end] or {"subject_id": None, "name": None, "country": None, "account": None, "city": None}
    t["flagged"] = bool(t["flagged"])
    t["reasons"] = split_reasons(t["reasons"])
    return t


def describe(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, trows: list[int]) -> list[dict[str, Any]]:
    """Full rows for these transaction row numbers, in the order given."""
    if not trows:
        return []
    con.execute("CREATE OR REPLACE TEMP TABLE _web_keys (trow BIGINT, ord INTEGER)")
    con.executemany("INSERT INTO _web_keys VALUES (?, ?)", [(r, i) for i, r in enumerate(trows)])
    scores = """LEFT JOIN (SELECT rowid AS srow, score, flagged, reasons FROM wh.main.transaction_scores
                           WHERE rowid IN (SELECT srow FROM web_ends WHERE trow IN (SELECT trow FROM _web_keys))) s
                USING (srow)""" if reader.has("transaction_scores") else \
        "LEFT JOIN (SELECT NULL::BIGINT AS srow, NULL::DOUBLE AS score, 0 AS flagged, '' AS reasons) s USING (srow)"
    got = rows(con, f"""
        SELECT t.{COLUMNS.replace(', ', ', t.')}, s.score, coalesce(s.flagged, 0) AS flagged, s.reasons,
               e.sender, e.receiver, NULL AS direction
        FROM _web_keys k
        JOIN (SELECT rowid AS trow, * FROM wh.main.transactions WHERE rowid IN (SELECT trow FROM _web_keys)) t
          USING (trow)
        LEFT JOIN (SELECT * FROM web_ends WHERE trow IN (SELECT trow FROM _web_keys)) e USING (trow)
        {scores}
        ORDER BY k.ord""")
    con.execute("DROP TABLE IF EXISTS _web_keys")
    return [_shape(t) for t in got]


@dataclass
class TxFilter:
    provider: str | None = None
    subject_id: str | None = None
    flagged: bool | None = None
    min_score: float | None = None
    min_amount: float | None = None
    max_amount: float | None = None
    since: datetime | None = None
    until: datetime | None = None
    corridor: str | None = None
    channel: str | None = None
    txn_type: str | None = None
    direction: str | None = None  # with subject_id: sent | received


def _conditions(f: TxFilter, score_col: str | None) -> tuple[list[str], list[Any]]:
    where = ["true"]
    params: list[Any] = []
    if f.provider:
        where.append("t.provider = ?")
        params.append(f.provider)
    if f.flagged is not None and score_col:
        where.append("coalesce(s.flagged, 0) = ?")
        params.append(int(f.flagged))
    if f.min_score is not None and score_col:
        where.append("s.score >= ?")
        params.append(f.min_score)
    for cond, val in (("t.amount_usd >= ?", f.min_amount), ("t.amount_usd <= ?", f.max_amount),
                      ("t.ts_utc >= ?", f.since), ("t.ts_utc <= ?", f.until),
                      ("t.channel = ?", f.channel.lower() if f.channel else None), ("t.txn_type = ?", f.txn_type)):
        if val is not None:
            where.append(cond)
            params.append(val)
    if f.corridor:
        a, b = normalise_corridor(f.corridor).split(">")
        where.append("t.sender_country = ? AND t.receiver_country = ?")
        params += [a, b]
    return where, params


def transaction_page(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, f: TxFilter, sort: str,
                     page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
    if f.subject_id:
        return _subject_page(con, f, sort, page, page_size)
    has_scores = reader.has("transaction_scores")
    needs_scores = has_scores and (f.flagged is not None or f.min_score is not None or sort.lstrip("-+ ") == "score")
    src = "(SELECT rowid AS trow, * FROM wh.main.transactions) t"
    if needs_scores:
        src += " LEFT JOIN wh.main.transaction_scores s ON s.provider = t.provider AND s.record_id = t.record_id"
    where, params = _conditions(f, "s" if needs_scores else None)
    sorts = dict(TX_SORTS) if needs_scores else {k: v for k, v in TX_SORTS.items() if k != "score"}
    cond = " AND ".join(where)
    total = scalar_int(con, f"SELECT count(*) FROM {src} WHERE {cond}", params)
    got = con.execute(
        f"SELECT t.trow FROM {src} WHERE {cond} ORDER BY {order_by(sort, sorts, 't.provider, t.record_id')} "
        "LIMIT ? OFFSET ?", [*params, page_size, (page - 1) * page_size]).fetchall()
    return describe(reader, con, [int(r[0]) for r in got]), total


def _subject_page(con: duckdb.DuckDBPyConnection, f: TxFilter, sort: str, page: int, page_size: int
                  ) -> tuple[list[dict[str, Any]], int]:
    """A subject's transactions, straight from the read cache."""
    where, params = _conditions(f, "s")
    where.insert(0, "t.subject_id = ?")
    params.insert(0, f.subject_id)
    if f.direction:
        where.append("t.direction = ?")
        params.append(f.direction)
    cond = " AND ".join(where).replace("s.flagged", "t.flagged").replace("s.score", "t.score")
    sorts = {k: v.replace("s.", "t.") for k, v in TX_SORTS.items()}
    total = scalar_int(con, f"SELECT count(*) FROM web_st t WHERE {cond}", params)
    got = rows(con, f"""SELECT {COLUMNS}, score, flagged, reasons, sender, receiver, direction FROM web_st t
                        WHERE {cond} ORDER BY {order_by(sort, sorts, 't.provider, t.record_id')} LIMIT ? OFFSET ?""",
               [*params, page_size, (page - 1) * page_size])
    return [_shape(t) for t in got], total
