"""Where the money goes: country corridors (with map coordinates) and the places facilitators collect."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import duckdb

from moneytrail.web.queries.reader import WarehouseReader, rows, scalar_int


@lru_cache(maxsize=1)
def centroids() -> dict[str, tuple[float, float]]:
    """Approximate country centres shipped with the package (no map service at run time)."""
    text = resources.files("moneytrail.web.queries").joinpath("country_centroids.json").read_text("utf-8")
    return {k: (v[0], v[1]) for k, v in json.loads(text)["centroids"].items()}


def corridor_page(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, flagged_only: bool, min_payments: int,
                  page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
    cond = "payments >= ?" + (" AND flagged_payments > 0" if flagged_only else "")
    total = scalar_int(con, f"SELECT count(*) FROM web_corridors WHERE {cond}", [min_payments])
    items = rows(con, f"""SELECT * FROM web_corridors WHERE {cond}
                          ORDER BY flagged_payments DESC, payments DESC, sender_country, receiver_country
                          LIMIT ? OFFSET ?""", [min_payments, page_size, (page - 1) * page_size])
    where = centroids()
    for it in items:
        for end, col in (("sender", "sender_country"), ("receiver", "receiver_country")):
            lat, lon = where.get(it[col], (None, None))
            it[f"{end}_lat"], it[f"{end}_lon"] = lat, lon
    return items, total


def place_page(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, kind: str | None, country: str | None,
               with_subjects: bool, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
    if not reader.has("places"):
        return [], 0
    where, params = ["true"], []
    if kind:
        where.append("kind = ?")
        params.append(kind)
    if country:
        where.append("country = ?")
        params.append(country.upper())
    cond = " AND ".join(where)
    total = scalar_int(con, f"SELECT count(*) FROM places WHERE {cond}", params)
    items = rows(con, f"""SELECT rank, kind, place, country, facilitators, payments, total_usd, first, last, subjects
                          FROM places WHERE {cond} ORDER BY rank LIMIT ? OFFSET ?""",
                 [*params, page_size, (page - 1) * page_size])
    for it in items:
        it["subjects"] = [s for s in (it["subjects"] or "").split(";") if s] if with_subjects else None
    return items, total
