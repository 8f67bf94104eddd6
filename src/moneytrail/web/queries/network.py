"""The neighbourhood of a subject (for the graph view) and offender discovery from a seed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from moneytrail.errors import UserError
from moneytrail.network.expand import expand
from moneytrail.network.graph import SubjectGraph, load_graph
from moneytrail.web.queries import NotFound
from moneytrail.web.queries.facts import names_of
from moneytrail.web.queries.reader import WarehouseReader, rows

NODE_COLUMNS = "subject_id AS id, name, role, score, flagged, community_id, country"


def _edge_filter(min_amount: float, since: datetime | None, until: datetime | None, p2p_only: bool
                 ) -> tuple[str, list[Any]]:
    cond = ["total_usd >= ?"]
    params: list[Any] = [min_amount]
    if since:
        cond.append("last_ts >= ?")
        params.append(since)
    if until:
        cond.append("first_ts <= ?")
        params.append(until)
    if p2p_only:
        cond.append("n_p2p > 0")
    return " AND ".join(cond), params


def neighbourhood(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, subject_id: str, *, hops: int = 2,
                  min_amount: float = 0.0, since: datetime | None = None, until: datetime | None = None,
                  max_nodes: int = 200, p2p_only: bool = True) -> dict[str, Any]:
    """Breadth-first from the subject over `network_edges`, nearest and riskiest first when cut."""
    reader.require("network_edges")
    seed = rows(con, f"SELECT {NODE_COLUMNS} FROM web_subjects WHERE subject_id = ?", [subject_id])
    if not seed:
        raise NotFound(f"no subject {subject_id!r} in this warehouse")
    cond, params = _edge_filter(min_amount, since, until, p2p_only)
    hop_of = {subject_id: 0}
    frontier = [subject_id]
    truncated = False
    for hop in range(1, hops + 1):
        if not frontier or len(hop_of) >= max_nodes:
            break
        found = con.execute(f"""
            WITH e AS (SELECT DISTINCT b FROM web_adj WHERE {cond} AND a IN (SELECT unnest(?)))
            SELECT w.subject_id FROM e JOIN web_subjects w ON w.subject_id = e.b
            WHERE w.subject_id NOT IN (SELECT unnest(?))
            ORDER BY w.flagged DESC, w.score DESC, w.subject_id""",
            [*params, frontier, list(hop_of)]).fetchall()
        room = max_nodes - len(hop_of)
        if len(found) > room:
            truncated = True
            found = found[:room]
        frontier = [r[0] for r in found]
        for s in frontier:
            hop_of[s] = hop
    kept = list(hop_of)
    nodes = rows(con, f"SELECT {NODE_COLUMNS} FROM web_subjects WHERE subject_id IN (SELECT unnest(?))", [kept])
    for n in nodes:
        n["hop"] = hop_of[n["id"]]
        n["seed"] = n["id"] == subject_id
        n["flagged"] = bool(n["flagged"])
    nodes.sort(key=lambda n: (n["hop"], -n["score"], n["id"]))
    edges = rows(con, f"""
        SELECT src AS source, dst AS target, n AS count, total_usd, first_ts AS first, last_ts AS last
        FROM web_adj WHERE {cond} AND a = src AND a IN (SELECT unnest(?)) AND b IN (SELECT unnest(?))
        ORDER BY total_usd DESC, src, dst""", [*params, kept, kept])
    return {"seed": subject_id, "nodes": nodes, "edges": edges, "truncated": truncated}


def subject_graph(reader: WarehouseReader) -> SubjectGraph:
    """The whole subject graph, loaded once per process (offender discovery walks it)."""
    def build() -> SubjectGraph:
        with reader.connect() as con:
            return load_graph(con)
    return reader.cached("graph", build)


def discover(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, seed: str, top: int) -> dict[str, Any]:
    """`moneytrail expand` as data: ranked subjects and the path from the seed to each."""
    reader.require("network_edges", "subject_records")
    try:
        seeds, found = expand(con, seed, top, sg=subject_graph(reader))
    except UserError as exc:  # nothing matches the seed
        raise NotFound(str(exc)) from exc
    names = names_of(con, [c.subject_id for c in found])
    return {
        "seed": seed,
        "seed_subjects": seeds,
        "connected": [
            {"rank": c.rank, "subject_id": c.subject_id, "name": names.get(c.subject_id), "rank_score": c.score,
             "role": c.role or "none", "flagged": bool(c.flagged), "path": c.path}
            for c in found
        ],
    }
