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
apart from the controller they forward to); a receipt passed on within hours, less a cut,
by the receiver or by its own differently resolved wallet, names whom it is forwarded to
before any plain domestic payment does (``pass_throughs``). Each part is then split so that
it holds one network's collectors: those passing money on at home to one another or tied as
kin stay together (kin only when they do not each forward to someone), two such groups are
two networks, and a lone collector joins the group whose payers bring most of its payments
(``split_by_collector``). A collector still alone joins the one community holding its name
and kin tie partners (``join_lone_by_ties``).

Leiden gets its edges in one canonical order (``canonical``; ``load_graph`` sorts them too),
so the communities do not depend on the order DuckDB returns rows in.

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

from moneytrail.network.graph import (
    EdgeTable,
    Graphish,
    SubjectGraph,
    edge_attr,
    edge_ends,
    edge_pairs,
)
from moneytrail.network.names import kin_tie_vertices, name_tie_vertices
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


def canonical(g: Graphish, weights: str = "cweight") -> ig.Graph:
    """The undirected graph ``g`` with its edges of positive ``weights`` only, in one canonical order
    (by lower then higher vertex id) and with only that attribute.

    Communities must not depend on the order the caller's graph got its edges in: DuckDB returns
    the aggregated edges in any order (seed 707: ARI 0.870, 0.855 once the stage's tables were
    shuffled, before ``load_graph`` sorted them too); the vertices are in subject id order.
    """
    if g.ecount() == 0:
        return ig.Graph(n=g.vcount())
    ends = np.sort(edge_ends(g), axis=1)
    w = edge_attr(g, weights)
    ok = w > 0
    ends, w = ends[ok], w[ok]
    order = np.lexsort((ends[:, 1], ends[:, 0]))
    ends = ends[order]
    out = ig.Graph(n=g.vcount(), edges=edge_pairs(ends[:, 0], ends[:, 1]), directed=False)
    out.es[weights] = w[order].tolist()
    return out


def leiden(
    g: Graphish, resolution: float | None = None, seed: int = SEED, weights: str = "cweight"
) -> np.ndarray:
    """Community membership per vertex of an undirected weighted graph (edges of zero weight dropped)."""
    if g.vcount() == 0:
        return np.zeros(0, dtype=np.int64)
    g = canonical(g, weights)
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


def induced(g: Graphish, keep: list[int]) -> Graphish:
    """The subgraph on the vertices ``keep`` (sorted), edges in ``g``'s order."""
    return g.induced(keep) if isinstance(g, EdgeTable) else g.induced_subgraph(keep)


def risky_vertices(con: duckdb.DuckDBPyConnection, sg: SubjectGraph) -> list[int]:
    """Vertices with a role probability of at least ``RISK_MIN`` (all vertices without ``network_roles``)."""
    if not _has(con, "network_roles"):
        return list(range(len(sg.names)))
    idx = sg.index
    rows = con.execute(f"""SELECT subject_id FROM network_roles
                           WHERE flagged = 1 OR greatest(p_consumer, p_facilitator, p_intermediary) >= {RISK_MIN!r}""").fetchall()
    return sorted(idx[r[0]] for r in rows if r[0] in idx)


def attach_domestic(
    u: Graphish, keep: list[int], member: np.ndarray
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
    ends = edge_ends(u)
    dom = edge_attr(u, "ndom")
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
    g = sg.edges
    vs = np.asarray(keep, dtype=np.int64)
    p2p = edge_attr(g, "np2p")
    ends = edge_ends(g)
    n_in = np.bincount(ends[:, 1], weights=p2p, minlength=g.vcount())[vs]
    n_out = np.bincount(ends[:, 0], weights=p2p, minlength=g.vcount())[vs]
    xb = p2p - edge_attr(g, "ndom")
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
    u: Graphish, keep: list[int], member: np.ndarray, country: np.ndarray
) -> np.ndarray:
    """Split each community by its collectors' receiving country (``country``, -1 unknown); every
    other member follows the same-community collector it has most person-to-person payments with.

    A consumer paying networks in two countries can pull them into one community; an investigator
    refers a network to one country's police (seed 303: ARI 0.836 -> 0.847, seed 404: 0.715 -> 0.766).
    """
    if len(keep) == 0:
        return member
    ctry = country.copy()
    sub = induced(u, keep)
    if sub.ecount():
        ends = edge_ends(sub)
        w = edge_attr(sub, "np2p")
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


