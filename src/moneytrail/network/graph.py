"""The subject graph: payments aggregated per (payer subject, payee subject).

The aggregation is plain SQL over ``transactions`` and ``subject_records``
(DuckDB dialect, kept to constructs SQLGlot transpiles to Spark); the analysis
runs on an igraph ``Graph`` built from the aggregated edges.

Tables written:

``network_payments(provider, record_id, src, dst, amount_usd, ts_utc, sender_country,
receiver_country, p2p, cross_border)``
    one row per payment whose both sides resolved to different subjects;
    ``p2p`` is false for card purchases, wallet payments to merchants, withdrawals, top-ups and refunds.
``network_edges(src, dst, n, total_usd, first_ts, last_ts, cv_usd, n_p2p, n_xb)``
    one row per ordered pair of subjects that paid each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import TypeAlias

import duckdb
import igraph as ig
import numpy as np

from moneytrail.network.sql import fetch_numpy

DOMESTIC_WEIGHT = 3.0

PAYMENTS_SQL = """
CREATE OR REPLACE TABLE network_payments AS
WITH occ AS (
    -- both ends of each payment in one pass; a card-funded transfer has a merchant and a
    -- beneficiary on its 'to' side: the person wins
    SELECT sr.provider, sr.record_id,
           arg_min(sr.subject_id, CASE WHEN p.party = 'merchant' THEN 1 ELSE 0 END) FILTER (WHERE p.side = 'from') AS src,
           arg_min(sr.subject_id, CASE WHEN p.party = 'merchant' THEN 1 ELSE 0 END) FILTER (WHERE p.side = 'to') AS dst
    FROM subject_records sr
    JOIN parties p ON p.provider = sr.provider AND p.record_id = sr.record_id AND p.party = sr.party
    WHERE p.side IN ('from', 'to')
    GROUP BY sr.provider, sr.record_id
)
SELECT t.provider, t.record_id, o.src, o.dst,
       coalesce(t.amount_usd, 0) AS amount_usd, t.ts_utc,
       t.sender_country, t.receiver_country,
       coalesce(t.txn_type, '') NOT IN ('purchase', 'payment', 'withdrawal', 'top_up', 'refund') AS p2p,
       coalesce(t.sender_country <> t.receiver_country, FALSE) AS cross_border
FROM transactions t
JOIN occ o ON o.provider = t.provider AND o.record_id = t.record_id
WHERE o.src IS NOT NULL AND o.dst IS NOT NULL AND o.src <> o.dst
"""

EDGES_SQL = """
CREATE OR REPLACE TABLE network_edges AS
SELECT src, dst, count(*) AS n, sum(amount_usd) AS total_usd,
       min(ts_utc) AS first_ts, max(ts_utc) AS last_ts,
       coalesce(stddev_pop(amount_usd) / nullif(avg(amount_usd), 0), 0) AS cv_usd,
       count(*) FILTER (WHERE p2p) AS n_p2p,
       count(*) FILTER (WHERE p2p AND cross_border) AS n_xb
