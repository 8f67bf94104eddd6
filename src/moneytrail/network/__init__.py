"""Payment network analytics: the subject graph, roles, risk propagation,
offender discovery, communities and places.

``run_network(con)`` is the batch run's stage after scoring. It writes
``network_payments``, ``network_edges``, ``network_features``, ``network_risk``,
``network_roles``, ``network_name_ties``, ``network_kin_ties``, ``communities``,
``community_summary`` and ``places``, then feeds the network evidence back
into ``subject_scores`` and ``transaction_scores`` (reasons ``NW01``...``NW05``). See ``docs/network.md``.
"""

from __future__ import annotations

import time

import duckdb

from moneytrail.store import scalar, table_exists

SNAPSHOTS = {
    "subject_scores": "network_prior_subject_scores",
    "transaction_scores": "network_prior_transaction_scores",
}


def _snapshot(con: duckdb.DuckDBPyConnection) -> None:
    """Keep scoring's own tables so that a rerun of the stage starts from them, not from its own output."""
    applied = (
        table_exists(con, "network_roles")
        and table_exists(con, "network_prior_subject_scores")
        and bool(
            scalar(con, "SELECT count(*) FROM subject_scores WHERE reasons LIKE '%NW0%'")
            if table_exists(con, "subject_scores")
            else False
        )
    )
    for table, snap in SNAPSHOTS.items():
        if not table_exists(con, table):
            continue
        if applied and table_exists(con, snap):
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {snap}")
        else:
            con.execute(f"CREATE OR REPLACE TABLE {snap} AS SELECT * FROM {table}")


def run_network(con: duckdb.DuckDBPyConnection, *, feedback: bool = True) -> dict[str, float]:
    """The network stage: graph, features, propagation, roles, communities, places, feedback.

    Returns the seconds per step.
    """
    from moneytrail.network.communities import detect_communities
    from moneytrail.network.features import compute_features
    from moneytrail.network.graph import build_edges, load_graph
    from moneytrail.network.names import write_name_ties
    from moneytrail.network.places import rank_places
    from moneytrail.network.propagation import base_risk, propagate
    from moneytrail.network.roles import assign_roles, feed_back

    times: dict[str, float] = {}
    t = time.perf_counter()

    def tick(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        times[name] = now - t
        t = now

    if not table_exists(con, "subject_records"):
        return times
    _snapshot(con)
    build_edges(con)
    tick("edges")
    sg = load_graph(con)
    tick("graph")
    compute_features(con, sg)
    tick("features")
    base_risk(con)
    propagate(con)
    assign_roles(con)
    tick("propagation")
    write_name_ties(con)
    tick("name_ties")
    detect_communities(con, sg)
    tick("communities")
    rank_places(con)
    tick("places")
    if feedback:
        feed_back(con)
        tick("feedback")
    return times


__all__ = ["run_network"]
