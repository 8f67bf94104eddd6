"""The alert queue: flagged subjects, filtered and sorted, one page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from moneytrail.errors import UserError
from moneytrail.web.queries.reader import rows, scalar_int

SORTS = {
    "score": "score", "total_usd": "total_usd", "payments": "payments",
    "last_payment": "last_payment", "subject_id": "subject_id",
}


def order_by(sort: str, allowed: dict[str, str], tiebreak: str) -> str:
    """`-col` sorts descending; only whitelisted columns reach the SQL."""
    desc = sort.startswith("-")
    key = sort.lstrip("-+ ")
    if key not in allowed:
        raise UserError(f"cannot sort by {sort!r}; use one of {', '.join(sorted(allowed))} (prefix - for descending)")
    return f"{allowed[key]} {'DESC' if desc else 'ASC'} NULLS LAST, {tiebreak}"


def normalise_corridor(corridor: str) -> str:
    """`PH>US`, `ph-us`, `PH US` -> `PH>US`."""
    parts = [p for p in corridor.upper().replace("-", ">").replace(" ", ">").split(">") if p]
    if len(parts) != 2 or not all(len(p) == 2 and p.isalpha() for p in parts):
        raise UserError(f"a corridor is two country codes like PH>US, not {corridor!r}")
    return f"{parts[0]}>{parts[1]}"


@dataclass
class AlertFilter:
    role: str | None = None
    min_score: float | None = None
    corridor: str | None = None
    channel: str | None = None
    q: str | None = None
    include_unflagged: bool = False
    only_subjects: list[str] | None = None  # a case-state filter: these subjects only
    except_subjects: list[str] | None = None  # "no case": not these


def alert_page(con: duckdb.DuckDBPyConnection, f: AlertFilter, sort: str, page: int, page_size: int
               ) -> tuple[list[dict[str, Any]], int]:
    where = ["true"] if f.include_unflagged else ["flagged = 1"]
    params: list[Any] = []
    if f.role:
        where.append("role = ?")
        params.append(f.role)
    if f.min_score is not None:
        where.append("score >= ?")
        params.append(f.min_score)
    if f.corridor:
        where.append("list_contains(corridors, ?)")
        params.append(normalise_corridor(f.corridor))
    if f.channel:
        where.append("list_contains(channels, ?)")
        params.append(f.channel.lower())
    if f.q:
        where.append("(subject_id = ? OR lower(name) LIKE ?)")
        params += [f.q.strip(), f.q.strip().lower().replace("%", "").replace("_", "") + "%"]
    if f.only_subjects is not None:
        where.append("subject_id IN (SELECT unnest(?::VARCHAR[]))")
        params.append(f.only_subjects)
    if f.except_subjects:
        where.append("subject_id NOT IN (SELECT unnest(?::VARCHAR[]))")
        params.append(f.except_subjects)
    cond = " AND ".join(where)
    total = scalar_int(con, f"SELECT count(*) FROM web_subjects WHERE {cond}", params)
    items = rows(
        con,
        f"""SELECT subject_id, name, role, score, reasons, corridors, channels, payments, total_usd,
                   last_payment, community_id
            FROM web_subjects WHERE {cond}
            ORDER BY {order_by(sort, SORTS, 'subject_id')} LIMIT ? OFFSET ?""",
        [*params, page_size, (page - 1) * page_size],
    )
    for it in items:
        it["reasons"] = split_reasons(it["reasons"])
    return items, total


def split_reasons(reasons: str | None) -> list[str]:
    return [r for r in (reasons or "").split(";") if r]
