"""Platform referrals: the list, one referral with its accounts, links and sessions, and pivots."""

from __future__ import annotations

from typing import Any

import duckdb

from moneytrail.referrals import pivot as referral_pivot
from moneytrail.web.queries import NotFound
from moneytrail.web.queries.reader import WarehouseReader, one, rows, scalar_int

LIST_SQL = """
WITH s AS (SELECT provider, report_id, count(*) AS subjects FROM referral_subjects GROUP BY ALL),
l AS (SELECT rs.provider, rs.report_id, count(DISTINCT rs.record_id) AS linked_subjects
      FROM referral_subjects rs SEMI JOIN referral_links k
        ON k.referral_provider = rs.provider AND k.referral_record_id = rs.record_id
      GROUP BY ALL),
x AS (SELECT provider, report_id, count(*) AS sessions FROM referral_sessions GROUP BY ALL)
SELECT r.provider, r.record_id AS report_id, r.platform, r.submitted_at, r.incident_type,
       coalesce(s.subjects, 0) AS subjects, coalesce(l.linked_subjects, 0) AS linked_subjects,
       coalesce(x.sessions, 0) AS sessions
FROM referrals r
LEFT JOIN s ON s.provider = r.provider AND s.report_id = r.record_id
LEFT JOIN l ON l.provider = r.provider AND l.report_id = r.record_id
LEFT JOIN x ON x.provider = r.provider AND x.report_id = r.record_id
"""


def _ready(reader: WarehouseReader) -> bool:
    return reader.has("referrals", "referral_subjects", "referral_links", "referral_sessions")


def referral_page(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, platform: str | None,
                  linked: bool | None, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
    if not _ready(reader):
        return [], 0
    where, params = ["true"], []
    if platform:
        where.append("lower(platform) = ?")
        params.append(platform.lower())
    if linked is not None:
        where.append("linked_subjects > 0" if linked else "linked_subjects = 0")
    cond = " AND ".join(where)
    total = scalar_int(con, f"SELECT count(*) FROM ({LIST_SQL}) WHERE {cond}", params)
    items = rows(con, f"SELECT * FROM ({LIST_SQL}) WHERE {cond} ORDER BY submitted_at DESC NULLS LAST, report_id "
                      "LIMIT ? OFFSET ?", [*params, page_size, (page - 1) * page_size])
    return items, total


def referral_detail(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, report_id: str) -> dict[str, Any]:
    got = one(con, f"SELECT * FROM ({LIST_SQL}) WHERE report_id = ?", [report_id]) if _ready(reader) else None
    if got is None:
        raise NotFound(f"no referral {report_id!r}; GET /referrals lists them")
    subjects = rows(con, """
        SELECT s.record_id, s.subject_ref, s.role, s.account_id, s.screen_name, s.display_name, s.country,
               coalesce((SELECT list(i.value ORDER BY i.kind, i.value) FROM referral_identifiers i
                         WHERE i.provider = s.provider AND i.record_id = s.record_id), []) AS identifiers,
               (SELECT count(*) FROM referral_ip_events e
                 WHERE e.provider = s.provider AND e.record_id = s.record_id) AS ip_events
        FROM referral_subjects s WHERE s.provider = ? AND s.report_id = ? ORDER BY s.record_id""",
        [got["provider"], report_id])
    links = rows(con, """
        SELECT l.referral_provider, l.referral_record_id, s.platform, s.account_id, l.subject_id, l.via, l.evidence
        FROM referral_links l JOIN referral_subjects s
          ON s.provider = l.referral_provider AND s.record_id = l.referral_record_id
        WHERE s.provider = ? AND s.report_id = ? ORDER BY l.subject_id, l.via""", [got["provider"], report_id])
    for s in subjects:
        s["links"] = [lk for lk in links if lk["referral_record_id"] == s["record_id"]]
    aligned = "[]::VARCHAR[]"
    if reader.has("aligned_payments"):
        aligned = """coalesce((SELECT list(a.provider || ':' || a.record_id ORDER BY a.provider, a.record_id)
                      FROM aligned_payments a WHERE a.referral_provider = x.provider
                      AND a.report_id = x.report_id AND a.session_seq = x.seq), [])"""
    sessions = rows(con, f"""SELECT seq, from_record_id, to_record_id, kind, start_utc, end_utc,
                                    {aligned} AS aligned_payments
                             FROM referral_sessions x WHERE provider = ? AND report_id = ? ORDER BY seq""",
                    [got["provider"], report_id])
    return got | {"subject_list": subjects, "session_list": sessions}


def pivot(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, kind: str, value: str, limit: int
          ) -> dict[str, Any]:
    reader.require("referral_links", "subject_records")
    return referral_pivot(con, kind, value, limit=limit)
