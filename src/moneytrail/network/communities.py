"""Facilitator networks and syndicates: Leiden on the undirected payment graph.

Only person-to-person payments link subjects here (card purchases, wallet
payments to merchants and cash-outs would glue everyone to the same shops and
agents); a domestic payment (money passed on inside a network) weighs three
cross-border ones, and a payer's cross-border payments are shared out over the
people it pays that way (``cweight`` in graph.py); modularity (RB configuration)
at resolution ``max(1, total weight / WEIGHT_PER_RESOLUTION)`` on the subjects
with some risk, then the subjects with a domestic tie to one of them join the
community of the one they pass money to or from most (``attach_domestic``).
A network collects in one country: each community found by Leiden is split by
its collectors' receiving country, and its payers follow the collectors they
pay most (``split_by_country``). Communities whose collectors pass money on at home to
one another are merged (``join_forwarders``: Leiden can leave a syndicate's receivers
apart from the controller they forward to). Each part is then split so that it holds one
network's collectors: those passing money on at home to one another or tied as
kin stay together, two such groups are two networks, and a lone collector joins
the group whose payers bring most of its payments (``split_by_collector``).

Tables written:

``communities(community_id, subject_id)``: every subject in a community of two or more.
``community_summary(community_id, members, facilitators, consumers, intermediaries,
total_usd, payments, first, last, score)``: ``facilitators`` etc. count flagged
subjects of ``network_roles``; ``total_usd``/``payments`` are the payments inside
the community; ``score`` is the best member score times the flagged share of
its payments' ends (so a big legitimate community with one stray suspect ranks low).
"""

from __future__ import annotations

import duckdb
import igraph as ig
import leidenalg
import numpy as np
import pyarrow as pa

from moneytrail.network.graph import SubjectGraph
from moneytrail.network.names import kin_tie_vertices
from moneytrail.network.sql import fetch_numpy

# Networks keep their size however big the world: the resolution grows with the graph's total
# weight (one unit per WEIGHT_PER_RESOLUTION), never below 1; tuned on seed 101 (about 9 there with
# the old weights; about 5 at scale 0.5 since cross-border weight is shared over a payer's payees).
WEIGHT_PER_RESOLUTION = 300.0
# Only subjects with some risk take part: the legitimate population would dominate the partition
# (and the time) while investigators want the networks around suspects.
RISK_MIN = 0.1
SEED = 7
N_ITERATIONS = 2
# A collector that follows no one joins a network whose payers bring it at least this share of
# its cross-border payments (seeds 303 / 404, all members, before kin units: 0.5 -> ARI
# 0.878 / 0.779, 0.7 and 0.8 -> 0.897 / 0.794, 0.9 -> 0.870 / 0.794).
OVERLAP_MIN = 0.75


def auto_resolution(g: ig.Graph, weights: str = "cweight") -> float:
    return max(1.0, float(sum(g.es[weights])) / WEIGHT_PER_RESOLUTION) if g.ecount() else 1.0


def leiden(
    g: ig.Graph, resolution: float | None = None, seed: int = SEED, weights: str = "cweight"
) -> np.ndarray:
    """Community membership per vertex of an undirected weighted graph (edges of zero weight dropped)."""
    if g.vcount() == 0:
        return np.zeros(0, dtype=np.int64)
    if g.ecount():
        g = g.subgraph_edges(
            [i for i, w in enumerate(g.es[weights]) if w > 0], delete_vertices=False
        )
    if resolution is None:
        resolution = auto_resolution(g, weights)
    part = leidenalg.find_partition(
        g,
        leidenalg.RBConfigurationVertexPartition,
        weights=weights if g.ecount() else None,
        resolution_parameter=resolution,
        seed=seed,
        n_iterations=N_ITERATIONS,
    )
    return np.asarray(part.membership, dtype=np.int64)


def risky_vertices(con: duckdb.DuckDBPyConnection, sg: SubjectGraph) -> list[int]:
    """Vertices with a role probability of at least ``RISK_MIN`` (all vertices without ``network_roles``)."""
    if not _has(con, "network_roles"):
        return list(range(len(sg.names)))
    idx = sg.index
    rows = con.execute(f"""SELECT subject_id FROM network_roles
                           WHERE flagged = 1 OR greatest(p_consumer, p_facilitator, p_intermediary) >= {RISK_MIN!r}""").fetchall()
    return sorted(idx[r[0]] for r in rows if r[0] in idx)


