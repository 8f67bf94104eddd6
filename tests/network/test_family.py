"""A migrant worker sending money home to a relative who runs a facilitator family is remitting to
family: paying her is no consumer evidence (NW01), while a stranger's single payment still is."""

from __future__ import annotations

import duckdb

from moneytrail.network import run_network
from tests.network.world import Builder

NAMES = {"F1": "maria theresa macaraeg", "W": "danilo v macaraeg", "L2": "john smith"}


def _world() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    b = Builder(con, NAMES)
    for c in ("C1", "C2", "C3"):
        b.pay(c, "F1", 3, 60.0, flagged=1)
    b.pay("W", "F1", 10, 200.0)  # monthly remittances of an overseas worker to his sister
    b.pay("L2", "F1", 1, 45.0)
    for c in ("C1", "C2", "C3"):
        b.subject(c, "consumer", 0.95, 1)
    b.subject("F1", "facilitator", 0.95, 1)
    b.subject("W", "none", 0.05, 0)
    b.subject("L2", "consumer", 0.2, 0)
    return con


def _risk(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[float, str]]:
    rows = con.execute("SELECT subject_id, net_consumer, reasons FROM network_risk").fetchall()
    return {r[0]: (float(r[1]), r[2]) for r in rows}


def test_family_remittance_to_a_facilitator_is_no_consumer_evidence() -> None:
    con = _world()
    run_network(con)
    risk = _risk(con)
    assert risk["W"][0] == 0.0 and "NW01" not in risk["W"][1]
    assert risk["L2"][0] >= 0.9 and "NW01" in risk["L2"][1]
    flagged = dict(con.execute("SELECT subject_id, flagged FROM subject_scores").fetchall())
    assert flagged["W"] == 0 and flagged["L2"] == 1


def test_without_a_shared_surname_the_worker_would_be_tainted() -> None:
    con = _world()
    run_network(con)
    con.execute(
        "UPDATE parties SET name_norm = 'danilo v reyes' WHERE name_norm = 'danilo v macaraeg'"
    )
    run_network(con)  # the stage again, on the changed data
    assert "NW01" in _risk(con)["W"][1]


def test_a_shared_given_name_across_name_origins_is_no_family_tie() -> None:
    con = _world()
    run_network(con)
    con.execute("UPDATE parties SET name_norm = 'theresa smith' WHERE name_norm = 'danilo v macaraeg'")
    con.execute(
        "CREATE OR REPLACE TABLE mt_names AS SELECT * FROM (VALUES "
        "('theresa smith', 'anglo'), ('maria theresa macaraeg', 'hisp_ph')) t(name_norm, origin)"
    )
    run_network(con)  # the stage again, on the changed data
    assert "NW01" in _risk(con)["W"][1]
    # with no origin known for the payer's name, the shared word still counts as family
    con.execute("DELETE FROM mt_names WHERE origin = 'anglo'")
    run_network(con)  # the stage again, on the changed data
    assert "NW01" not in _risk(con)["W"][1]


def test_a_romance_victim_paying_a_facilitator_is_no_consumer_evidence() -> None:
    con = _world()
    run_network(con)
    assert "NW01" in _risk(con)["L2"][1]
    # L2's transfers are the course of a romance scam (indicator MT35, scoring's subject table)
    con.execute("CREATE OR REPLACE TABLE mt_subi AS SELECT 'L2' AS subject_id, 1 AS f_MT35")
    run_network(con)  # the stage again, on the changed data
    assert "NW01" not in _risk(con)["L2"][1]
