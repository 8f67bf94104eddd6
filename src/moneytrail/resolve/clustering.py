"""Clustering records into subjects, with a guard against chaining.

Two passes over one union-find of records:

1. **Strong links** (non-shared identifiers) unite records unconditionally.
2. **Scored links** (profile pairs at or above the threshold, strongest first)
   unite the groups of their records, under the *chaining guard*: when both
   groups already hold at least ``chain_large`` records, they merge only if at
   least ``chain_min_records`` records *on each side* link across above the
   threshold. One odd record (a typo, a borrowed phone) that looks like two
   people can therefore join either of them, but cannot fuse two established
   subjects into one. Small groups merge on a single link, as usual.

3. **Account guard** (when ``accounts`` is given): a scored link does not merge
   two groups that each hold their own account of one kind at one provider
   (two card tokens at one bank, two remittance customer ids at one operator)
   and no account of that kind in common. A provider knows a customer once; two
   cardholders called "Jeffrey Rogers" with two cards are two people, however
   alike their names. Strong links are not guarded (a shared phone or email
   outweighs it).

In incremental runs, groups holding already-resolved records are *frozen*: a
new record joins at most one existing subject and never merges two.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Ints = Sequence[int] | np.ndarray
"""Record numbers (or keys) as a list or an int64 array."""


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x


@dataclass
class ClusterResult:
    root: np.ndarray
    """Group root of every record index (0 is unused), as an int64 array: a list of
    ten million Python ints per pass cost seconds and half a gigabyte."""
    strong_merged: list[int] = field(default_factory=list)
    """Indexes into the strong edge list of the edges that united two groups."""
    scored_merged: list[tuple[int, int, int, int]] = field(default_factory=list)
    """(rid_l, rid_r, pid_l, pid_r) of the scored links that united two groups."""
    merges: int = 0
    chain_rejections: int = 0
    account_rejections: int = 0


@dataclass(frozen=True)
class ScoredLinks:
    """Scored profile pairs as three aligned arrays: what :func:`cluster` reads,
    without a Python tuple per pair (hundreds of thousands per pass at scale)."""

    pid_l: np.ndarray
    pid_r: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.pid_l)


def _as_arrays(
    scored: ScoredLinks | Sequence[tuple[int, int, float]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(scored, ScoredLinks):
        return (
            np.asarray(scored.pid_l, dtype=np.int64),
            np.asarray(scored.pid_r, dtype=np.int64),
            np.asarray(scored.weight, dtype=np.float64),
        )
    sc = np.asarray(scored, dtype=np.float64).reshape(-1, 3)
    return sc[:, 0].astype(np.int64), sc[:, 1].astype(np.int64), sc[:, 2]


def _components(n: int, strong_l: Ints, strong_r: Ints) -> np.ndarray:
    """Group root (smallest record number) of every record after the strong links,
    by connected components (scipy) instead of a Python union-find loop."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    a = np.asarray(strong_l, dtype=np.int64)
    b = np.asarray(strong_r, dtype=np.int64)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    # the root of a component is its smallest record number
    first = np.full(labels.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n, dtype=np.int64))
    return first[labels]


def _strong_merged(n: int, strong_l: Ints, strong_r: Ints) -> list[int]:
    """The strong edges that united two groups, as the sequential union-find over
    the edges in their order would find them: Kruskal's spanning forest with the
    edge's position as its weight (scipy's minimum spanning tree)."""
    a = np.asarray(strong_l, dtype=np.int64)
    b = np.asarray(strong_r, dtype=np.int64)
    if len(a) == 0:
        return []
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    idx = np.nonzero(keep)[0]
    _, first = np.unique(lo[idx] * n + hi[idx], return_index=True)
    idx = idx[first]  # first edge of each record pair
    graph = coo_matrix(((idx + 1).astype(np.float64), (lo[idx], hi[idx])), shape=(n, n)).tocsr()
    tree = minimum_spanning_tree(graph).tocoo()
    return sorted((tree.data.astype(np.int64) - 1).tolist())


