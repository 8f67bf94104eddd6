"""Network analytics on a small hand-built warehouse (see world.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from moneytrail.network import run_network
from moneytrail.network.expand import expand, resolve_seed
from moneytrail.network.graph import build_edges
from moneytrail.network.propagation import PropagationParams, base_risk, propagate
from tests.network.world import build


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = build()
    run_network(c)
    return c


def subj(con: duckdb.DuckDBPyConnection, sid: str) -> tuple[str, float, int, str]:
    row = con.execute("SELECT role, score, flagged, reasons FROM subject_scores WHERE subject_id = ?", [sid]).fetchone()
    assert row is not None
    return row[0], row[1], row[2], row[3]


def test_consumer_role_lone_payer_rises(con: duckdb.DuckDBPyConnection) -> None:
    role, score, flagged, reasons = subj(con, "L1")
    assert (role, flagged) == ("consumer", 1)
    assert score > 0.6 and "NW01" in reasons


def test_known_consumers_keep_their_role(con: duckdb.DuckDBPyConnection) -> None:
    role, score, flagged, reasons = subj(con, "C1")
    assert (role, flagged) == ("consumer", 1) and score == pytest.approx(0.95) and "MT01" in reasons


def test_facilitator_role_from_flagged_consumers(con: duckdb.DuckDBPyConnection) -> None:
    role, score, flagged, reasons = subj(con, "F1")
    assert (role, flagged) == ("facilitator", 1)
    assert "NW02" in reasons and score > 0.7


def test_intermediary_role_passes_money_on(con: duckdb.DuckDBPyConnection) -> None:
    for sid in ("R1", "SR1", "SR2"):
        role, _, flagged, reasons = subj(con, sid)
        assert (role, flagged) == ("intermediary", 1), sid
        assert "NW03" in reasons


def test_collector_is_facilitator(con: duckdb.DuckDBPyConnection) -> None:
    role, _, flagged, reasons = subj(con, "K")
    assert (role, flagged) == ("facilitator", 1) and "NW06" in reasons


def test_popular_legitimate_receiver_is_not_a_suspect(con: duckdb.DuckDBPyConnection) -> None:
    role, score, flagged, reasons = subj(con, "S")
    assert (role, flagged, reasons) == ("none", 0, "")
    assert score == pytest.approx(0.02)
    risk = con.execute("SELECT p_facilitator, known_payers, payers FROM network_risk WHERE subject_id = 'S'").fetchone()
    assert risk is not None and risk[0] < 0.3 and risk[1] == 2 and risk[2] == 43
    for payer in ("Q1", "P01", "P40"):
        assert subj(con, payer)[2] == 0
    bad = con.execute("""SELECT count(*) FROM transaction_scores t JOIN network_payments p USING (provider, record_id)
                         WHERE p.dst = 'S' AND p.src NOT IN ('C1', 'C2') AND t.flagged = 1""").fetchone()
    assert bad == (0,)


def test_transaction_feedback(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("""SELECT t.flagged, t.reasons FROM transaction_scores t JOIN network_payments p
                          USING (provider, record_id) WHERE p.src = 'L1' AND p.dst = 'F1'""").fetchall()
    assert rows == [(1, "NW05")]


def test_features(con: duckdb.DuckDBPyConnection) -> None:
    f = con.execute("""SELECT in_degree, out_degree, in_payments, counterparty_countries, flagged_payer_share,
                              reciprocity, pagerank FROM network_features WHERE subject_id = 'F1'""").fetchone()
    assert f is not None
    assert f[0] == 5 and f[1] == 0 and f[2] == 13 and f[3] >= 1
    assert f[4] == pytest.approx(3 / 5) and f[5] == 0 and f[6] > 0
    s = con.execute("SELECT in_degree, flagged_payer_share FROM network_features WHERE subject_id = 'S'").fetchone()
    assert s is not None and s[0] == 43 and s[1] < 0.05


def test_rerun_is_idempotent(con: duckdb.DuckDBPyConnection) -> None:
    before = con.execute("SELECT * FROM subject_scores ORDER BY subject_id").fetchall()
    tx = con.execute("SELECT * FROM transaction_scores ORDER BY record_id").fetchall()
    run_network(con)
    assert con.execute("SELECT * FROM subject_scores ORDER BY subject_id").fetchall() == before
    assert con.execute("SELECT * FROM transaction_scores ORDER BY record_id").fetchall() == tx


@pytest.mark.parametrize("seed", ["L1", "ACC-L1", "+1 555 010 0001", "Lone.Payer@example.com"])
def test_expand_from_each_kind_of_seed(con: duckdb.DuckDBPyConnection, seed: str) -> None:
    assert resolve_seed(con, seed) == ["L1"]
    seeds, found = expand(con, seed, top=10)
    assert seeds == ["L1"]
    ranked = [f.subject_id for f in found]
    assert ranked[0] == "F1" and found[0].path == ["L1", "F1"]
    # the rest of the network comes before the school's parents
    for member in ("C1", "C2", "C3", "R1"):
        assert member in ranked
    assert not any(r.startswith("P") for r in ranked[:6])
    c1 = next(f for f in found if f.subject_id == "C1")
    assert c1.path[0] == "L1" and c1.path[-1] == "C1" and len(c1.path) == 3


def test_expand_unknown_seed(con: duckdb.DuckDBPyConnection) -> None:
    from moneytrail.errors import UserError

    with pytest.raises(UserError):
        expand(con, "nobody@nowhere.example")


def test_communities(con: duckdb.DuckDBPyConnection) -> None:
    comm = dict(con.execute("SELECT subject_id, community_id FROM communities").fetchall())
    assert comm["F1"] == comm["R1"] == comm["C3"] == comm["L1"]
    assert comm["K"] == comm["SR1"] == comm["SR2"] == comm["C4"]
    assert comm["K"] != comm["F1"]
    # the school and its parents are tied to the networks by two consumers' fees only
    assert not {"S", "Q1", *(f"P{i:02d}" for i in range(1, 41))} & comm.keys()
    fam = con.execute("SELECT members, facilitators, consumers, total_usd, score FROM community_summary "
                      "WHERE community_id = ?", [comm["F1"]]).fetchone()
    assert fam is not None and fam[1] >= 1 and fam[2] >= 3 and fam[3] > 0 and fam[4] > 0.5
    top = con.execute("SELECT community_id FROM community_summary ORDER BY score DESC LIMIT 2").fetchall()
    assert {comm["F1"], comm["K"]} == {r[0] for r in top}


def test_places(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("SELECT kind, place, country, facilitators, payments FROM places ORDER BY rank").fetchall()
    cities = [r for r in rows if r[0] == "city"]
    assert cities[0][1] in ("angeles city", "cebu") and cities[0][3] >= 2
    assert not any(r[1] == "manila" for r in rows)
    agents = {r[1]: r for r in rows if r[0] == "agent"}
    assert agents["AG-ANGELES-1"][4] == 10 and "AG-MANILA-9" not in agents
    assert any(r[0] == "country" and r[1] == "PH" for r in rows)
    lists = [r[0].split(";") for r in con.execute("SELECT subjects FROM places").fetchall()]
    assert any(len(ids) > 1 for ids in lists)
    assert all(ids == sorted(set(ids)) for ids in lists)  # the same text on every run


def test_stage_without_scores() -> None:
    c = build()
    c.execute("DROP TABLE subject_scores")
    c.execute("DROP TABLE transaction_scores")
    run_network(c)
    assert c.execute("SELECT count(*) FROM network_edges").fetchone()[0] > 0  # type: ignore[index]
    # F1 has no known consumers without scores, so nobody is flagged
    assert c.execute("SELECT count(*) FROM network_roles WHERE flagged = 1").fetchone() == (0,)


def test_cli_commands(tmp_path: Path) -> None:
    from moneytrail.cli import app

    store = tmp_path / "w.duckdb"
    c = build(store)
    run_network(c)
    c.close()
    runner = CliRunner()
    r = runner.invoke(app, ["expand", "c1@example.com", "--top", "5", "--store", str(store), "--json"])
    assert r.exit_code == 0, r.output
    assert '"subjects": [\n    "C1"' in r.output and "F1" in r.output
    r = runner.invoke(app, ["communities", "--top", "3", "--store", str(store), "--json"])
    assert r.exit_code == 0 and "community_id" in r.output
    r = runner.invoke(app, ["places", "--store", str(store), "--kind", "agent", "--json"])
    assert r.exit_code == 0 and "AG-ANGELES-1" in r.output
    r = runner.invoke(app, ["places", "--store", str(store)])
    assert r.exit_code == 0 and "places" in r.output


def test_best_payee_breaks_ties_by_the_lowest_id() -> None:
    # C4-C6 each pay two payees of equal risk: the pick must not depend on row order
    con = build()  # the propagation's steps alone: the stage drops their scratch tables
    build_edges(con)
    base_risk(con)
    propagate(con)
    rows = con.execute(f"""
        WITH cp AS (SELECT e.src AS s, e.dst, r.fac FROM nw_pe e JOIN nw_r4 r ON r.subject_id = e.dst
                    WHERE r.fac >= {PropagationParams().high_risk}),
             top AS (SELECT s, dst FROM cp WHERE fac = (SELECT max(fac) FROM cp c2 WHERE c2.s = cp.s))
        SELECT s, min(dst), count(*) FROM top GROUP BY s""").fetchall()
    tied = {s: low for s, low, n in rows if n > 1}
    assert {"C4", "C5", "C6"} <= set(tied)
    best = dict(con.execute("SELECT subject_id, best_payee FROM network_risk WHERE best_payee IS NOT NULL").fetchall())
    assert {s: best[s] for s in tied} == tied


def test_the_stage_leaves_no_scratch_table() -> None:
    # its scratch tables would otherwise sit in memory, or be spilled by release_cache (674 MB at 5 M)
    con = build()
    run_network(con)
    left = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'nw_%'").fetchall()
    assert left == []