FROM network_payments
GROUP BY src, dst
"""


ATTRS = ("n", "usd", "weight", "pweight", "np2p", "ndom", "cweight")


@dataclass
class EdgeTable:
    """A graph's edges as numpy arrays: ends (m, 2) and float64 attributes, in edge order.

    The stage's steps read the edges as arrays; igraph keeps each edge attribute as a list of
    Python floats (32 bytes an edge and attribute against 8), which on the directed graph, its
    undirected copy and their subgraphs was most of the stage's Python memory (about 3 GiB an
    attribute set at 20 M transactions).
    """

    n: int
    ends: np.ndarray
    attrs: dict[str, np.ndarray]

    def vcount(self) -> int:
        return self.n

    def ecount(self) -> int:
        return len(self.ends)

    def induced(self, vertices: list[int]) -> EdgeTable:
        """The edges between ``vertices`` (sorted, distinct), renumbered by their position there,
        in the same order (as ``induced_subgraph`` gives them for the collapsed undirected graph)."""
        pos = np.full(self.n, -1, dtype=np.int64)
        pos[np.asarray(vertices, dtype=np.int64)] = np.arange(len(vertices))
        s, d = pos[self.ends[:, 0]], pos[self.ends[:, 1]]
        ok = (s >= 0) & (d >= 0)
        return EdgeTable(len(vertices), np.column_stack([s[ok], d[ok]]), {k: v[ok] for k, v in self.attrs.items()})


Graphish: TypeAlias = ig.Graph | EdgeTable


def edge_attr(g: Graphish, name: str) -> np.ndarray:
    """An edge attribute of an igraph graph or an ``EdgeTable`` as a float64 array."""
    if isinstance(g, EdgeTable):
        return g.attrs[name]
    return np.asarray(g.es[name], dtype=np.float64) if g.ecount() else np.zeros(0)


def collapse(t: EdgeTable) -> EdgeTable:
    """Both directions merged, attributes summed: the edges ``as_undirected(mode="collapse")``
    gives, in its order (by higher then lower end, ends stored lower first) and with its sums."""
    if t.ecount() == 0:
        return EdgeTable(t.n, np.zeros((0, 2), dtype=np.int64), {k: v[:0] for k, v in t.attrs.items()})
    lo = np.minimum(t.ends[:, 0], t.ends[:, 1])
    hi = np.maximum(t.ends[:, 0], t.ends[:, 1])
    order = np.lexsort((lo, hi))
    lo, hi = lo[order], hi[order]
    new = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])]
    group = np.cumsum(new) - 1
    k = int(group[-1]) + 1
    # at most two edges (one each way) per pair: their sum does not depend on the order
    attrs = {a: np.bincount(group, weights=v[order], minlength=k) for a, v in t.attrs.items()}
    return EdgeTable(t.n, np.column_stack([lo[new], hi[new]]), attrs)


class SubjectGraph:
    """A directed graph over subjects, with its vertex names in order.

    ``edges`` holds the edges as arrays (what the stage reads); ``graph`` is the igraph graph
    with its edge attributes, built on first use from ``edges`` (or given, as in the tests).
    """

    def __init__(self, graph: ig.Graph | None, names: list[str], edges: EdgeTable | None = None):
        if graph is None and edges is None:
            raise ValueError("a SubjectGraph needs a graph or its edges")
        self._graph = graph
        self.names = names
        self._edges = edges
        self._index: dict[str, int] | None = None

    @property
    def graph(self) -> ig.Graph:
        """The directed igraph graph with its edge attributes (``ATTRS``)."""
        if self._graph is None:
            assert self._edges is not None
            self._graph = self.structure()
        if self._edges is not None and self._graph.ecount() and ATTRS[0] not in self._graph.es.attributes():
            for k, v in self._edges.attrs.items():
                self._graph.es[k] = v.tolist()
        return self._graph

    def structure(self) -> ig.Graph:
        """The directed igraph graph, without edge attributes unless ``graph`` set them."""
        if self._graph is None:
            assert self._edges is not None
            e = self._edges.ends
            self._graph = ig.Graph(n=self._edges.n, edges=edge_pairs(e[:, 0], e[:, 1]), directed=True)
        return self._graph

    @property
    def edges(self) -> EdgeTable:
        """The directed edges as arrays."""
        if self._edges is None:
            assert self._graph is not None
            g = self._graph
            self._edges = EdgeTable(
                g.vcount(), edge_ends(g), {k: edge_attr(g, k) for k in g.es.attributes()}
            )
        return self._edges

    @property
    def index(self) -> dict[str, int]:
        """Vertex id per subject id (built once: the stage asks for it several times)."""
        if self._index is None:
            self._index = {n: i for i, n in enumerate(self.names)}
        return self._index

    def undirected_edges(self) -> EdgeTable:
        """Both directions merged, attributes summed (``collapse``)."""
        return collapse(self.edges)

    def undirected(self) -> ig.Graph:
        """Both directions merged: weight = payments, usd = total (an igraph graph of its own)."""
        u = self.undirected_edges()
        g = ig.Graph(n=u.n, edges=edge_pairs(u.ends[:, 0], u.ends[:, 1]), directed=False)
        for k, v in u.attrs.items():
            g.es[k] = v.tolist()
        return g


def edge_pairs(s: np.ndarray, d: np.ndarray) -> list[tuple[int, int]]:
    """Edge ends as the list of tuples igraph reads fastest (a numpy array or a list of lists
    takes about three times as long: 0.74 against 0.26 CPU s for 715,000 edges)."""
    return list(zip(s.tolist(), d.tolist(), strict=True))


def edge_ends(g: Graphish) -> np.ndarray:
    """The (m, 2) int64 array of ``g``'s edge ends, in edge order (through ``fromiter``:
    ``np.asarray`` of igraph's list of tuples takes half as long again)."""
    if isinstance(g, EdgeTable):
        return g.ends
    return np.fromiter(chain.from_iterable(g.get_edgelist()), dtype=np.int64, count=2 * g.ecount()).reshape(-1, 2)


