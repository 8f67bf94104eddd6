"""Community building blocks: the payer-shared edge weight and the attachment of domestic ties."""

from __future__ import annotations

import duckdb
import igraph as ig
import numpy as np

from moneytrail.network.communities import attach_domestic, receiving_countries, split_by_country
from moneytrail.network.graph import DOMESTIC_WEIGHT, SubjectGraph, build_edges, load_graph
from tests.network.world import Builder


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
    member = split_by_country(u, [0, 1, 2, 3, 4], np.zeros(5, dtype=np.int64), np.array([-1, 0, 1, -1, -1]))
    assert member[0] == member[1] != member[2] == member[3]
    # 4 reaches no collector: it keeps the community with no country
    assert member[4] not in (member[0], member[2])
    # two communities stay two even when their collectors share a country
    two = split_by_country(u, [0, 1, 2, 3, 4], np.array([0, 0, 1, 1, 1]), np.array([-1, 0, 0, -1, -1]))
    assert two[0] == two[1] != two[2] == two[3]


def test_receiving_countries() -> None:
    con = duckdb.connect()
    b = Builder(con)
    b.pay("C1", "F1", 3)  # F1 collects in PH, G1 in CO (world.COUNTRY); C1 pays both and collects nothing
    b.pay("C1", "G1", 2)
    b.pay("C2", "G1", 1)
    build_edges(con)
    sg = load_graph(con)
    keep = sorted(sg.index[s] for s in ("C1", "F1", "G1"))
    got = dict(zip([sg.names[i] for i in keep], receiving_countries(con, sg, keep).tolist(), strict=True))
    assert got["C1"] == -1 and got["F1"] >= 0 and got["G1"] >= 0 and got["F1"] != got["G1"]
