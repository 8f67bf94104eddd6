"""Session 8: the network stage's linear-time and small-memory forms give what the plain ones gave.

- the undirected graph and its subgraphs as numpy arrays (``collapse``, ``EdgeTable.induced``):
  igraph's edges, order and sums;
- ``split_by_collector`` with its payer index: the part-by-part scan it replaced;
- ``pass_throughs`` joined by shared name word and prefiltered in SQL: a brute-force pass over
  every receipt and payment with the Python name test.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import igraph as ig
import numpy as np
import pytest

from moneytrail.network import release_cache
from moneytrail.network.communities import (
    OVERLAP_MIN,
    PASS_HI,
    PASS_HOURS,
    PASS_LO,
    PASS_WEIGHT,
    _forwards,
    _units,
    edge_attr,
    induced,
    pass_throughs,
    split_by_collector,
)
from moneytrail.network.graph import (
    ATTRS,
    EdgeTable,
    SubjectGraph,
    build_edges,
    edge_ends,
    load_graph,
)
from moneytrail.resolve.names import names_compatible
from tests.network.world import COUNTRY, Builder


def _random_directed(rng: np.random.Generator, n: int, m: int) -> ig.Graph:
    pairs = list(dict.fromkeys((int(a), int(b)) for a, b in rng.integers(0, n, (m, 2)) if a != b))
    pairs.sort()  # load_graph gives its edges by payer, then payee
    g = ig.Graph(n=n, edges=pairs, directed=True)
    for k in ATTRS:
        g.es[k] = (rng.integers(0, 5, len(pairs)) / rng.integers(1, 4, len(pairs))).tolist()
    return g


def test_collapse_is_igraphs_undirected_graph() -> None:
    rng = np.random.default_rng(11)
    for n, m in ((50, 400), (300, 900), (2, 0)):
        g = _random_directed(rng, n, m)
        want = g.as_undirected(mode="collapse", combine_edges=dict.fromkeys(ATTRS, "sum"))
        got = SubjectGraph(g, [str(i) for i in range(n)]).undirected_edges()
        assert got.ends.tolist() == [list(e) for e in want.get_edgelist()]
        for k in ATTRS:
            assert got.attrs[k].tolist() == (want.es[k] if want.ecount() else [])
        keep = sorted(rng.choice(n, size=max(1, n // 3), replace=False).tolist())
        sub_want = want.induced_subgraph(keep)
        sub_got = induced(got, keep)
        assert isinstance(sub_got, EdgeTable) and sub_got.vcount() == len(keep)
        assert sub_got.ends.tolist() == [list(e) for e in sub_want.get_edgelist()]
        assert edge_attr(sub_got, "np2p").tolist() == (sub_want.es["np2p"] if sub_want.ecount() else [])


def test_subject_graph_builds_its_igraph_graph_from_the_arrays() -> None:
    con = duckdb.connect()
    b = Builder(con)
    for k in range(20):
        b.pay(f"C{k % 4}", f"F{k % 3}", 1 + k % 2)
        b.pay(f"F{k % 3}", f"F{(k + 1) % 3}", 1, domestic=True)
    build_edges(con)
    sg = load_graph(con)
    g = sg.graph
    assert edge_ends(g).tolist() == sg.edges.ends.tolist()
    for k in ATTRS:
        assert g.es[k] == sg.edges.attrs[k].tolist()
    u = sg.undirected()
    want = g.as_undirected(mode="collapse", combine_edges=dict.fromkeys(ATTRS, "sum"))
    assert u.get_edgelist() == want.get_edgelist() and u.es["cweight"] == want.es["cweight"]


def _split_reference(
    g: ig.Graph,
    keep: list[int],
    member: np.ndarray,
    collector: np.ndarray,
    kin: np.ndarray | None = None,
    overlap_min: float = OVERLAP_MIN,
    passes: np.ndarray | None = None,
) -> np.ndarray:
    """``split_by_collector`` as session 7 had it: each lone collector scanned every part."""
    n = len(keep)
    if n == 0 or g.ecount() == 0:
        return member
    kv = np.asarray(keep, dtype=np.int64)
    pos = np.full(g.vcount(), -1, dtype=np.int64)
    pos[kv] = np.arange(n)
    kin_of: dict[int, list[int]] = {}
    for a, b in (pos[kin] if kin is not None and len(kin) else np.zeros((0, 2), dtype=np.int64)).tolist():
        if a >= 0 and b >= 0:
            kin_of.setdefault(a, []).append(b)
            kin_of.setdefault(b, []).append(a)
    ends = edge_ends(g)
    s, d = pos[ends[:, 0]], pos[ends[:, 1]]
    inside = (s >= 0) & (d >= 0)
    s, d = s[inside], d[inside]
    dom = np.asarray(g.es["ndom"], dtype=np.float64)[inside]
    xb = np.asarray(g.es["np2p"], dtype=np.float64)[inside] - dom
    same = member[s] == member[d]
    busy = np.bincount(member[collector], minlength=int(member.max()) + 1)[member] >= 2
    fs, fd, fw = _forwards(g, pos, passes)
    m = (member[fs] == member[fd]) & collector[fs] & (collector[fd] | (fw >= PASS_WEIGHT)) & busy[fs]
    fwd: dict[int, int] = {}
    fwd_w: dict[int, float] = {}
    for a, b, w in zip(fs[m].tolist(), fd[m].tolist(), fw[m].tolist(), strict=True):
        if w > fwd_w.get(a, 0.0):
            fwd_w[a], fwd[a] = w, b
    m = (xb > 0) & collector[d] & busy[d]
    payers: dict[int, dict[int, float]] = {}
    for a, b, w in zip(s[m].tolist(), d[m].tolist(), xb[m].tolist(), strict=True):
        pb = payers.setdefault(b, {})
        pb[a] = pb.get(a, 0.0) + w
    cols_of: dict[int, list[int]] = {}
    for x in np.flatnonzero(collector & busy).tolist():
        cols_of.setdefault(int(member[x]), []).append(x)
    out = member.copy()
    nxt = int(member.max()) + 1
    moved = np.zeros(n, dtype=bool)
    for cols in cols_of.values():
        unit = _units(cols, fwd, kin_of)
        size: dict[int, int] = {}
        upay: dict[int, dict[int, float]] = {}
        for x in cols:
            size[unit[x]] = size.get(unit[x], 0) + 1
            up = upay.setdefault(unit[x], {})
            for p, w in payers.get(x, {}).items():
                up[p] = up.get(p, 0.0) + w
        order = sorted(size, key=lambda r: (size[r] == 1, -sum(upay[r].values()), r))
        part_payers: list[set[int]] = []
        part: dict[int, int] = {}
        for r in order:
            best, share, total = -1, 0.0, sum(upay[r].values())
            if size[r] == 1 and total > 0:
                for k, ps in enumerate(part_payers):
                    o = sum(w for p, w in upay[r].items() if p in ps) / total
                    if o > share:
                        best, share = k, o
            if best >= 0 and share >= overlap_min:
                part_payers[best] |= set(upay[r])
                part[r] = best
            else:
                part[r] = len(part_payers)
                part_payers.append(set(upay[r]))
        if len(part_payers) < 2:
            continue
        for x in cols:
            out[x] = nxt + part[unit[x]]
            moved[x] = True
        nxt += len(part_payers)
    if not moved.any():
        return member
    ww = np.concatenate([xb + dom, xb + dom])
    xs = np.concatenate([s, d])
    ys = np.concatenate([d, s])
    ok = (ww > 0) & np.concatenate([same, same]) & ~collector[xs] & moved[ys]
    xs, ys, ww = xs[ok], ys[ok], ww[ok]
    if len(xs):
        key, inv = np.unique(np.column_stack([xs, out[ys]]), axis=0, return_inverse=True)
        tot = np.bincount(inv.ravel(), weights=ww)
        order_ = np.lexsort((-tot, key[:, 0]))
        first = order_[np.r_[True, key[order_, 0][1:] != key[order_, 0][:-1]]]
        out[key[first, 0]] = key[first, 1]
    _, res = np.unique(out, return_inverse=True)
    return np.asarray(res, dtype=np.int64).ravel()


@pytest.mark.parametrize("seed", range(12))
def test_split_by_collector_as_the_part_by_part_scan(seed: int) -> None:
    """Big communities of many lone collectors whose payers overlap (the case that was quadratic)."""
    rng = np.random.default_rng(seed)
    n = 160
    collector = rng.random(n) < 0.45
    member = rng.integers(0, 3, n).astype(np.int64)
    edges: dict[tuple[int, int], tuple[float, float]] = {}
    for _ in range(900):
        a, b = (int(v) for v in rng.integers(0, n, 2))
        if a == b:
            continue
        p2p = float(rng.integers(1, 4))
        edges[(a, b)] = (p2p, float(rng.integers(0, 2)) if rng.random() < 0.3 else 0.0)
    g = ig.Graph(n=n, edges=list(edges), directed=True)
    g.es["np2p"] = [v[0] for v in edges.values()]
    g.es["ndom"] = [min(v) for v in edges.values()]
    kin = rng.integers(0, n, (15, 2))
    passes = np.column_stack([rng.integers(0, n, 10), rng.integers(0, n, 10), rng.integers(1, 3, 10)])
    keep = sorted(rng.choice(n, size=140, replace=False).tolist())
    pos = np.full(n, -1)
    pos[keep] = np.arange(len(keep))
    col, mem = collector[keep], member[keep]
    for overlap in (OVERLAP_MIN, 0.3):
        want = _split_reference(g, keep, mem, col, kin, overlap, passes)
        got = split_by_collector(g, keep, mem, col, kin, overlap, passes)
        assert got.tolist() == want.tolist()
        table = EdgeTable(n, edge_ends(g), {"np2p": edge_attr(g, "np2p"), "ndom": edge_attr(g, "ndom")})
        assert split_by_collector(table, keep, mem, col, kin, overlap, passes).tolist() == want.tolist()


NAMES = [
    "ana cruz", "ana d cruz", "maria cruz", "maria santos", "ma cristina buenaventura",
    "maria cristina buenaventura", "kittisak thongchai", "kitisak thongchai", "jose reyes",
    "rosa lim", "ana-maria cruz", "maria  santos", "cruz ana", "santos maria luisa",
    "cristina cruz", "kristina cruz", "harroet cruz", "harriet cruz",
]


def _brute_force(
    con: duckdb.DuckDBPyConnection, sg: SubjectGraph
) -> tuple[list[tuple[int, int, int]], int]:
    """Every receipt against every domestic payment, then the Python name test (session 7's rule)."""
    pay = con.execute("""SELECT src, dst, ts_utc, amount_usd, sender_country, receiver_country, p2p, cross_border
                         FROM network_payments""").fetchall()
    names: dict[str, list[str]] = {}
    for s, nm in con.execute("""SELECT DISTINCT sr.subject_id, p.name_norm FROM subject_records sr
                                JOIN parties p USING (provider, record_id, party)
                                WHERE p.name_norm IS NOT NULL AND p.side IN ('from', 'to')""").fetchall():
        names.setdefault(s, []).append(nm)

    def same_person(x: str, f: str) -> bool:
        nx, nf = names.get(x, []), names.get(f, [])
        words = {w for n in nx for w in n.split() if len(w) >= 4}
        return (bool(nx and nf) and any(w in words for n in nf for w in n.split())
                and all(names_compatible(a, b) for a in nx for b in nf))

    got: dict[tuple[int, int], int] = {}
    by_other = 0
    for _, x, pts, pa_, _, pc, pp2p, pxb in pay:
        if not (pp2p and pxb and pa_ > 0 and pc is not None):
            continue
        for f, z, qts, qa, qc, _, qp2p, qxb in pay:
            if not qp2p or qxb or qc != pc or f == z or z == x:
                continue
            near = pts <= qts <= pts + timedelta(hours=PASS_HOURS) and PASS_LO * pa_ <= qa <= PASS_HI * pa_
            if near and (f == x or same_person(x, f)):
                key = (sg.index[x], sg.index[z])
                got[key] = got.get(key, 0) + 1
                by_other += f != x
    return sorted((a, b, n) for (a, b), n in got.items()), by_other


@pytest.mark.parametrize("seed", range(4))
def test_pass_throughs_as_brute_force(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Namesakes, fragments with two names, typos, initials, other characters, midnight: the
    word join and the SQL name prefilter keep every pass-through the plain test finds, counted once."""
    rng = np.random.default_rng(seed)
    people = [f"X{i}" for i in range(8)] + [f"W{i}" for i in range(8)]
    for p in people:
        monkeypatch.setitem(COUNTRY, p, "PH")
    con = duckdb.connect()
    b = Builder(con, names={p: NAMES[int(rng.integers(0, len(NAMES)))] for p in people})
    t0 = datetime(2025, 3, 1, 20, 0)
    for k in range(140):
        at = t0 + timedelta(hours=float(rng.uniform(0, 60)))
        usd = float(np.round(rng.uniform(20, 200), 2))
        if k % 3 == 0:
            b.pay(f"C{int(rng.integers(0, 4))}", f"X{int(rng.integers(0, 8))}", 1, usd, at=at)
        else:
            f, z = people[int(rng.integers(0, 16))], [*people, "K1", "K2"][int(rng.integers(0, 18))]
            if f != z:
                b.pay(f, z, 1, usd, domestic=True, at=at)
        if k == 70:  # some subjects take a second name (another record, another spelling)
            for p in people[::3]:
                b.names[p] = NAMES[int(rng.integers(0, len(NAMES)))]
    build_edges(con)
    sg = load_graph(con)
    got = pass_throughs(con, sg, list(range(len(sg.names))))
    want, by_other = _brute_force(con, sg)
    assert sorted(map(tuple, got.tolist())) == want
    assert by_other > 0  # some are passed on by another subject of a compatible name


def test_release_cache_keeps_the_warehouse_limit(tmp_path: object) -> None:
    from moneytrail.store import Warehouse

    with Warehouse(f"{tmp_path}/w.duckdb") as wh:
        before = wh.con.execute("SELECT current_setting('memory_limit')").fetchall()
        wh.con.execute("CREATE TABLE t AS SELECT range AS i, repeat('x', 50) AS s FROM range(200000)")
        release_cache(wh.con)
        assert wh.con.execute("SELECT current_setting('memory_limit')").fetchall() == before
        assert wh.con.execute("SELECT count(*) FROM t").fetchall() == [(200000,)]
