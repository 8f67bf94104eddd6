"""Community building blocks: the payer-shared edge weight and the attachment of domestic ties."""

from __future__ import annotations

import duckdb
import igraph as ig
import numpy as np

from moneytrail.network.communities import attach_domestic
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