def attach_domestic(
    u: ig.Graph, keep: list[int], member: np.ndarray
) -> tuple[list[int], np.ndarray]:
    """Add the vertices outside ``keep`` with a domestic person-to-person tie to one inside it, each
    to the community of the vertex it pays or is paid by most often that way.

    Relatives and syndicate receivers who pass money on at home look like anyone else (role
    'none', risk ~0.01) and stay out of Leiden; let into it they split networks, attached after
    it they join their own (seed 303: ARI 0.641 -> 0.765, seed 404: 0.604 -> 0.680).
    """
    if u.ecount() == 0 or not keep:
        return keep, member
    comm = np.full(u.vcount(), -1, dtype=np.int64)
    comm[np.asarray(keep, dtype=np.int64)] = member
    ends = np.asarray(u.get_edgelist(), dtype=np.int64)
    dom = np.asarray(u.es["ndom"], dtype=np.float64)
    x = np.concatenate([ends[:, 0], ends[:, 1]])  # the outsider end
    y = np.concatenate([ends[:, 1], ends[:, 0]])
    w = np.concatenate([dom, dom])
    ok = (w > 0) & (comm[x] < 0) & (comm[y] >= 0)
    x, y, w = x[ok], y[ok], w[ok]
    if len(x) == 0:
        return keep, member
    order = np.lexsort((-w, x))  # per outsider, its strongest domestic tie first
    first = order[np.r_[True, x[order][1:] != x[order][:-1]]]
    return keep + x[first].tolist(), np.concatenate([member, comm[y[first]]])