# A pass-through: a domestic person-to-person payment made at most this many hours after a
# cross-border one was received, of PASS_LO to PASS_HI times its amount (syndicate receivers and
# relatives hand the takings on within hours, keeping a cut; the generator's delays reach ~20 h).
PASS_HOURS = 24
PASS_LO, PASS_HI = 0.6, 1.02

PASS_SQL = """
WITH r AS (SELECT subject_id FROM nw_pass_keep),
p AS (SELECT provider AS ip, record_id AS ir, dst AS x, ts_utc AS ts, amount_usd AS a, receiver_country AS c,
             CAST(ts_utc AS DATE) AS d FROM network_payments
      WHERE p2p AND cross_border AND amount_usd > 0 AND receiver_country IS NOT NULL
        AND dst IN (SELECT subject_id FROM r)),
q0 AS (SELECT provider AS jp, record_id AS jr, src AS f, dst AS z, ts_utc AS ts, amount_usd AS a, sender_country AS c,
              CAST(ts_utc AS DATE) AS d FROM network_payments
       WHERE p2p AND NOT cross_border AND sender_country IS NOT NULL AND src <> dst
         AND dst IN (SELECT subject_id FROM r)),
-- a payment stands for its day and the one before (the window of PASS_HOURS <= 24 h after a
-- receipt ends on the receipt's day or the next): joined by day, each pair meets once
q AS (SELECT jp, jr, f, z, ts, a, c, d FROM q0 UNION ALL SELECT jp, jr, f, z, ts, a, c, d - 1 FROM q0),
own AS (
  -- the receiver passes the receipt on itself
  SELECT p.x, q.f, q.z, count(*) AS n FROM p JOIN q ON q.f = p.x AND q.c = p.c AND q.d = p.d
     AND q.ts >= p.ts AND q.ts <= p.ts + INTERVAL {hours} HOUR AND q.a >= {lo!r} * p.a
     AND q.a <= {hi!r} * p.a AND q.z <> p.x
  GROUP BY ALL
){named}
SELECT x, f, z, n, NULL::VARCHAR[] AS nx, NULL::VARCHAR[] AS nf FROM own{other}
ORDER BY x, f, z
"""

