"""The server's read cache: the ledger re-sorted by subject, in a DuckDB file beside the warehouse.

The warehouse keys its tables by ``(provider, record_id)`` without ordering them, so
one subject's rows are scattered over millions: finding them reads the whole ledger.
Built once per warehouse (and kept until the warehouse changes), this file holds:

``web_sp``       every party row of a subject with its identifiers, sorted by subject;
``web_st``       every transaction of a subject, with both ends, score and direction, sorted by subject;
``web_ends``     per transaction row (``trow``, its DuckDB rowid): both ends and the score row, sorted by row;
``web_subjects`` per subject: name, country, role, score, reasons, corridors, channels, payments,
                 money, community (the alert queue filters and sorts on it);
``web_adj``      every edge of ``network_edges`` twice, once from each end (``a``), sorted by ``a``;
``web_nf``, ``web_si``  ``network_features`` and ``subject_indicators`` sorted by subject;
``web_corridors`` payments, money and flagged payments per sending and receiving country.

DuckDB skips the row groups a sorted column's range excludes, so a subject's page reads
one or two row groups of each table, however big the ledger. The file is compressed on
disk and opened read-only by every worker.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

import duckdb
import platformdirs

from moneytrail.errors import UserError

CACHE_VERSION = 3
NEEDS = ("subject_records", "parties", "transactions", "subject_scores")
TABLES = ("web_sp", "web_st", "web_ends", "web_subjects", "web_adj", "web_nf", "web_si", "web_corridors")

PARTIES_SQL = """
CREATE TEMP TABLE web_tp AS
SELECT t.rowid AS trow, {srow} AS srow, sr.subject_id, p.provider, p.record_id, p.party, p.side, p.name, p.email,
       coalesce(p.phone_e164, p.phone) AS phone, p.account, p.account_kind, p.country, p.dob, p.address, p.city,
       p.id_type, p.id_number
FROM wh.main.parties p
JOIN wh.main.transactions t ON t.provider = p.provider AND t.record_id = p.record_id
LEFT JOIN wh.main.subject_records sr ON sr.provider = p.provider AND sr.record_id = p.record_id AND sr.party = p.party
{join_scores}
"""

BUILD_SQL = """
CREATE TABLE web_sp AS SELECT * EXCLUDE (srow) FROM web_tp WHERE subject_id IS NOT NULL ORDER BY subject_id, trow;

CREATE TABLE web_ends AS
SELECT trow, any_value(srow) AS srow,
       arg_min(struct_pack(subject_id := subject_id, name := name, country := country, account := account, city := city),
               party) FILTER (WHERE side = 'from') AS sender,
       -- a card transfer's beneficiary rather than the merchant
       arg_min(struct_pack(subject_id := subject_id, name := name, country := country, account := account, city := city),
               CASE WHEN account_kind = 'merchant' THEN 'z' ELSE 'a' END || party) FILTER (WHERE side = 'to') AS receiver
FROM web_tp GROUP BY trow ORDER BY trow;

CREATE TABLE web_st AS
WITH mine AS (SELECT subject_id, trow, string_agg(DISTINCT side, ',') AS sides FROM web_sp GROUP BY ALL)
SELECT m.subject_id, m.trow, e.srow, CASE WHEN m.sides LIKE '%from%' THEN 'sent' ELSE 'received' END AS direction,
       t.provider, t.record_id, t.ts_utc, t.txn_type, t.amount, t.currency, t.amount_usd, t.channel,
       t.sender_country, t.receiver_country, t.payout_agent_id, t.ip_address, t.device_id,
       {score_cols}, e.sender, e.receiver
FROM mine m JOIN web_ends e USING (trow) JOIN wh.main.transactions t ON t.rowid = m.trow
{join_scores_by_row}
ORDER BY m.subject_id, t.ts_utc, m.trow;

CREATE TABLE web_subjects AS
WITH who AS (
    SELECT subject_id, mode(name) AS name, mode(country) AS country FROM web_sp GROUP BY subject_id
), corr AS (
    SELECT subject_id, list(corridor ORDER BY n DESC, corridor) AS corridors
    FROM (SELECT subject_id, sender_country || '>' || receiver_country AS corridor, count(*) AS n
          FROM web_st WHERE sender_country IS NOT NULL AND receiver_country IS NOT NULL GROUP BY ALL)
    GROUP BY subject_id
), agg AS (
    SELECT subject_id, count(*) AS payments, sum(amount_usd) AS total_usd, max(ts_utc) AS last_payment,
           list(DISTINCT channel ORDER BY channel) FILTER (WHERE channel IS NOT NULL) AS channels
    FROM web_st GROUP BY subject_id
), comm AS (
    SELECT subject_id, min(community_id) AS community_id FROM {communities} GROUP BY subject_id
)
SELECT s.subject_id, w.name, w.country, coalesce(s.role, 'none') AS role, coalesce(s.score, 0) AS score,
       coalesce(s.flagged, 0) AS flagged, coalesce(s.reasons, '') AS reasons,
       coalesce(c.corridors, []) AS corridors, coalesce(a.channels, []) AS channels,
       coalesce(a.payments, 0) AS payments, coalesce(a.total_usd, 0) AS total_usd, a.last_payment,
       m.community_id