def receiving_countries(
    con: duckdb.DuckDBPyConnection, sg: SubjectGraph, keep: list[int]
) -> np.ndarray:
    """Per vertex of ``keep``: the code of the country it most often receives person-to-person
    payments in (ties: the first country code), for the collectors (paid from abroad, or
    receiving more such payments than they send); -1 otherwise."""
    out = np.full(len(keep), -1, dtype=np.int64)
    if not keep or not _has(con, "network_payments"):
        return out
    g = sg.graph
    vs = np.asarray(keep, dtype=np.int64)
    p2p = np.asarray(g.es["np2p"], dtype=np.float64) if g.ecount() else np.zeros(0)
    ends = np.asarray(g.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    n_in = np.bincount(ends[:, 1], weights=p2p, minlength=g.vcount())[vs]
    n_out = np.bincount(ends[:, 0], weights=p2p, minlength=g.vcount())[vs]
    xb = p2p - np.asarray(g.es["ndom"], dtype=np.float64) if g.ecount() else np.zeros(0)
    xb_in = np.bincount(ends[:, 1], weights=xb, minlength=g.vcount())[vs]
    collectors = vs[(xb_in > 0) | (n_in > n_out)]
    if len(collectors) == 0:
        return out
    con.register(
        "nw_collectors",
        pa.table(
            {
                "subject_id": pa.array([sg.names[i] for i in collectors], pa.string()),
                "vid": pa.array(collectors, pa.int64()),
            }
        ),
    )
    got = fetch_numpy(
        con,
        """
        SELECT vid, country FROM (
            SELECT c.vid, p.receiver_country AS country, count(*) AS n FROM network_payments p
            JOIN nw_collectors c ON c.subject_id = p.dst
            WHERE p.p2p AND p.receiver_country IS NOT NULL GROUP BY ALL)
        QUALIFY row_number() OVER (PARTITION BY vid ORDER BY n DESC, country) = 1""",
    )
    con.unregister("nw_collectors")
    if len(got["vid"]) == 0:
        return out
    _, code = np.unique(np.asarray(got["country"], dtype=object).astype(str), return_inverse=True)
    pos = {v: i for i, v in enumerate(keep)}
    out[[pos[int(v)] for v in got["vid"]]] = code
    return out


def split_by_country(
    u: ig.Graph, keep: list[int], member: np.ndarray, country: np.ndarray
) -> np.ndarray:
    """Split each community by its collectors' receiving country (``country``, -1 unknown); every
    other member follows the same-community collector it has most person-to-person payments with.

    A consumer paying networks in two countries can pull them into one community; an investigator
    refers a network to one country's police (seed 303: ARI 0.836 -> 0.847, seed 404: 0.715 -> 0.766).
    """
    if len(keep) == 0:
        return member
    ctry = country.copy()
    sub = u.induced_subgraph(keep)
    if sub.ecount():
        ends = np.asarray(sub.get_edgelist(), dtype=np.int64)
        w = np.asarray(sub.es["np2p"], dtype=np.float64)
        x = np.concatenate([ends[:, 0], ends[:, 1]])  # the member without a country
        y = np.concatenate([ends[:, 1], ends[:, 0]])  # a collector of its community
        ww = np.concatenate([w, w])
        ok = (ww > 0) & (country[x] < 0) & (country[y] >= 0) & (member[x] == member[y])
        x, y, ww = x[ok], y[ok], ww[ok]
        if len(x):
            order = np.lexsort((-ww, x))
            first = order[np.r_[True, x[order][1:] != x[order][:-1]]]
            ctry[x[first]] = country[y[first]]
    _, out = np.unique(np.column_stack([member, ctry]), axis=0, return_inverse=True)
    return np.asarray(out, dtype=np.int64).ravel()


def join_forwarders(
    g: ig.Graph, keep: list[int], member: np.ndarray, country: np.ndarray
) -> np.ndarray:
    """Merge the communities of two collectors of one receiving country (``country``, -1 for
    members who collect nothing) when one passes money on at home to the other most (its
    strongest domestic payment to such a collector). ``g`` is the directed graph (``ndom``).

    A syndicate controller who takes consumer payments himself has his own payers, and each
    receiver its own: Leiden can put every receiver in a community with its payers and the
    controller in another, although every receiver hands the takings to him. Only the strongest
    forward counts, so a stray payment to a third collector chains no networks. On seeds 303 / 404
    no such forward crosses communities; on 707 the four that do all join a receiver to its
    controller (ARI 0.824 -> 0.876). ``split_by_collector`` runs after this and keeps the
    forwarders with their controller as one unit.
    """
    n = len(keep)
    if n == 0 or g.ecount() == 0:
        return member
    pos = np.full(g.vcount(), -1, dtype=np.int64)
    pos[np.asarray(keep, dtype=np.int64)] = np.arange(n)
    ends = np.asarray(g.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    s, d = pos[ends[:, 0]], pos[ends[:, 1]]
    dom = np.asarray(g.es["ndom"], dtype=np.float64)
    ok = (s >= 0) & (d >= 0) & (dom > 0)
    s, d, dom = s[ok], d[ok], dom[ok]
    ok = (country[s] >= 0) & (country[s] == country[d])
    s, d, dom = s[ok], d[ok], dom[ok]
    if len(s) == 0:
        return member
    order = np.lexsort((-dom, s))  # per forwarder, its strongest domestic forward first
    first = order[np.r_[True, s[order][1:] != s[order][:-1]]]
    a, b = member[s[first]], member[d[first]]
    cross = a != b
    if not cross.any():
        return member
    par = {int(c): int(c) for c in np.unique(member)}

    def find(x: int) -> int:
        while par[x] != x:
            par[x] = par[par[x]]
            x = par[x]
        return x

    for x, y in zip(a[cross].tolist(), b[cross].tolist(), strict=True):
        par[find(x)] = find(y)
    root = np.asarray([find(int(c)) for c in member.tolist()], dtype=np.int64)
    _, out = np.unique(root, return_inverse=True)
    return np.asarray(out, dtype=np.int64).ravel()


def _units(cols: list[int], fwd: dict[int, int], kin_of: dict[int, list[int]]) -> dict[int, int]:
    """The unit (a representative collector) of each collector of one community: collectors joined
    by domestic forwarding or by a kin tie."""
    par = {x: x for x in cols}

    def find(x: int) -> int:
        while par[x] != x:
            par[x] = par[par[x]]
            x = par[x]
        return x

    for x in cols:
        if x in fwd:
            par[find(x)] = find(fwd[x])
    inside = set(cols)
    for x in cols:
        for y in kin_of.get(x, ()):
            if y in inside:
                par[find(x)] = find(y)
    return {x: find(x) for x in cols}


def split_by_collector(
    g: ig.Graph,
    keep: list[int],
    member: np.ndarray,
    collector: np.ndarray,
    kin: np.ndarray | None = None,
    overlap_min: float = OVERLAP_MIN,
) -> np.ndarray:
    """Split communities that hold more than one network's collectors. ``g`` is the directed graph
    (edge attributes ``np2p``, ``ndom``); ``collector`` marks the positions of ``keep`` that
    collect; ``kin`` holds the kin ties (names.py) as (n, 2) vertex ids of ``g``.

    Within a community, collectors that pass money on at home (a relative to the family head, a
    syndicate receiver to its controller) or that are kin (a shared surname in one town) form a
    *unit*; two units of two collectors or more are two networks. A collector alone in its unit
    (a child receiver, a lone family head, a receiver who never forwarded) joins the network whose
    payers bring it at least ``overlap_min`` of its cross-border payments, else it is a network of
    its own. The other members follow the part they have most person-to-person payments with.

    One consumer paying two single-collector networks of one country glues them in Leiden, while
    the consumers of a syndicate pay all of its receivers (seeds 303 / 404: ARI 0.855 -> 0.908,
    0.762 -> 0.794).
    """
    n = len(keep)
    if n == 0 or g.ecount() == 0:
        return member
    kv = np.asarray(keep, dtype=np.int64)
    pos = np.full(g.vcount(), -1, dtype=np.int64)
    pos[kv] = np.arange(n)
    kin_of: dict[int, list[int]] = {}
    for a, b in (
        pos[kin] if kin is not None and len(kin) else np.zeros((0, 2), dtype=np.int64)
    ).tolist():
        if a >= 0 and b >= 0:
            kin_of.setdefault(a, []).append(b)
            kin_of.setdefault(b, []).append(a)
    ends = np.asarray(g.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    s, d = pos[ends[:, 0]], pos[ends[:, 1]]
    inside = (s >= 0) & (d >= 0)
    s, d = s[inside], d[inside]
    dom = np.asarray(g.es["ndom"], dtype=np.float64)[inside]
    xb = np.asarray(g.es["np2p"], dtype=np.float64)[inside] - dom
    same = member[s] == member[d]
    busy = np.bincount(member[collector], minlength=int(member.max()) + 1)[member] >= 2
    # each collector's strongest domestic forward to another collector of its community
    m = (dom > 0) & same & collector[s] & collector[d] & busy[s]
    fwd: dict[int, int] = {}
    fwd_w: dict[int, float] = {}
    for a, b, w in zip(s[m].tolist(), d[m].tolist(), dom[m].tolist(), strict=True):
        if w > fwd_w.get(a, 0.0):
            fwd_w[a], fwd[a] = w, b
    # each collector's cross-border payers, with their payments
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
        # units of several collectors first, then the lone ones by the payments they collect
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
    # the other members of a split community follow the part they have most payments with
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


def detect_communities(
    con: duckdb.DuckDBPyConnection, sg: SubjectGraph, resolution: float | None = None
) -> None:
    keep = risky_vertices(con, sg)
    full = sg.undirected()
    member = leiden(full.induced_subgraph(keep), resolution)
    country = receiving_countries(con, sg, keep)
    member = split_by_country(full, keep, member, country)
    member = join_forwarders(sg.graph, keep, member, country)
    member = split_by_collector(sg.graph, keep, member, country >= 0, kin_tie_vertices(con, sg))
    keep, member = attach_domestic(full, keep, member)
    tbl = pa.table(
        {
            "subject_id": pa.array([sg.names[i] for i in keep], pa.string()),
            "c": pa.array(member, pa.int64()),
        }
    )
    con.register("nw_comm_arrow", tbl)
    con.execute("""
        CREATE OR REPLACE TABLE communities AS
        WITH m AS (SELECT subject_id, c, count(*) OVER (PARTITION BY c) AS size FROM nw_comm_arrow)
        SELECT 'C' || lpad(CAST(dense_rank() OVER (ORDER BY c) AS VARCHAR), 5, '0') AS community_id, subject_id
        FROM m WHERE size >= 2
    """)
    con.unregister("nw_comm_arrow")
    roles = "network_roles" if _has(con, "network_roles") else None
    role_join = (
        f"LEFT JOIN {roles} r USING (subject_id)"
        if roles
        else "LEFT JOIN (SELECT NULL::VARCHAR AS subject_id, 'none' AS role, 0 AS flagged, 0.0 AS score) r USING (subject_id)"
    )
    con.execute(f"""
        CREATE OR REPLACE TABLE community_summary AS
        WITH mem AS (
            SELECT c.community_id, c.subject_id, coalesce(r.role, 'none') AS role,
                   coalesce(r.flagged, 0) AS flagged, coalesce(r.score, 0) AS score
            FROM communities c {role_join}
        ), inside AS (
            SELECT a.community_id, count(*) AS payments, sum(p.amount_usd) AS total_usd,
                   min(p.ts_utc) AS first, max(p.ts_utc) AS last,
                   avg(CAST(greatest(ma.flagged, mb.flagged) AS DOUBLE)) AS flagged_share
            FROM network_payments p
            JOIN communities a ON a.subject_id = p.src
            JOIN communities b ON b.subject_id = p.dst AND b.community_id = a.community_id
            JOIN mem ma ON ma.subject_id = p.src JOIN mem mb ON mb.subject_id = p.dst
            GROUP BY a.community_id
        ), agg AS (
            SELECT community_id, count(*) AS members,
                   count(*) FILTER (WHERE flagged = 1 AND role = 'facilitator') AS facilitators,
                   count(*) FILTER (WHERE flagged = 1 AND role = 'consumer') AS consumers,
                   count(*) FILTER (WHERE flagged = 1 AND role = 'intermediary') AS intermediaries,
                   max(score) FILTER (WHERE flagged = 1) AS best
            FROM mem GROUP BY community_id
        )
        SELECT a.community_id, a.members, a.facilitators, a.consumers, a.intermediaries,
               coalesce(i.total_usd, 0) AS total_usd, coalesce(i.payments, 0) AS payments,
               i.first, i.last, coalesce(a.best, 0) * coalesce(i.flagged_share, 0) AS score
        FROM agg a LEFT JOIN inside i USING (community_id)
    """)


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    from moneytrail.store import table_exists

    return table_exists(con, table)
