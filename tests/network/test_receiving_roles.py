"""Scoring's receiving role stands: the network's receiving evidence (NW02, paid by known consumers)
fits a family head and her relative alike, so it flags a receiver scoring left unplaced as a
facilitator, but one scoring called intermediary stays an intermediary (on the development worlds
NW02 made two relatives or syndicate receivers scoring called intermediary false facilitators)."""

from __future__ import annotations

import duckdb
import pytest

from moneytrail.network import run_network
from tests.network.world import Builder


def _world(role: str, score: float) -> duckdb.DuckDBPyConnection:
    """Three flagged consumers pay X from abroad; scoring left X unflagged with ``role``."""
    con = duckdb.connect()
    b = Builder(con)
    for c in ("C1", "C2", "C3"):
        b.pay(c, "X", 2, 60.0, flagged=1)
        b.subject(c, "consumer", 0.95, 1)
    b.subject("X", role, score, 0)
    return con


def _roles(con: duckdb.DuckDBPyConnection, sid: str) -> tuple[str, int, str]:
    row = con.execute("SELECT role, flagged, reasons FROM subject_scores WHERE subject_id = ?", [sid]).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def test_nw02_flags_a_receiver_scoring_left_unplaced_as_facilitator() -> None:
    con = _world("none", 0.02)
    run_network(con)
    role, flagged, reasons = _roles(con, "X")
    assert (role, flagged) == ("facilitator", 1) and "NW02" in reasons


@pytest.mark.parametrize("role", ["intermediary", "facilitator"])
def test_nw02_keeps_scoring_receiving_role(role: str) -> None:
    con = _world(role, 0.35)
    run_network(con)
    got, flagged, reasons = _roles(con, "X")
    assert (got, flagged) == (role, 1) and "NW02" in reasons
    score = con.execute("SELECT score FROM subject_scores WHERE subject_id = 'X'").fetchone()
    assert score is not None and score[0] > 0.6  # the network's evidence, under scoring's role
