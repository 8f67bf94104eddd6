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


# What the warehouse may keep cached while ``release_cache`` runs (then its own limit again).
RELEASE_LIMIT = "256MB"


def _limit_setting(con: duckdb.DuckDBPyConnection) -> str:
    """The warehouse's memory limit as it was given, to set it again exactly: DuckDB shows it
    rounded down ("10.6 GiB" for 45% of 24 GiB), and setting what it shows lowers it each time."""
    import os

    from moneytrail.store import WAREHOUSE_MEMORY

    shown = str(scalar(con, "SELECT current_setting('memory_limit')"))
    for given in (os.environ.get("MONEYTRAIL_MEMORY_LIMIT"), WAREHOUSE_MEMORY):
        if not given:
            continue
        probe = duckdb.connect()
        try:
            probe.execute("SET memory_limit = '" + given.replace("'", "''") + "'")
            if scalar(probe, "SELECT current_setting('memory_limit')") == shown:
                return given
        except duckdb.Error:
            continue
        finally:
            probe.close()
    return shown


def release_cache(con: duckdb.DuckDBPyConnection) -> None:
    """Let DuckDB hand back the memory it caches before the stage's Python-heavy steps.

    The warehouse keeps up to its memory limit (``store.WAREHOUSE_MEMORY``) of cached blocks after
    the SQL steps, and the communities' Python structures came on top of that (21.5 GiB at 20 M
    transactions). Lowering the limit a moment evicts the cache (temporary data that does not fit
    spills) and the memory goes back to the system; the limit as given holds again after.
    """
    limit = _limit_setting(con)
    try:
        con.execute(f"SET memory_limit = '{RELEASE_LIMIT}'")
    except duckdb.Error:  # more than that is in use: keep the cache
        pass
    finally:
        con.execute("SET memory_limit = '" + limit.replace("'", "''") + "'")


# The stage's scratch tables: gone before ``release_cache``, or it would spill them (674 MB
# held at 5 M transactions, mostly the propagation's copies of every subject's row).
SCRATCH = ("nw_vid", "nw_pagerank", "nw_pe", "nw_xb", "nw_base", "nw_r1", "nw_r2", "nw_r3", "nw_r4",
           "nw_family", "nw_romance")


def drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the stage's scratch tables (the SQL of both engines)."""
    for name in SCRATCH:
        con.execute(f"DROP TABLE IF EXISTS {name}")


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
    drop_scratch(con)
    release_cache(con)
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
