"""Community building blocks: the payer-shared edge weight and the attachment of domestic ties."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import igraph as ig
import numpy as np
import pytest

from moneytrail.network.communities import (
    _both,
    attach_domestic,
    canonical,
    join_forwarders,
    join_lone_by_ties,
    leiden,
    pass_throughs,
    receiving_countries,
    split_by_collector,
    split_by_country,
)
from moneytrail.network.graph import DOMESTIC_WEIGHT, SubjectGraph, build_edges, load_graph
from tests.network.world import COUNTRY, Builder


def _graph() -> SubjectGraph:
    con = duckdb.connect()
    b = Builder(con)
    b.pay("C1", "F1", 4)  # cross-border, C1 pays two people
    b.pay("C1", "SR1", 2)
    b.pay("C2", "F1", 3)  # cross-border, C2 pays only F1
    b.pay("R1", "F1", 2, domestic=True)
    build_edges(con)
    return load_graph(con)


def _cweight(sg: SubjectGraph, a: str, b: str) -> float:
    i = sg.index
    return float(sg.graph.es[sg.graph.get_eid(i[a], i[b])]["cweight"])


def test_cross_border_weight_shared_over_payees() -> None:
    sg = _graph()
    assert _cweight(sg, "C1", "F1") == 4 / 2 and _cweight(sg, "C1", "SR1") == 2 / 2
    assert _cweight(sg, "C2", "F1") == 3
    assert _cweight(sg, "R1", "F1") == 2 * DOMESTIC_WEIGHT
    u = sg.undirected()
    assert u.es[u.get_eid(sg.index["R1"], sg.index["F1"])]["ndom"] == 2


def test_attach_domestic_joins_strongest_domestic_tie() -> None:
    # 0,1 and 2,3 are two communities; 4 passes money at home to 1 (3 times) and to 2 (once);
    # 5 is paid from abroad by 0 only; 6 is tied at home to 4, itself outside: neither joins
    u = ig.Graph(n=7, edges=[(0, 1), (2, 3), (4, 1), (4, 2), (0, 5), (6, 4)])
    u.es["ndom"] = [0.0, 0.0, 3.0, 1.0, 0.0, 2.0]
    keep, member = attach_domestic(u, [0, 1, 2, 3], np.array([0, 0, 1, 1]))
    got = dict(zip(keep, member.tolist(), strict=True))
    assert got == {0: 0, 1: 0, 2: 1, 3: 1, 4: 0}


def test_attach_domestic_without_edges() -> None:
    u = ig.Graph(n=2)
    u.es["ndom"] = []
    keep, member = attach_domestic(u, [0], np.array([0]))
    assert keep == [0] and member.tolist() == [0]


def test_split_by_country_payers_follow_their_collector() -> None:
    # one Leiden community: 1 collects in one country, 2 in another; 0 pays 1 most, 3 pays 2 most
    u = ig.Graph(n=5, edges=[(0, 1), (0, 2), (3, 2), (3, 1), (4, 0)])
    u.es["np2p"] = [3.0, 1.0, 2.0, 1.0, 1.0]
    member = split_by_country(
        u, [0, 1, 2, 3, 4], np.zeros(5, dtype=np.int64), np.array([-1, 0, 1, -1, -1])
    )
    assert member[0] == member[1] != member[2] == member[3]
    # 4 reaches no collector: it keeps the community with no country
    assert member[4] not in (member[0], member[2])
    # two communities stay two even when their collectors share a country
    two = split_by_country(
        u, [0, 1, 2, 3, 4], np.array([0, 0, 1, 1, 1]), np.array([-1, 0, 0, -1, -1])
    )
    assert two[0] == two[1] != two[2] == two[3]


def test_receiving_countries() -> None:
    con = duckdb.connect()
    b = Builder(con)
    b.pay(
        "C1", "F1", 3
    )  # F1 collects in PH, G1 in CO (world.COUNTRY); C1 pays both and collects nothing
    b.pay("C1", "G1", 2)
    b.pay("C2", "G1", 1)
    build_edges(con)
    sg = load_graph(con)
    keep = sorted(sg.index[s] for s in ("C1", "F1", "G1"))
    got = dict(
        zip([sg.names[i] for i in keep], receiving_countries(con, sg, keep).tolist(), strict=True)
    )
    assert got["C1"] == -1 and got["F1"] >= 0 and got["G1"] >= 0 and got["F1"] != got["G1"]


def _directed(n: int, edges: list[tuple[int, int, float, float]]) -> ig.Graph:
    """A directed graph of (payer, payee, person-to-person payments, of which domestic)."""
    g = ig.Graph(n=n, edges=[(a, b) for a, b, _, _ in edges], directed=True)
    g.es["np2p"] = [p for _, _, p, _ in edges]
    g.es["ndom"] = [d for _, _, _, d in edges]
    return g


def test_split_by_collector_two_heads_glued_by_a_consumer() -> None:
    # two families in one community: R1 passes money to H1, R2 to H2; consumer 4 pays both,
    # 5 pays only H1, 6 only H2
    g = _directed(
        7,
        [
            (1, 0, 2, 2),
            (3, 2, 2, 2),
            (4, 0, 3, 0),
            (4, 2, 3, 0),
            (4, 1, 1, 0),
            (4, 3, 1, 0),
            (5, 0, 2, 0),
            (6, 2, 2, 0),
        ],
    )
    collector = np.array([True, True, True, True, False, False, False])
    out = split_by_collector(g, list(range(7)), np.zeros(7, dtype=np.int64), collector)
    assert out[0] == out[1] != out[2] == out[3]
    assert out[5] == out[0] and out[6] == out[2]


def test_split_by_collector_lone_collectors_join_by_their_payers() -> None:
    # a syndicate: S1 and S2 pass money to K, S3 never does, but its payers (5, 6) pay S1 too;
    # X, a child receiver, is paid mostly by 7, and once by 8 who pays S1 as well
    g = _directed(
        9,
        [
            (1, 0, 3, 3),
            (2, 0, 2, 2),
            (5, 1, 1, 0),
            (5, 2, 1, 0),
            (5, 3, 1, 0),
            (6, 1, 1, 0),
            (6, 3, 2, 0),
            (7, 4, 3, 0),
            (8, 4, 1, 0),
            (8, 1, 1, 0),
        ],
    )
    collector = np.array([True] * 5 + [False] * 4)
    out = split_by_collector(g, list(range(9)), np.zeros(9, dtype=np.int64), collector)
    assert out[3] == out[0] == out[1] == out[2]
    assert out[4] != out[0] and out[7] == out[4]


def test_split_by_collector_keeps_kin_together() -> None:
    # H (paid by 3) and R (paid by 4) are kin (names.py: a shared surname in one town), though R
    # forwards nothing and 4 pays nobody else; X, paid by 5 only, is a network of its own
    g = _directed(6, [(3, 0, 3, 0), (4, 1, 1, 0), (5, 2, 2, 0)])
    collector = np.array([True, True, True, False, False, False])
    kin = np.array([[0, 1]])
    out = split_by_collector(g, list(range(6)), np.zeros(6, dtype=np.int64), collector, kin)
    assert out[0] == out[1] != out[2]
    assert out[3] == out[0] and out[5] == out[2]
    apart = split_by_collector(g, list(range(6)), np.zeros(6, dtype=np.int64), collector)
    assert apart[0] != apart[1]
    # a kin tie to a subject outside the community does not hold it
    keep = [0, 1, 3, 4]
    member = np.zeros(4, dtype=np.int64)
    got = split_by_collector(
        g, keep, member, np.array([True, True, False, False]), np.array([[0, 2]])
    )
    assert got[0] != got[1]


def test_split_by_collector_leaves_single_networks_alone() -> None:
    g = _directed(3, [(1, 0, 2, 2), (2, 0, 1, 0)])
    member = np.array([4, 4, 4])
    out = split_by_collector(g, [0, 1, 2], member, np.array([True, True, False]))
    assert out.tolist() == [4, 4, 4]


def test_join_forwarders_merges_receivers_with_their_controller() -> None:
    # Leiden left controller K (0) with its payer 5, receivers 1 and 2 each with its own payer
    # (6, 7); both receivers hand the takings to K at home. 3 collects in the same country from
    # its own payer 8 and forwards nothing; 4 collects abroad of the others and pays K at home
    # once: neither joins. 1 also pays 3 once, less than it pays K: only its strongest forward counts.
    g = _directed(
        9,
        [
            (5, 0, 3, 0),
            (6, 1, 2, 0),
            (7, 2, 1, 0),
            (8, 3, 2, 0),
            (1, 0, 4, 4),
            (2, 0, 2, 2),
            (1, 3, 1, 1),
            (4, 0, 1, 1),
        ],
    )
    member = np.array([0, 1, 2, 3, 4, 0, 1, 2, 3])
    country = np.array([0, 0, 0, 0, 1, -1, -1, -1, -1])
    out = join_forwarders(g, list(range(9)), member, country)
    assert out[0] == out[1] == out[2] == out[5] == out[6] == out[7]
    assert len({out[0], out[3], out[4]}) == 3 and out[3] == out[8]
    # a community that forwards to no one is left alone
    same = join_forwarders(g, list(range(9)), member, np.full(9, -1))
    assert same.tolist() == member.tolist()


def _pass_world(monkeypatch: pytest.MonkeyPatch) -> tuple[duckdb.DuckDBPyConnection, SubjectGraph]:
    """SR1 receives from abroad and hands most of it to K within hours; its e-wallet fragment W1
    ("ana d cruz" ~ "ana cruz") forwards another receipt; N1, a namesake of no compatible name
    ("maria cruz"), sends K a similar sum as soon; SR2's later or smaller payments to K are no
    pass-throughs."""
    monkeypatch.setitem(COUNTRY, "W1", "PH")
    monkeypatch.setitem(COUNTRY, "N1", "PH")
    con = duckdb.connect()
    b = Builder(con, names={"SR1": "ana cruz", "W1": "ana d cruz", "N1": "maria cruz", "K": "jose reyes"})
    t = datetime(2025, 3, 1, 2, 0)
    b.pay("C4", "SR1", 1, 100.0, at=t)
    b.pay("SR1", "K", 1, 85.0, domestic=True, at=t + timedelta(hours=3))
    b.pay("C5", "SR1", 1, 60.0, at=t + timedelta(days=10))
    b.pay("W1", "K", 1, 50.0, domestic=True, at=t + timedelta(days=10, hours=5))
    b.pay("N1", "K", 1, 50.0, domestic=True, at=t + timedelta(days=10, hours=6))
    b.pay("C6", "SR2", 1, 100.0, at=t + timedelta(days=20))
    b.pay("SR2", "K", 1, 90.0, domestic=True, at=t + timedelta(days=22))  # two days later
    b.pay("SR2", "K", 1, 20.0, domestic=True, at=t + timedelta(days=20, hours=1))  # a fifth
    build_edges(con)
    return con, load_graph(con)


def test_pass_throughs_own_and_fragment(monkeypatch: pytest.MonkeyPatch) -> None:
    con, sg = _pass_world(monkeypatch)
    got = pass_throughs(con, sg, list(range(len(sg.names))))
    i = sg.index
    assert sorted(map(tuple, got.tolist())) == [(i["SR1"], i["K"], 2)]


def test_pass_throughs_across_midnight_and_at_the_window_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    """The join by day must not lose a hand-over on the next date, nor keep one past 24 hours."""
    monkeypatch.setitem(COUNTRY, "SR2", "PH")
    con = duckdb.connect()
    b = Builder(con, names={"SR1": "ana cruz", "SR2": "rosa lim", "K": "jose reyes"})
    t = datetime(2025, 3, 1, 23, 30)
    b.pay("C4", "SR1", 1, 100.0, at=t)
    b.pay("SR1", "K", 1, 85.0, domestic=True, at=t + timedelta(hours=23, minutes=59))  # next date
    b.pay("C5", "SR2", 1, 100.0, at=t + timedelta(days=5))
    b.pay("SR2", "K", 1, 85.0, domestic=True, at=t + timedelta(days=6, minutes=1))  # 24 h 1 min
    build_edges(con)
    sg = load_graph(con)
    got = pass_throughs(con, sg, list(range(len(sg.names))))
    assert sorted(map(tuple, got.tolist())) == [(sg.index["SR1"], sg.index["K"], 1)]


def test_join_forwarders_follows_a_pass_through_to_a_non_collector() -> None:
    # 1 and 2 collect (their payers 4, 5); 0 collects nothing (country -1) but 1 passes a receipt
    # on to it within hours; 2 pays 0 at home too, as plainly as 1 (one payment each)
    g = _directed(6, [(4, 1, 2, 0), (5, 2, 2, 0), (1, 0, 1, 1), (2, 0, 1, 1)])
    member = np.array([0, 1, 2, 3, 1, 2])
    country = np.array([-1, 0, 0, 0, -1, -1])
    plain = join_forwarders(g, list(range(6)), member, country)
    assert len(set(plain[:3].tolist())) == 3
    out = join_forwarders(g, list(range(6)), member, country, np.array([[1, 0, 1]]))
    assert out[0] == out[1] == out[4] and out[2] != out[0]


def test_split_by_collector_a_pass_through_beats_a_kin_tie() -> None:
    # two families glued in one community: R1 hands its receipts to H1, R2 to H2; R1 and R2 share
    # a surname in one town (kin), which alone would make one unit of all four
    g = _directed(
        8,
        [(1, 0, 2, 2), (3, 2, 2, 2), (4, 0, 3, 0), (5, 1, 2, 0), (6, 2, 3, 0), (7, 3, 2, 0), (4, 2, 1, 0)],
    )
    collector = np.array([True] * 4 + [False] * 4)
    passes = np.array([[1, 0, 2], [3, 2, 2]])
    out = split_by_collector(
        g, list(range(8)), np.zeros(8, dtype=np.int64), collector, np.array([[1, 3]]), passes=passes
    )
    assert out[0] == out[1] != out[2] == out[3]
    # a kin tie between collectors of whom at most one forwards still joins them
    g2 = _directed(5, [(3, 0, 2, 0), (4, 1, 2, 0), (2, 0, 1, 1)])
    out2 = split_by_collector(
        g2, list(range(5)), np.zeros(5, dtype=np.int64), np.array([True, True, True, False, False]),
        np.array([[0, 1]]),
    )
    assert out2[0] == out2[1]


def test_join_lone_by_ties() -> None:
    # 0 is alone; it is name- and kin-tied to 1 (community 1): it joins. 3 is alone and tied to 4
    # and 5 of two communities: it stays. 6 is alone, tied to 7 of another country: it stays.
    keep = list(range(9))
    member = np.array([0, 1, 1, 2, 3, 4, 5, 6, 6])
    country = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1])
    ties = [np.array([[0, 1], [3, 4], [3, 5], [6, 7]])]
    out = join_lone_by_ties(keep, member, country, ties)
    assert out[0] == out[1]
    assert len({out[3], out[4], out[5]}) == 3 and out[6] != out[7]


def test_both_ties() -> None:
    got = _both(np.array([[1, 2], [3, 4], [5, 6]]), np.array([[2, 1], [5, 7]]))
    assert got.tolist() == [[1, 2]]


def test_load_graph_edges_in_canonical_order() -> None:
    """DuckDB returns the aggregated edges in any order; Leiden and the tie-breaks after it
    depend on it (seed 707: one of nine runs differed)."""
    con = duckdb.connect()
    b = Builder(con)
    for k in range(30):
        b.pay(f"C{k % 7}", f"F{k % 5}", 1 + k % 3)
        b.pay(f"F{k % 5}", f"F{(k + 1) % 5}", 1, domestic=True)
    build_edges(con)
    first = load_graph(con)
    con.execute("SELECT setseed(0.25)")
    con.execute("CREATE OR REPLACE TABLE network_edges AS SELECT * FROM network_edges ORDER BY random()")
    again = load_graph(con)
    assert again.names == first.names
    assert again.graph.get_edgelist() == first.graph.get_edgelist()
    assert again.graph.es["cweight"] == first.graph.es["cweight"]


def test_leiden_ignores_edge_order() -> None:
    rng = np.random.default_rng(3)
    n = 120
    block = rng.integers(0, 15, n)
    edges = sorted(
        {
            (int(min(a, b)), int(max(a, b)))
            for a, b in rng.integers(0, n, (600, 2))
            if a != b and (block[a] == block[b] or rng.random() < 0.2)
        }
    )
    w = (rng.integers(1, 6, len(edges)) / rng.integers(1, 4, len(edges))).tolist()
    g = ig.Graph(n=n, edges=edges)
    g.es["cweight"] = w
    perm = rng.permutation(len(edges))
    h = ig.Graph(n=n, edges=[edges[i][::-1] if i % 2 else edges[i] for i in perm.tolist()])
    h.es["cweight"] = [w[i] for i in perm.tolist()]
    assert leiden(h).tolist() == leiden(g).tolist()
    assert canonical(h).get_edgelist() == canonical(g).get_edgelist()


def test_communities_same_when_input_rows_shuffled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stage's communities do not depend on the order of the warehouse rows (Z1 pays F1 and K
    at home once each: a tie that the edge order used to break)."""
    from moneytrail.network import run_network
    from tests.network.world import build

    monkeypatch.setitem(COUNTRY, "Z1", "PH")
    con = build()
    b = Builder.__new__(Builder)
    b.con, b.n, b.names = con, 10_000, {}
    rng = np.random.default_rng(5)
    for _ in range(60):  # more consumers spread over the networks
        c = f"C{1 + int(rng.integers(0, 6))}"
        b.pay(c, ["F1", "SR1", "SR2", "R1"][int(rng.integers(0, 4))], 1 + int(rng.integers(0, 2)), flagged=1)
    b.pay("Z1", "F1", 1, domestic=True)
    b.pay("Z1", "K", 1, domestic=True)
    b.subject("Z1", "none", 0.02, 0)
    run_network(con)
    first = con.execute("SELECT community_id, subject_id FROM communities ORDER BY ALL").fetchall()
    assert first
    con.execute("SELECT setseed(0.75)")
    for t in ("transactions", "parties", "subject_records", "subject_scores", "transaction_scores"):
        con.execute(f"CREATE OR REPLACE TABLE {t} AS SELECT * FROM {t} ORDER BY random()")
    run_network(con)
    assert con.execute("SELECT community_id, subject_id FROM communities ORDER BY ALL").fetchall() == first