# Another sender counts only when its names share a word of four letters or more with the
# receiver's (the receiver's own wallet that entity resolution kept apart; ``same_person`` then
# checks every name), so receipts and payments meet by country, day and shared word: joined by
# country and day alone, every receipt met every domestic payment of its country that day (5.2 M
# rows at 5 M transactions, a 29 GB spill at 20 M, growing with the square of the payments a
# day). A receipt and a payment sharing two words meet twice: counted once (by row).
PASS_NAMED_SQL = """,
who AS MATERIALIZED (
  SELECT provider, record_id, party, subject_id AS s FROM subject_records
  WHERE subject_id IN (SELECT x FROM p UNION SELECT f FROM q0)
),
named AS MATERIALIZED (
  SELECT who.s, pt.name_norm AS name FROM who
  JOIN parties pt ON pt.provider = who.provider AND pt.record_id = who.record_id AND pt.party = who.party
  WHERE pt.name_norm IS NOT NULL AND pt.side IN ('from', 'to')
),
words AS (SELECT DISTINCT s, w FROM (SELECT s, unnest(string_split(name, ' ')) AS w FROM named)
          WHERE length(w) >= 4),
wf AS (SELECT s, w FROM words WHERE s IN (SELECT f FROM q0)),
wx AS (SELECT s, w FROM words WHERE w IN (SELECT w FROM wf)),
pw AS MATERIALIZED (SELECT p.*, wx.w FROM p JOIN wx ON wx.s = p.x),
qw AS MATERIALIZED (SELECT q.*, wf.w FROM q JOIN wf ON wf.s = q.f),
met AS (
  SELECT DISTINCT p.ip, p.ir, q.jp, q.jr, p.x, q.f, q.z FROM pw p JOIN qw q ON q.w = p.w AND q.c = p.c AND q.d = p.d
     AND q.ts >= p.ts AND q.ts <= p.ts + INTERVAL {hours} HOUR AND q.a >= {lo!r} * p.a
     AND q.a <= {hi!r} * p.a AND q.f <> p.x AND q.z <> p.x
),
other0 AS (SELECT x, f, z, count(*) AS n FROM met GROUP BY ALL),
toks AS (
  SELECT s, name, list_sort(string_split(name, ' ')) AS t,
         regexp_full_match(name, '[a-z0-9]+( [a-z0-9]+)*') AS plain
  FROM (SELECT DISTINCT s, name FROM named WHERE s IN (SELECT x FROM other0 UNION SELECT f FROM other0))
),
xf AS (SELECT DISTINCT x, f FROM other0),
-- most pairs met by a common word ("maria", "cruz") hold names no one would take for one
-- person: a pair goes on to ``same_person`` (every name of one compatible with every name of
-- the other) only when the first name of each may be compatible
first AS (SELECT s, arg_min(t, name) AS t, arg_min(plain, name) AS plain FROM toks GROUP BY s),
fx AS (
  SELECT xf.x, xf.f, a.t AS ta, b.t AS tb,
         NOT (a.plain AND b.plain) OR a.t = b.t OR {whole} AS pass
  FROM xf JOIN first a ON a.s = xf.x JOIN first b ON b.s = xf.f
),
-- the shorter name's tokens (k-th) against every token of the longer one, as rows
tk AS (
  SELECT x, f, lo, unnest(sh) AS t, generate_subscripts(sh, 1) AS k FROM (
    SELECT x, f, CASE WHEN len(ta) <= len(tb) THEN ta ELSE tb END AS sh,
           CASE WHEN len(ta) <= len(tb) THEN tb ELSE ta END AS lo FROM fx WHERE NOT pass)
),
tu AS (SELECT x, f, k, t, u, {similar} AS alike FROM (SELECT x, f, k, t, unnest(lo) AS u FROM tk)),
per AS (SELECT x, f, k, bool_or({token_ok}) AS ok, bool_or({anchor}) AS anchor FROM tu GROUP BY x, f, k),
maybe AS (
  SELECT x, f FROM fx WHERE pass
  UNION ALL SELECT x, f FROM per GROUP BY x, f HAVING bool_and(ok) AND bool_or(anchor)
),
nm AS (SELECT s, list(DISTINCT name) AS names FROM toks GROUP BY s),
other AS (
  SELECT o.x, o.f, o.z, o.n, a.names AS nx, b.names AS nf FROM other0 o
  JOIN maybe k ON k.x = o.x AND k.f = o.f JOIN nm a ON a.s = o.x JOIN nm b ON b.s = o.f
)"""


# ``names_compatible`` (resolve/names.py) over two sorted token lists in SQL, with its similarity
# thresholds lowered by LOOSE: DuckDB's Jaro-Winkler agrees with rapidfuzz's to 1e-16 (200,000
# word and name pairs of the 1M world), and every clause only grows as a threshold falls, so
# what this rejects ``names_compatible`` rejects; it only keeps Python from the chance pairs.
# Names of other characters than a-z, 0-9 and single spaces are left to Python.
LOOSE = 0.01


def _compatible_sql() -> dict[str, str]:
    """The clauses of ``names_compatible`` for the pass-through SQL: ``whole`` (equal token lists
    aside) on the first names' token lists ``a.t``, ``b.t``; ``similar``, then ``token_ok`` and
    ``anchor`` (which read it) on a token ``t`` of the shorter name and a token ``u`` of the longer."""
    return {
        "whole": f"jaro_winkler_similarity(array_to_string(a.t, ' '), array_to_string(b.t, ' ')) >= {0.95 - LOOSE!r}",
        "similar": f"(least(length(t), length(u)) >= 3 AND jaro_winkler_similarity(t, u) >= {0.85 - LOOSE!r})",
        "token_ok": (
            "(t = u OR ((length(t) = 1 OR length(u) = 1) AND left(t, 1) = left(u, 1)) "
            "OR (length(t) > 1 AND length(u) > 1 AND (starts_with(u, t) OR starts_with(t, u))) OR alike)"
        ),
        "anchor": "((t = u AND length(t) >= 2) OR alike)",
    }