def _roots(parent: np.ndarray) -> np.ndarray:
    """The root of every node of a union-find forest (``parent[root] == root``), by
    pointer jumping: what ``find`` gives for each node, in a few array passes."""
    p = parent
    while True:
        pp = p[p]
        if np.array_equal(pp, p):
            return p
        p = pp


def _sequential_strong(
    n: int,
    strong_l: Ints,
    strong_r: Ints,
    initial: Sequence[int] | None,
    frozen: set[int] | None,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Incremental runs: (root, frozen flag per root, merging strong edges) after
    pre-uniting ``initial`` and the strong links, no two frozen groups merged."""
    strong_l = np.asarray(strong_l, dtype=np.int64).tolist()
    strong_r = np.asarray(strong_r, dtype=np.int64).tolist()
    uf = UnionFind(n)
    parent, find = uf.parent, uf.find
    is_frozen = [False] * n
    size = [1] * n
    if initial is not None:
        for rid in range(1, n):
            head = initial[rid]
            if head and head != rid:
                parent[rid] = head
        for rid in range(1, n):
            r = find(rid)
            if r != rid:
                size[r] += 1
        for rid in frozen or ():
            is_frozen[find(rid)] = True
    merged: list[int] = []
    for i, (a, b) in enumerate(zip(strong_l, strong_r, strict=True)):
        ra, rb = find(a), find(b)
        if ra == rb or (is_frozen[ra] and is_frozen[rb]):
            continue
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
        is_frozen[ra] = is_frozen[ra] or is_frozen[rb]
        merged.append(i)
    root0 = _roots(np.asarray(parent, dtype=np.int64))
    return root0, np.asarray(is_frozen, dtype=bool), merged


@dataclass
class _Nodes:
    """(group, profile) nodes ("aps") after the strong links, numbered in the order of
    their first record: the same for every pass over the same records and links."""

    count: np.ndarray  # records of each ap
    rep: np.ndarray  # first record of each ap
    group: np.ndarray  # strong-link group root of each ap
    by_pid: np.ndarray  # aps ordered by profile
    sorted_pid: np.ndarray  # profile of each ap in that order
    pid_ptr: np.ndarray  # where each profile's aps start in by_pid (a CSR over profiles)


def _nodes(root0: np.ndarray, record_pid: Sequence[int] | np.ndarray, n: int) -> _Nodes | None:
    pid_arr = np.asarray(record_pid, dtype=np.int64)[:n]
    rids = np.nonzero(pid_arr)[0]
    rids = rids[rids > 0]
    if len(rids) == 0:
        return None
    key_grp, key_pid = root0[rids], pid_arr[rids]
    order = np.lexsort((key_pid, key_grp))
    kg, kp = key_grp[order], key_pid[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (kg[1:] != kg[:-1]) | (kp[1:] != kp[:-1])
    starts = np.nonzero(new)[0]
    count = np.diff(np.append(starts, len(order)))
    rep = np.minimum.reduceat(rids[order], starts)
    renum = np.argsort(rep, kind="stable")
    group, pid = kg[starts][renum], kp[starts][renum]
    by_pid = np.lexsort((np.arange(len(pid)), pid))
    sorted_pid = pid[by_pid]
    # a pid's aps by indexing, not by a binary search per scored pair (each pass
    # looked up every pair twice in the millions of aps, out of cache order)
    pid_ptr = np.searchsorted(sorted_pid, np.arange(int(sorted_pid[-1]) + 2))
    return _Nodes(count[renum], rep[renum], group, by_pid, sorted_pid, pid_ptr)


def _edges(
    nodes: _Nodes, s_l: np.ndarray, s_r: np.ndarray, s_w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scored links between aps, strongest first: (ap a, ap b, pid_l, pid_r)."""
    by_pid, pid_ptr, ap_group = nodes.by_pid, nodes.pid_ptr, nodes.group

    def expand(pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index into pids, ap) for every ap of every pid."""
        # a pid beyond the last with aps has none (its range is empty)
        pids = np.minimum(pids, len(pid_ptr) - 1)
        lo = pid_ptr[pids]
        hi = pid_ptr[np.minimum(pids + 1, len(pid_ptr) - 1)]
        cnt = hi - lo
        src = np.repeat(np.arange(len(pids)), cnt)
        offs = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        return src, by_pid[np.repeat(lo, cnt) + offs]

    same = s_l == s_r
    # a profile with itself: its first ap to each other ap
    src, ap = expand(s_l[same])
    w_same, pl_same = s_w[same][src], s_l[same][src]
    first_ap = np.full(len(pl_same), -1, dtype=np.int64)
    if len(src):
        grp_start = np.ones(len(src), dtype=bool)
        grp_start[1:] = src[1:] != src[:-1]
        first_ap = np.maximum.accumulate(np.where(grp_start, np.arange(len(src)), 0))
        first_ap = ap[first_ap]
    keep_same = ap != first_ap
    e_w = [w_same[keep_same]]
    e_a = [first_ap[keep_same]]
    e_b = [ap[keep_same]]
    e_pl = [pl_same[keep_same]]
    e_pr = [pl_same[keep_same]]
    # two profiles: every ap of one with every ap of the other, across groups
    dl, dr, dw = s_l[~same], s_r[~same], s_w[~same]
    src_l, ap_l = expand(dl)
    src_r, ap_r = expand(dr)
    cnt_r = np.bincount(src_r, minlength=len(dl))
    start_r = np.cumsum(cnt_r) - cnt_r
    rep_l = cnt_r[src_l]
    a_idx = np.repeat(np.arange(len(src_l)), rep_l)
    offs = np.arange(rep_l.sum()) - np.repeat(np.cumsum(rep_l) - rep_l, rep_l)
    b_idx = start_r[src_l[a_idx]] + offs
    pa_, pb_ = ap_l[a_idx], ap_r[b_idx]
    pair = src_l[a_idx]
    cross = ap_group[pa_] != ap_group[pb_]
    e_w.append(dw[pair][cross])
    e_a.append(pa_[cross])
    e_b.append(pb_[cross])
    e_pl.append(dl[pair][cross])
    e_pr.append(dr[pair][cross])
    ew, ea, eb = np.concatenate(e_w), np.concatenate(e_a), np.concatenate(e_b)
    epl, epr = np.concatenate(e_pl), np.concatenate(e_pr)
    order = np.lexsort((eb, ea, -ew))
    return ea[order], eb[order], epl[order], epr[order]


def _clashing_accounts(
    g: np.ndarray, k: np.ndarray, a: np.ndarray, n_groups: int, cg_a: np.ndarray, cg_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of the distinct (group, key, account) rows ``g, k, a`` (sorted) whose
    groups the account guard may ever have to keep apart: those in a connected set of the
    links (``cg_a``, ``cg_b``: the groups of each link) that holds two accounts of one key.

    Groups merge only along the links, so a group of any other set never meets an account
    that differs from its own, and the guard never refuses there: its accounts are left
    out, which spares the walk building and merging their account sets (at scale, most
    groups hold an account and few sets hold two of one kind)."""
    if len(g) == 0:
        return g, k, a
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m = len(cg_a)
    graph = coo_matrix(
        (np.ones(m, dtype=np.int8), (cg_a, cg_b)), shape=(n_groups, n_groups)
    ).tocsr()
    _, label = connected_components(graph, directed=False)
    comp = label[g]
    # distinct (set, key, account): a (set, key) seen twice holds two accounts of one key
    order = np.lexsort((a, k, comp))
    cs, ks, as_ = comp[order], k[order], a[order]
    new = np.ones(len(cs), dtype=bool)
    new[1:] = (cs[1:] != cs[:-1]) | (ks[1:] != ks[:-1]) | (as_[1:] != as_[:-1])
    cs, ks = cs[new], ks[new]
    again = np.zeros(len(cs), dtype=bool)
    again[1:] = (cs[1:] == cs[:-1]) & (ks[1:] == ks[:-1])
    clash = np.zeros(int(label.max()) + 1, dtype=bool)
    clash[cs[again]] = True
    keep = clash[comp]
    return g[keep], k[keep], a[keep]


def _csr(keys: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """(order, ptr): positions sorted by key (stable), and where each key's run starts."""
    order = np.argsort(keys, kind="stable")
    ptr = np.searchsorted(keys[order], np.arange(n_keys + 1))
    return order, ptr


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a walk: the walk makes hundreds of
    thousands of small lists, sets and dicts, none of them cyclic, and the collector's
    passes over them grew faster than the links (a fifth of the walk at 2M
    transactions)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@_gc_paused()
def cluster(
    n_records: int,
    record_pid: Ints,
    strong_l: Ints,
    strong_r: Ints,
    scored: ScoredLinks | Sequence[tuple[int, int, float]],
    *,
    chain_large: int,
    chain_min_records: int,
    initial: Sequence[int] | None = None,
    frozen: set[int] | None = None,
    accounts: tuple[Ints, Ints, Ints] | None = None,
    strong_cache: dict[str, Any] | None = None,
) -> ClusterResult:
    """Cluster records ``1..n_records``.

    ``record_pid[rid]`` is the profile of a record (0 for none); ``scored`` holds
    (pid_l, pid_r, match_weight) at or above the threshold (pid_l == pid_r for a
    profile compared with itself), as tuples or as :class:`ScoredLinks`.
    ``initial[rid]`` pre-unites records (a record number of the same group, e.g.
    the subject's first record); roots of groups in ``frozen`` are never merged
    with each other. ``accounts`` is (rid, key, account) as three lists of
    integers: a record's account of one kind at one provider (``key``); scored
    links do not merge groups whose accounts of one key differ.
    ``strong_cache`` (a dict the caller keeps between passes over the same
    records, profiles, strong links and accounts) saves what only they decide:
    the strong-link groups and the nodes the scored links join.

    The scored links are walked in a union-find over only the groups they touch
    (numbered 0..G-1), not over every record: a pass costs what its links cost.
    """
    n = n_records + 1
    result = ClusterResult(root=np.zeros(0, dtype=np.int64))
    cache: dict[str, Any] = strong_cache if strong_cache is not None else {}

    # 1. strong links
    frozen_root: np.ndarray | None = None
    if initial is None and not frozen:
        cache_key = (
            n,
            len(strong_l),
            len(record_pid),
            len(accounts[0]) if accounts is not None else -1,
        )
        if cache.get("key") != cache_key:
            cache.clear()
            if len(strong_l):
                root0 = _components(n, strong_l, strong_r)
                merged = _strong_merged(n, strong_l, strong_r)
            else:
                root0, merged = np.arange(n, dtype=np.int64), []
            cache.update(key=cache_key, root0=root0, merged=merged)
        root0, merged = cache["root0"], cache["merged"]
    else:
        cache = {}  # frozen groups: nothing is shared between calls
        root0, frozen_root, merged = _sequential_strong(n, strong_l, strong_r, initial, frozen)
    result.strong_merged = list(merged)
    result.merges += len(merged)

    # 2. scored links between (group, profile) nodes ("aps")
    if "nodes" not in cache:
        cache["nodes"] = _nodes(root0, record_pid, n)
    nodes: _Nodes | None = cache["nodes"]
    if nodes is None or not len(scored):
        result.root = root0.copy()
        return result
    ea, eb, epl, epr = _edges(nodes, *_as_arrays(scored))
    if len(ea) == 0:
        result.root = root0.copy()
        return result

    # the groups the links touch, numbered 0..G-1 in the order of their root record
    # (so comparing numbers compares roots, as the record-level union-find did)
    ap_group_full = nodes.group
    groups = np.unique(np.concatenate([ap_group_full[ea], ap_group_full[eb]]))
    n_groups = len(groups)
    touched_aps = np.unique(np.concatenate([ea, eb]))
    # group number of every strong-link root (-1: untouched)
    cg_of_root = np.full(n, -1, dtype=np.int64)
    cg_of_root[groups] = np.arange(n_groups, dtype=np.int64)
    # the touched aps, renumbered 0..T-1 (in ap order): the lists the walk reads are
    # as long as the links, not as the millions of aps
    ta = np.searchsorted(touched_aps, ea)
    tb = np.searchsorted(touched_aps, eb)
    t_cg = cg_of_root[ap_group_full[touched_aps]]
    parent = list(range(n_groups))
    size = np.bincount(root0, minlength=n)[groups].tolist()
    is_frozen = frozen_root[groups].tolist() if frozen_root is not None else [False] * n_groups

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    # neighbours of every touched ap (CSR), for the chaining guard's support count
    both = np.concatenate([ta, tb])
    other = np.concatenate([tb, ta])
    nb_order, nb_ptr = _csr(both, len(touched_aps))
    nb_list = other[nb_order].tolist()
    nb_ptr_l = nb_ptr.tolist()
    ap_cg_l = t_cg.tolist()
    ap_count = nodes.count[touched_aps].tolist()
    # touched aps of each group: a CSR, copied into a list when the group first merges
    mem_order, mem_ptr = _csr(t_cg, n_groups)
    mem_aps = mem_order.tolist()
    mem_ptr_l = mem_ptr.tolist()
    members: dict[int, list[int]] = {}
    n_members = np.diff(mem_ptr).tolist()

    def members_of(g: int) -> list[int]:
        got = members.get(g)
        if got is None:
            got = mem_aps[mem_ptr_l[g] : mem_ptr_l[g + 1]]
        return got

    # accounts of each touched group (CSR of distinct (group, key, account)), read
    # into {key: {accounts}} when the guard first asks
    acc_ptr_l = [0] * (n_groups + 1)
    acc_key: list[int] = []
    acc_val: list[int] = []
    if accounts is not None and len(accounts[0]):
        if "accounts" not in cache:
            acc = np.asarray(accounts, dtype=np.int64).reshape(3, -1)
            cache["accounts"] = (root0[acc[0]], acc[1], acc[2])
        acc_root, acc_key_arr, acc_val_arr = cache["accounts"]
        pos = cg_of_root[acc_root]
        hit = pos >= 0
        # distinct (group, key, account) rows in that order (a lexsort: np.unique over
        # rows sorts a byte view, several times slower at millions of rows)
        g_, k_, a_ = pos[hit], acc_key_arr[hit], acc_val_arr[hit]
        order = np.lexsort((a_, k_, g_))
        g_, k_, a_ = g_[order], k_[order], a_[order]
        first = np.ones(len(g_), dtype=bool)
        first[1:] = (g_[1:] != g_[:-1]) | (k_[1:] != k_[:-1]) | (a_[1:] != a_[:-1])
        g_, k_, a_ = g_[first], k_[first], a_[first]
        g_, k_, a_ = _clashing_accounts(g_, k_, a_, n_groups, t_cg[ta], t_cg[tb])
        acc_ptr_l = np.searchsorted(g_, np.arange(n_groups + 1)).tolist()
        acc_key, acc_val = k_.tolist(), a_.tolist()
    held: dict[int, dict[int, set[int]]] = {}

    def held_of(g: int) -> dict[int, set[int]]:
        got = held.get(g)
        if got is None:
            got = {}
            for i in range(acc_ptr_l[g], acc_ptr_l[g + 1]):
                got.setdefault(acc_key[i], set()).add(acc_val[i])
            held[g] = got
        return got

    def accounts_differ(ra: int, rb: int) -> bool:
        if ra not in held and acc_ptr_l[ra] == acc_ptr_l[ra + 1]:
            return False  # holds no account
        if rb not in held and acc_ptr_l[rb] == acc_ptr_l[rb + 1]:
            return False
        ha, hb = held_of(ra), held_of(rb)
        if not ha or not hb:
            return False
        if len(ha) > len(hb):
            ha, hb = hb, ha
        return any(k in hb and hb[k].isdisjoint(v) for k, v in ha.items())

    def support(small: int, other: int) -> tuple[int, int]:
        """Records of group `small` linking into `other`, and records of `other` reached."""
        linked_small = 0
        linked_other = 0
        reached: set[int] = set()
        for m in members_of(small):
            hit = False
            for nb in nb_list[nb_ptr_l[m] : nb_ptr_l[m + 1]]:
                if find(ap_cg_l[nb]) == other:
                    hit = True
                    if nb not in reached:
                        reached.add(nb)
                        linked_other += ap_count[nb]
            if hit:
                linked_small += ap_count[m]
                # the guard only asks whether both reach chain_min_records: a hub of
                # namesakes need not be walked to the end once they do
                if linked_small >= chain_min_records and linked_other >= chain_min_records:
                    break
        return linked_small, linked_other

    refused: dict[tuple[int, int], tuple[int, int]] = {}
    ap_rep = nodes.rep
    ca_l, cb_l = t_cg[ta].tolist(), t_cg[tb].tolist()
    # the link itself joins its two nodes' records: when each node holds at least
    # chain_min_records records, both sides have that support whatever else links
    # across, and the guard passes without counting (most guarded merges at scale)
    cnt = nodes.count[touched_aps]
    self_supported = ((cnt[ta] >= chain_min_records) & (cnt[tb] >= chain_min_records)).tolist()
    merged_at: list[int] = []
    for i, (ca, cb) in enumerate(zip(ca_l, cb_l, strict=True)):
        ra, rb = find(ca), find(cb)
        if ra == rb or (is_frozen[ra] and is_frozen[rb]):
            continue
        if min(size[ra], size[rb]) >= chain_large:
            key = (min(ra, rb), max(ra, rb))
            if refused.get(key) == (size[ra], size[rb]):
                continue
            if not self_supported[i]:
                small, big = (ra, rb) if n_members[ra] <= n_members[rb] else (rb, ra)
                s_small, s_big = support(small, big)
                if s_small < chain_min_records or s_big < chain_min_records:
                    refused[key] = (size[ra], size[rb])
                    result.chain_rejections += 1
                    continue
        if accounts_differ(ra, rb):
            result.account_rejections += 1
            continue
        # union by size (ties keep the first group), as the record-level union-find
        keep, gone = (rb, ra) if size[ra] < size[rb] else (ra, rb)
        parent[gone] = keep
        size[keep] += size[gone]
        is_frozen[keep] = is_frozen[keep] or is_frozen[gone]
        mk = members.get(keep)
        if mk is None:
            mk = members[keep] = mem_aps[mem_ptr_l[keep] : mem_ptr_l[keep + 1]]
        mg = members.pop(gone, None)
        mk.extend(mg if mg is not None else mem_aps[mem_ptr_l[gone] : mem_ptr_l[gone + 1]])
        n_members[keep] += n_members[gone]
        if acc_ptr_l[gone + 1] > acc_ptr_l[gone] or gone in held:
            mine = held_of(keep)
            for k, v in held_of(gone).items():
                mine.setdefault(k, set()).update(v)
            held.pop(gone, None)
        merged_at.append(i)

    # 3. every record's root: its strong-link group's, moved where the links united it
    root = root0.copy()
    if merged_at:
        final = groups[_roots(np.asarray(parent, dtype=np.int64))]
        pos = cg_of_root[root0]
        hit = pos >= 0
        root[hit] = final[pos[hit]]
        at = np.asarray(merged_at, dtype=np.int64)
        result.scored_merged = list(
            zip(
                ap_rep[ea[at]].tolist(),
                ap_rep[eb[at]].tolist(),
                epl[at].tolist(),
                epr[at].tolist(),
                strict=True,
            )
        )
        result.merges += len(merged_at)
    result.root = root
    return result


def unite_after(result: ClusterResult, pairs: list[tuple[int, int]], first_index: int) -> None:
    """Unite, in ``result.root``, the groups of the records of each pair (links found
    after clustering, e.g. a merchant and the payee of its name), without clustering
    again. ``first_index`` is the position of the first pair in the strong-link list:
    the pairs that united two groups are added to ``result.strong_merged``."""
    if not pairs:
        return
    root = np.array(result.root, dtype=np.int64)  # a copy: the caller's array is not changed
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for i, (a, b) in enumerate(pairs):
        ra, rb = find(int(root[a])), find(int(root[b]))
        if ra == rb:
            continue
        parent[max(ra, rb)] = min(ra, rb)
        result.strong_merged.append(first_index + i)
        result.merges += 1
    if not parent:
        return
    keys = np.array(sorted(parent), dtype=np.int64)
    vals = np.array([find(int(k)) for k in keys], dtype=np.int64)
    idx = np.clip(np.searchsorted(keys, root), 0, len(keys) - 1)
    hit = keys[idx] == root
    root[hit] = vals[idx[hit]]
    result.root = root
