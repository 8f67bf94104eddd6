"""Name ties: a consumer who paid a name-only fragment of a facilitator still reaches his network."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from moneytrail.network import run_network
from moneytrail.network.expand import expand
from moneytrail.network.names import find_kin_ties, find_name_ties
from tests.network.world import Builder

NAMES = {
    "F1": "mark salazar",
    "F2": "m salazar",
    "F3": "ana santos",
    "F4": "jose santos",
    "G1": "m salazar",
}


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    # F1 (PH) is paid by three flagged consumers; F2 is the same man's name-only record that entity
    # resolution kept apart, paid once by X. F3 and F4 share a surname, not a person. G1 has F2's
    # name but collects in Colombia. Y pays G1 only.
    c = duckdb.connect()
    b = Builder(c, NAMES)
    for p in ("C1", "C2", "C3"):
        b.pay(p, "F1", 3, 60.0, flagged=1)
    b.pay("X", "F2", 1, 50.0)
    for p in ("C4", "C5"):
        b.pay(p, "F3", 2, 70.0, flagged=1)
        b.pay(p, "F4", 2, 70.0, flagged=1)
    b.pay("Y", "G1", 2, 50.0, flagged=1)
    for s in ("C1", "C2", "C3", "C4", "C5", "Y"):
        b.subject(s, "consumer", 0.95, 1)
    b.subject("X", "consumer", 0.5, 0)
    for s in ("F1", "F2", "F3", "F4", "G1"):
        b.subject(s, "facilitator", 0.6, 0)
    run_network(c)
    return c


def test_name_ties_join_compatible_names_in_one_country(con: duckdb.DuckDBPyConnection) -> None:
    ties = set(con.execute("SELECT a, b FROM network_name_ties").fetchall())
    assert ties == {("F1", "F2")}
    assert set(find_name_ties(con)) == ties


def test_expand_crosses_a_name_tie(con: duckdb.DuckDBPyConnection) -> None:
    _, found = expand(con, "X", top=10)
    ranked = [f.subject_id for f in found]
    assert ranked[:2] == ["F2", "F1"]
    assert {"C1", "C2", "C3"} <= set(ranked)
    c1 = next(f for f in found if f.subject_id == "C1")
    assert c1.path == ["X", "F2", "F1", "C1"] and c1.name_steps == [1]
    # without the ties the fragment leads nowhere
    _, alone = expand(con, "X", top=10, names=False)
    assert [f.subject_id for f in alone] == ["F2"]


def test_name_ties_computed_when_the_table_is_missing(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE nt_backup AS SELECT * FROM network_name_ties")
    con.execute("DROP TABLE network_name_ties")
    try:
        _, found = expand(con, "X", top=10)
        assert "F1" in [f.subject_id for f in found]
    finally:
        con.execute("CREATE TABLE network_name_ties AS SELECT * FROM nt_backup")
        con.execute("DROP TABLE nt_backup")


def test_cli_marks_name_steps(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    from moneytrail.cli import app

    store = tmp_path / "w.duckdb"
    con.execute(f"ATTACH '{store}' AS w")
    for (t,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'memory'"
    ).fetchall():
        con.execute(f"CREATE TABLE w.{t} AS SELECT * FROM memory.{t}")
    con.execute("DETACH w")
    r = CliRunner().invoke(
        app, ["expand", "X", "--top", "5", "--store", str(store)], terminal_width=200
    )
    assert r.exit_code == 0, r.output
    assert "X → F2 ≈ F1" in r.output


def test_a_word_too_many_receivers_hold_ties_nobody(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moneytrail.network.names as names

    assert ("F1", "F2") in find_name_ties(con)
    # "salazar" is held by two risky receivers in PH: over a cap of one it pairs nobody
    monkeypatch.setattr(names, "MAX_HOLDERS", 1)
    assert ("F1", "F2") not in find_name_ties(con)


# F1 (Angeles City, world.CITY) is a family head paid by three flagged consumers; R1, a relative in
# the same town whose name is not F1's, is paid once by L, who pays nobody else; SR1 shares the
# surname in Cebu; K shares R1's given name in Cebu.
KIN = {
    "F1": "rhea d castro",
    "R1": "edgardo soriano castro",
    "SR1": "jose castro",
    "K": "edgardo reyes",
}


@pytest.fixture(scope="module")
def kin_con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    b = Builder(c, KIN)
    for p in ("C1", "C2", "C3"):
        b.pay(p, "F1", 3, 60.0, flagged=1)
    b.pay("L", "R1", 1, 50.0)
    b.pay("C4", "SR1", 2, 70.0, flagged=1)
    b.pay("C4", "K", 2, 70.0, flagged=1)
    for s in ("C1", "C2", "C3", "C4"):
        b.subject(s, "consumer", 0.95, 1)
    b.subject("L", "consumer", 0.5, 0)
    for s in ("F1", "R1", "SR1", "K"):
        b.subject(s, "facilitator", 0.6, 0)
    run_network(c)
    return c


def test_kin_ties_join_a_surname_in_one_town(kin_con: duckdb.DuckDBPyConnection) -> None:
    assert find_kin_ties(kin_con) == [("F1", "R1")]
    assert kin_con.execute("SELECT a, b FROM network_kin_ties").fetchall() == [("F1", "R1")]
    assert kin_con.execute("SELECT count(*) FROM network_name_ties").fetchone() == (0,)


def test_expand_crosses_a_kin_tie(kin_con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _, found = expand(kin_con, "L", top=10)
    ranked = [f.subject_id for f in found]
    assert ranked[:2] == ["R1", "F1"] and {"C1", "C2", "C3"} <= set(ranked)
    c1 = next(f for f in found if f.subject_id == "C1")
    assert c1.path == ["L", "R1", "F1", "C1"] and c1.kin_steps == [1] and c1.name_steps == []
    _, alone = expand(kin_con, "L", top=10, names=False)
    assert [f.subject_id for f in alone] == ["R1"]
    from moneytrail.cli import app

    store = tmp_path / "k.duckdb"
    kin_con.execute(f"ATTACH '{store}' AS k")
    for (t,) in kin_con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'memory'"
    ).fetchall():
        kin_con.execute(f"CREATE TABLE k.{t} AS SELECT * FROM memory.{t}")
    kin_con.execute("DETACH k")
    r = CliRunner().invoke(
        app, ["expand", "L", "--top", "5", "--store", str(store)], terminal_width=200
    )
    assert r.exit_code == 0, r.output
    assert "L → R1 ~ F1" in r.output


def test_a_common_surname_in_a_town_ties_nobody(
    kin_con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moneytrail.network.names as names

    monkeypatch.setattr(names, "MAX_KIN", 1)
    assert find_kin_ties(kin_con) == []