def pass_throughs(con: duckdb.DuckDBPyConnection, sg: SubjectGraph, keep: list[int]) -> np.ndarray:
    """Forwards seen as pass-throughs, as (k, 3) rows (receiver vertex, target vertex, matches).

    A subject of ``keep`` receives a cross-border payment and, within ``PASS_HOURS``, a domestic
    payment of ``PASS_LO``-``PASS_HI`` times its amount goes to another subject of ``keep``, sent
    either by the receiver itself or by a subject whose every name is compatible with every name
    of the receiver (``names_compatible``, sharing a word of four letters or more: the receiver's
    own wallet that entity resolution kept apart, "kittisak thongchai" paid in cash and forwarding
    from an e-wallet). An investigator reads a receipt passed on within hours, less a cut, as
    money handed to whoever runs the receiver; the strongest domestic payment alone can be a
    neighbour or a shop owner. On the eight bench worlds all 457 pass-throughs (39 of them by a
    fragment) join two members of one true network; a sender sharing only a surname in one town
    (a kin tie) made two that did not.
    """
    from moneytrail.resolve.names import names_compatible

    if not keep or not _has(con, "network_payments"):
        return np.zeros((0, 3), dtype=np.int64)
    con.register("nw_pass_keep", pa.table({"subject_id": pa.array([sg.names[i] for i in keep], pa.string())}))
    assert PASS_HOURS <= 24, "PASS_SQL joins a receipt's window by its day and the next"
    named = _has(con, "parties")
    sql = PASS_SQL.format(
        hours=PASS_HOURS,
        lo=PASS_LO,
        hi=PASS_HI,
        named=PASS_NAMED_SQL.format(hours=PASS_HOURS, lo=PASS_LO, hi=PASS_HI, **_compatible_sql())
        if named
        else "",
        other=" UNION ALL SELECT x, f, z, n, nx, nf FROM other" if named else "",
    )
    rows = con.execute(sql).fetchall()
    con.unregister("nw_pass_keep")

    def same_person(nx: list[str] | None, nf: list[str] | None) -> bool:
        nx, nf = nx or [], nf or []
        words = {w for n in nx for w in n.split() if len(w) >= 4}
        return (
            bool(nx and nf)
            and any(w in words for n in nf for w in n.split())
            and all(names_compatible(a, b) for a in nx for b in nf)
        )

    idx = sg.index
    got: dict[tuple[int, int], int] = {}
    for x, f, z, n, nx, nf in rows:
        if x == f or same_person(nx, nf):
            key = (idx[x], idx[z])
            got[key] = got.get(key, 0) + int(n)
    out = [(a, b, n) for (a, b), n in sorted(got.items())]
    return np.asarray(out, dtype=np.int64).reshape(-1, 3)


# A pass-through outweighs any number of plain domestic payments when a forward's target is chosen.
PASS_WEIGHT = 1000.0


