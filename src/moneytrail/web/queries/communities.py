"""Communities (Leiden, `moneytrail.network.communities`): the list and one community's members."""

from __future__ import annotations

from typing import Any

import duckdb

from moneytrail.web.queries import NotFound
from moneytrail.web.queries.alerts import order_by
from moneytrail.web.queries.reader import WarehouseReader, one, rows, scalar_int

SORTS = {"score": "score", "members": "members", "total_usd": "total_usd", "community_id": "community_id"}
COLUMNS = ("community_id, members, facilitators, consumers, intermediaries, total_usd, payments, first, last, "
           "coalesce(score, 0) AS score")


def community_page(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, min_score: float | None, sort: str,
                   page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
    if not reader.has("community_summary"):
        return [], 0
    cond, params = ("score >= ?", [min_score]) if min_score is not None else ("true", [])
    total = scalar_int(con, f"SELECT count(*) FROM community_summary WHERE {cond}", params)
    items = rows(con, f"""SELECT {COLUMNS} FROM community_summary WHERE {cond}
                          ORDER BY {order_by(sort, SORTS, 'community_id')} LIMIT ? OFFSET ?""",
                 [*params, page_size, (page - 1) * page_size])
    return items, total


def community_detail(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, community_id: str) -> dict[str, Any]:
    reader.require("community_summary", "communities")
    got = one(con, f"SELECT {COLUMNS} FROM community_summary WHERE community_id = ?", [community_id])
    if got is None:
        raise NotFound(f"no community {community_id!r}; GET /communities lists them")
    members = rows(con, """SELECT c.subject_id, w.name, coalesce(w.role, 'none') AS role, coalesce(w.score, 0) AS score,
                                  coalesce(w.flagged, 0) AS flagged, w.country
                           FROM communities c LEFT JOIN web_subjects w USING (subject_id)
                           WHERE c.community_id = ? ORDER BY score DESC, c.subject_id""", [community_id])
    for m in members:
        m["flagged"] = bool(m["flagged"])
    ids = [m["subject_id"] for m in members]
    edges = rows(con, """SELECT src AS source, dst AS target, n AS count, total_usd, first_ts AS first, last_ts AS last
                         FROM web_adj WHERE a = src AND a IN (SELECT unnest(?)) AND b IN (SELECT unnest(?))
                         ORDER BY total_usd DESC, src, dst""", [ids, ids])
    return got | {"member_list": members, "edges": edges}