def build_edges(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)write ``network_payments`` and ``network_edges`` from the warehouse."""
    con.execute(PAYMENTS_SQL)
    con.execute(EDGES_SQL)


def load_graph(con: duckdb.DuckDBPyConnection) -> SubjectGraph:
    """The igraph graph of ``network_edges``; every subject in ``subject_records`` is a vertex."""
    names_arr = fetch_numpy(
        con, "SELECT DISTINCT subject_id FROM subject_records WHERE subject_id IS NOT NULL ORDER BY subject_id"
    )["subject_id"]
    names = [str(x) for x in names_arr]
    con.execute("CREATE OR REPLACE TEMP TABLE nw_vid AS SELECT subject_id, row_number() OVER (ORDER BY subject_id) - 1 AS vid "
                "FROM (SELECT DISTINCT subject_id FROM subject_records WHERE subject_id IS NOT NULL)")
    e = fetch_numpy(con, """
        SELECT a.vid AS s, b.vid AS d, CAST(n AS DOUBLE) AS n, CAST(n_p2p AS DOUBLE) AS n_p2p, CAST(n_xb AS DOUBLE) AS n_xb, total_usd
        FROM network_edges JOIN nw_vid a ON a.subject_id = src JOIN nw_vid b ON b.subject_id = dst
        ORDER BY s, d
    """)
    s = np.asarray(e["s"], dtype=np.int64)
    d = np.asarray(e["d"], dtype=np.int64)
    del names_arr
    n = np.asarray(e["n"], dtype=np.float64)
    attrs: dict[str, np.ndarray] = {"n": n, "usd": np.asarray(e["total_usd"], dtype=np.float64)}
    # a tie's strength grows with the number of payments, slowly: one payment already links
    attrs["weight"] = 1.0 + np.log1p(n)
    # for ranking people around a seed: person-to-person money counts, shop and cash-out links barely
    p2p = np.asarray(e["n_p2p"], dtype=np.float64)
    attrs["pweight"] = np.where(p2p > 0, 1.0 + np.log1p(p2p), 0.02)
    attrs["np2p"] = p2p
    # for communities: person-to-person payments, domestic ones (passing money on inside a network)
    # three times a cross-border one; a payer's cross-border payments are divided by the number of
    # people it pays that way, so that a consumer spread over several networks glues none of them
    # (seed 303: ARI 0.765 -> 0.836, seed 404: 0.680 -> 0.715, on top of the attachment in communities.py)
    xb = np.asarray(e["n_xb"], dtype=np.float64)
    payees = np.bincount(s, weights=(xb > 0).astype(np.float64), minlength=len(names))
    attrs["ndom"] = p2p - xb
    attrs["cweight"] = xb / np.maximum(payees[s], 1.0) + DOMESTIC_WEIGHT * (p2p - xb)
    del e
    return SubjectGraph(None, names, EdgeTable(len(names), np.column_stack([s, d]), attrs))