FROM wh.main.subject_scores s
LEFT JOIN who w USING (subject_id) LEFT JOIN corr c USING (subject_id)
LEFT JOIN agg a USING (subject_id) LEFT JOIN comm m USING (subject_id)
ORDER BY s.score DESC, s.subject_id;
"""


def _fingerprint(warehouse: Path) -> str:
    parts = [str(warehouse.resolve()), str(CACHE_VERSION)]
    for p in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        if p.exists():
            st = p.stat()
            parts += [str(st.st_size), str(st.st_mtime_ns)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def cache_path(warehouse: Path) -> Path:
    """Beside the warehouse when its folder is writable, else in the user's cache folder."""
    key = _fingerprint(warehouse)
    if os.access(warehouse.parent, os.W_OK):
        return warehouse.with_name(f"{warehouse.name}.web-{key}.cache")
    folder = Path(platformdirs.user_cache_dir("moneytrail")) / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{key}.cache"


def _tables(warehouse: Path) -> set[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    finally:
        con.close()


CORRIDORS_SQL = """
CREATE TABLE web_corridors AS
SELECT t.sender_country, t.receiver_country, count(*) AS payments, coalesce(sum(t.amount_usd), 0) AS total_usd,
       sum({flagged}) AS flagged_payments,
       coalesce(sum(CASE WHEN {flagged} = 1 THEN t.amount_usd END), 0) AS flagged_usd
FROM wh.main.transactions t {join_scores}
WHERE t.sender_country IS NOT NULL AND t.receiver_country IS NOT NULL
GROUP BY ALL
"""

NETWORK_SQL = """
CREATE TABLE web_adj AS
SELECT * FROM (SELECT src AS a, dst AS b, src, dst, n, total_usd, first_ts, last_ts, n_p2p FROM wh.main.network_edges
               UNION ALL
               SELECT dst AS a, src AS b, src, dst, n, total_usd, first_ts, last_ts, n_p2p FROM wh.main.network_edges
               WHERE src <> dst)
ORDER BY a, b;
"""


def _build(warehouse: Path, out: Path, tables: set[str]) -> None:
    con = duckdb.connect(str(out))
    try:
        con.execute("SET TimeZone = 'UTC'")
        quoted = str(warehouse).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS wh (READ_ONLY)")
        scored = "transaction_scores" in tables
        con.execute(PARTIES_SQL.format(
            srow="s.rowid" if scored else "NULL::BIGINT",
            join_scores="LEFT JOIN wh.main.transaction_scores s ON s.provider = t.provider "
                        "AND s.record_id = t.record_id" if scored else ""))
        communities = "wh.main.communities" if "communities" in tables else \
            "(SELECT NULL::VARCHAR AS community_id, NULL::VARCHAR AS subject_id WHERE false)"
        con.execute(BUILD_SQL.format(
            score_cols="s.score, coalesce(s.flagged, 0) AS flagged, s.reasons" if scored else
                       "NULL::DOUBLE AS score, 0 AS flagged, NULL::VARCHAR AS reasons",
            join_scores_by_row="LEFT JOIN wh.main.transaction_scores s ON s.rowid = e.srow" if scored else "",
            communities=communities))
        con.execute("DROP TABLE web_tp")
        con.execute(CORRIDORS_SQL.format(
            flagged="coalesce(s.flagged, 0)" if scored else "0",
            join_scores="LEFT JOIN wh.main.transaction_scores s ON s.provider = t.provider "
                        "AND s.record_id = t.record_id" if scored else ""))
        if "network_edges" in tables:
            con.execute(NETWORK_SQL)
        else:
            con.execute("""CREATE TABLE web_adj (a VARCHAR, b VARCHAR, src VARCHAR, dst VARCHAR, n BIGINT,
                           total_usd DOUBLE, first_ts TIMESTAMP, last_ts TIMESTAMP, n_p2p BIGINT)""")
        for name, source in (("web_nf", "network_features"), ("web_si", "subject_indicators")):
            if source in tables:
                con.execute(f"CREATE TABLE {name} AS SELECT * FROM wh.main.{source} ORDER BY subject_id")
            else:
                con.execute(f"CREATE TABLE {name} (subject_id VARCHAR)")
        con.execute("DETACH wh")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def ensure_cache(warehouse: Path) -> Path | None:
    """The cache file of this warehouse, built when missing (one process builds, the others wait).

    None when the warehouse holds no scored subjects yet (nothing to cache).
    """
    warehouse = Path(warehouse)
    path = cache_path(warehouse)
    if path.is_file():
        return path
    tables = _tables(warehouse)
    if not set(NEEDS) <= tables:
        return None
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.is_file():
            return path
        part = path.with_name(path.name + ".part")
        for leftover in (part, part.with_name(part.name + ".wal")):
            leftover.unlink(missing_ok=True)
        try:
            _build(warehouse, part, tables)
        except duckdb.Error as exc:
            raise UserError(f"cannot build the web cache {part}: {exc}") from exc
        os.replace(part, path)
        for old in path.parent.glob(f"{warehouse.name}.web-*.cache"):  # caches of earlier versions of it
            if old != path:
                old.unlink(missing_ok=True)
    path.with_name(path.name + ".lock").unlink(missing_ok=True)
    return path


EMPTY_SQL = """
CREATE OR REPLACE TABLE memory.main.web_sp (subject_id VARCHAR, trow BIGINT, provider VARCHAR, record_id VARCHAR,
    party VARCHAR, side VARCHAR, name VARCHAR, email VARCHAR, phone VARCHAR, account VARCHAR, account_kind VARCHAR,
    country VARCHAR, dob DATE, address VARCHAR, city VARCHAR, id_type VARCHAR, id_number VARCHAR);
CREATE OR REPLACE TABLE memory.main.web_ends (trow BIGINT, srow BIGINT,
    sender STRUCT(subject_id VARCHAR, name VARCHAR, country VARCHAR, account VARCHAR, city VARCHAR),
    receiver STRUCT(subject_id VARCHAR, name VARCHAR, country VARCHAR, account VARCHAR, city VARCHAR));
CREATE OR REPLACE TABLE memory.main.web_st (subject_id VARCHAR, trow BIGINT, srow BIGINT, direction VARCHAR,
    provider VARCHAR, record_id VARCHAR, ts_utc TIMESTAMP, txn_type VARCHAR, amount DOUBLE, currency VARCHAR,
    amount_usd DOUBLE, channel VARCHAR, sender_country VARCHAR, receiver_country VARCHAR, payout_agent_id VARCHAR,
    ip_address VARCHAR, device_id VARCHAR, score DOUBLE, flagged INTEGER, reasons VARCHAR,
    sender STRUCT(subject_id VARCHAR, name VARCHAR, country VARCHAR, account VARCHAR, city VARCHAR),
    receiver STRUCT(subject_id VARCHAR, name VARCHAR, country VARCHAR, account VARCHAR, city VARCHAR));
CREATE OR REPLACE TABLE memory.main.web_subjects (subject_id VARCHAR, name VARCHAR, country VARCHAR, role VARCHAR,
    score DOUBLE, flagged INTEGER, reasons VARCHAR, corridors VARCHAR[], channels VARCHAR[], payments BIGINT,
    total_usd DOUBLE, last_payment TIMESTAMP, community_id VARCHAR);
CREATE OR REPLACE TABLE memory.main.web_adj (a VARCHAR, b VARCHAR, src VARCHAR, dst VARCHAR, n BIGINT,
    total_usd DOUBLE, first_ts TIMESTAMP, last_ts TIMESTAMP, n_p2p BIGINT);
CREATE OR REPLACE TABLE memory.main.web_nf (subject_id VARCHAR);
CREATE OR REPLACE TABLE memory.main.web_corridors (sender_country VARCHAR, receiver_country VARCHAR, payments BIGINT,
    total_usd DOUBLE, flagged_payments BIGINT, flagged_usd DOUBLE);
CREATE OR REPLACE TABLE memory.main.web_si (subject_id VARCHAR, indicator_id VARCHAR, value VARCHAR, threshold VARCHAR);
"""


def attach_cache(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    """Make `web_*` visible on `con` (the reader's in-memory database): the cache file, or empty tables."""
    path = ensure_cache(warehouse)
    if path is None:
        con.execute(EMPTY_SQL)
        return
    quoted = str(path).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS wc (READ_ONLY)")
    for t in TABLES:
        con.execute(f"CREATE OR REPLACE VIEW memory.main.{t} AS SELECT * FROM wc.main.{t}")


def names_of(con: duckdb.DuckDBPyConnection, subject_ids: list[str]) -> dict[str, str | None]:
    if not subject_ids:
        return {}
    got = con.execute(
        "SELECT subject_id, name FROM web_subjects WHERE subject_id IN (SELECT unnest(?))", [subject_ids]
    ).fetchall()
    return {r[0]: r[1] for r in got}
