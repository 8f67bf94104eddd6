"""The fast igraph conversions of graph.py give what the plain ones give."""

from __future__ import annotations

import igraph as ig
import numpy as np

from moneytrail.network.graph import SubjectGraph, edge_ends, edge_pairs


def test_edge_ends_match_the_edge_list() -> None:
    g = ig.Graph(n=5, edges=[(0, 1), (3, 2), (4, 0), (1, 1)], directed=True)
    ends = edge_ends(g)
    assert ends.dtype == np.int64 and ends.shape == (4, 2)
    assert ends.tolist() == [list(e) for e in g.get_edgelist()]
    assert edge_ends(ig.Graph(n=3)).shape == (0, 2)


def test_edge_pairs_build_the_same_graph_as_an_array() -> None:
    s = np.array([2, 0, 4, 1], dtype=np.int64)
    d = np.array([3, 1, 0, 4], dtype=np.int64)
    fast = ig.Graph(n=5, edges=edge_pairs(s, d), directed=True)
    plain = ig.Graph(n=5, edges=np.column_stack([s, d]), directed=True)
    assert fast.get_edgelist() == plain.get_edgelist()
    assert edge_pairs(s[:0], d[:0]) == []


def test_index_is_built_once() -> None:
    sg = SubjectGraph(ig.Graph(n=2), ["a", "b"])
    assert sg.index == {"a": 0, "b": 1}
    assert sg.index is sg.index