def _forwards(
    g: Graphish, pos: np.ndarray, passes: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Domestic forwards between positions of ``keep`` (``pos`` maps vertices to them, -1 outside):
    (from, to, strength), strength the domestic payments plus ``PASS_WEIGHT`` per pass-through."""
    ends = edge_ends(g)
    dom = edge_attr(g, "ndom")
    s, d = pos[ends[:, 0]], pos[ends[:, 1]]
    ok = (s >= 0) & (d >= 0) & (dom > 0)
    s, d, w = s[ok], d[ok], dom[ok]
    if passes is not None and len(passes):
        ps, pd = pos[passes[:, 0]], pos[passes[:, 1]]
        ok = (ps >= 0) & (pd >= 0) & (ps != pd)
        s = np.concatenate([s, ps[ok]])
        d = np.concatenate([d, pd[ok]])
        w = np.concatenate([w, PASS_WEIGHT * passes[ok, 2].astype(np.float64)])
    if len(s) == 0:
        return s, d, w
    key, inv = np.unique(np.column_stack([s, d]), axis=0, return_inverse=True)
    tot = np.bincount(inv.ravel(), weights=w)
    return key[:, 0], key[:, 1], tot


def join_forwarders(
    g: Graphish,
    keep: list[int],
    member: np.ndarray,
    country: np.ndarray,
    passes: np.ndarray | None = None,
) -> np.ndarray:
    """Merge the communities of two collectors of one receiving country (``country``, -1 for
    members who collect nothing) when one passes money on at home to the other most (its
    strongest domestic payment to such a collector). ``g`` is the directed graph (``ndom``).
    With ``passes`` (``pass_throughs``), a collector's forward is its strongest pass-through
    target first, who may collect nothing himself (a controller paid only by his receivers).

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
    s, d, dom = _forwards(g, pos, passes)
    # a pass-through may go to someone who collects nothing himself (a controller paid only by
    # his receivers); it is domestic by construction
    ok = (country[s] >= 0) & ((country[s] == country[d]) | (dom >= PASS_WEIGHT))
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
    """The unit (a representative) of each collector of one community: collectors joined by
    forwarding (to a collector, or by a pass-through to anyone: ``fwd``) or by a kin tie, unless
    both ends of the kin tie forward."""
    par = {x: x for x in cols}
    for x in cols:
        if x in fwd:
            par.setdefault(fwd[x], fwd[x])  # a pass-through's target who collects nothing

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
            # two collectors that each hand their takings to someone are placed by that: a shared
            # surname in one town does not join a relative of one family to another's receiver
            if y in inside and not (x in fwd and y in fwd):
                par[find(x)] = find(y)
    return {x: find(x) for x in cols}


def split_by_collector(
    g: Graphish,
    keep: list[int],
    member: np.ndarray,
    collector: np.ndarray,
    kin: np.ndarray | None = None,
    overlap_min: float = OVERLAP_MIN,
    passes: np.ndarray | None = None,
) -> np.ndarray:
    """Split communities that hold more than one network's collectors. ``g`` is the directed graph
    (edge attributes ``np2p``, ``ndom``); ``collector`` marks the positions of ``keep`` that
    collect; ``kin`` holds the kin ties (names.py) as (n, 2) vertex ids of ``g``; ``passes`` the
    pass-throughs (``pass_throughs``), which choose a collector's forward before plain payments.

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
    ends = edge_ends(g)
    s, d = pos[ends[:, 0]], pos[ends[:, 1]]
    inside = (s >= 0) & (d >= 0)
    s, d = s[inside], d[inside]
    dom = edge_attr(g, "ndom")[inside]
    xb = edge_attr(g, "np2p")[inside] - dom
    same = member[s] == member[d]
    busy = np.bincount(member[collector], minlength=int(member.max()) + 1)[member] >= 2
    # each collector's strongest forward (pass-throughs first) to another collector of its community
    fs, fd, fw = _forwards(g, pos, passes)
    m = (member[fs] == member[fd]) & collector[fs] & (collector[fd] | (fw >= PASS_WEIGHT)) & busy[fs]
    fwd: dict[int, int] = {}
    fwd_w: dict[int, float] = {}
    for a, b, w in zip(fs[m].tolist(), fd[m].tolist(), fw[m].tolist(), strict=True):
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
        # the parts each payer pays (in the order they were made): a lone collector's overlap
        # with every part comes from its own payers, not from a pass over all the parts
        parts_of: dict[int, list[int]] = {}
        n_parts = 0
        part: dict[int, int] = {}
        for r in order:
            best, share, total = -1, 0.0, sum(upay[r].values())
            if size[r] == 1 and total > 0:
                acc: dict[int, float] = {}
                for p, w in upay[r].items():  # summed in the payers' order, as part by part
                    for k in parts_of.get(p, ()):
                        acc[k] = acc.get(k, 0.0) + w
                for k in sorted(acc):  # the first part of the best share wins
                    o = acc[k] / total
                    if o > share:
                        best, share = k, o
            if best >= 0 and share >= overlap_min:
                part[r] = best
            else:
                part[r] = best = n_parts
                n_parts += 1
            for p in upay[r]:
                ks = parts_of.setdefault(p, [])
                if best not in ks:
                    ks.append(best)
        if n_parts < 2:
            continue
        for x in cols:
            out[x] = nxt + part[unit[x]]
            moved[x] = True
        nxt += n_parts
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


def join_lone_by_ties(
    keep: list[int],
    member: np.ndarray,
    country: np.ndarray,
    ties: list[np.ndarray],
) -> np.ndarray:
    """Put each collector alone in its community (``country`` >= 0: a collector's receiving country)
    into the one community of its country that holds all its tie partners, trying ``ties`` (arrays
    of vertex pairs) in turn; partners alone themselves do not count, and partners in two
    communities place it nowhere. The stage passes the pairs both name- and kin-tied (names.py):
    a compatible name in the same town.

    A receiver's fragment that entity resolution kept apart, or a relative paid once by a consumer
    of other networks, ends alone after ``split_by_collector`` (seed 808: "ma cristina
    buenaventura" and "maria cristina buenaventura" of Davao City). Name ties alone join namesakes
    of other networks ("maria luisa p santos", "maria santos"), kin ties alone relatives of
    other families.
    """
    n = len(keep)
    if n == 0:
        return member
    size = np.bincount(member)
    alone = (country >= 0) & (size[member] == 1)
    if not alone.any():
        return member
    pos = {v: i for i, v in enumerate(keep)}
    out = member.copy()
    todo = set(np.flatnonzero(alone).tolist())
    for pairs in ties:
        found: dict[int, set[int]] = {}
        for a, b in (pairs.tolist() if len(pairs) else []):
            for x, y in ((a, b), (b, a)):
                i, j = pos.get(x), pos.get(y)
                if i is None or j is None or i not in todo or country[j] != country[i]:
                    continue
                if size[member[j]] >= 2:
                    found.setdefault(i, set()).add(int(member[j]))
        for i, comms in sorted(found.items()):
            if len(comms) == 1:
                out[i] = next(iter(comms))
                todo.discard(i)
    _, res = np.unique(out, return_inverse=True)
    return np.asarray(res, dtype=np.int64).ravel()


def _both(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The vertex pairs present in both (n, 2) arrays of ties (either order)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    sb = {(min(x, y), max(x, y)) for x, y in b.tolist()}
    got = sorted({(min(x, y), max(x, y)) for x, y in a.tolist()} & sb)
    return np.asarray(got, dtype=np.int64).reshape(-1, 2)


def detect_communities(
    con: duckdb.DuckDBPyConnection, sg: SubjectGraph, resolution: float | None = None
) -> None:
    keep = risky_vertices(con, sg)
    full = sg.undirected_edges()
    member = leiden(induced(full, keep), resolution)
    country = receiving_countries(con, sg, keep)
    member = split_by_country(full, keep, member, country)
    kin = kin_tie_vertices(con, sg)
    passes = pass_throughs(con, sg, keep)
    member = join_forwarders(sg.edges, keep, member, country, passes)
    member = split_by_collector(sg.edges, keep, member, country >= 0, kin, passes=passes)
    member = join_lone_by_ties(keep, member, country, [_both(name_tie_vertices(con, sg), kin)])
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
        WITH mem AS MATERIALIZED (
            SELECT c.community_id, c.subject_id, coalesce(r.role, 'none') AS role,
                   coalesce(r.flagged, 0) AS flagged, coalesce(r.score, 0) AS score
            FROM communities c {role_join}
        ), inside AS (
            -- the payments joined to the members once per end: joined to communities and to
            -- the members again (four joins), DuckDB built its hash table on the payments at
            -- 20 M (52 s, 5 GB spilled) where this takes 1.8 s
            SELECT a.community_id, count(*) AS payments, sum(p.amount_usd) AS total_usd,
                   min(p.ts_utc) AS first, max(p.ts_utc) AS last,
                   avg(CAST(greatest(a.flagged, b.flagged) AS DOUBLE)) AS flagged_share
            FROM network_payments p
            JOIN mem a ON a.subject_id = p.src
            JOIN mem b ON b.subject_id = p.dst AND b.community_id = a.community_id
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
