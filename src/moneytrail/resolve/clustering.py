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

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
    root: list[int]
    """Group root of every record index (0 is unused)."""
    strong_merged: list[int] = field(default_factory=list)
    """Indexes into the strong edge list of the edges that united two groups."""
    scored_merged: list[tuple[int, int, int, int]] = field(default_factory=list)
    """(rid_l, rid_r, pid_l, pid_r) of the scored links that united two groups."""
    merges: int = 0
    chain_rejections: int = 0
    account_rejections: int = 0


def _components(n: int, strong_l: list[int], strong_r: list[int]) -> np.ndarray:
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


def _strong_merged(n: int, strong_l: list[int], strong_r: list[int]) -> list[int]:
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
    graph = coo_matrix(
        ((idx + 1).astype(np.float64), (lo[idx], hi[idx])), shape=(n, n)
    ).tocsr()
    tree = minimum_spanning_tree(graph).tocoo()
    return sorted((tree.data.astype(np.int64) - 1).tolist())


def cluster(
    n_records: int,
    record_pid: list[int],
    strong_l: list[int],
    strong_r: list[int],
    scored: list[tuple[int, int, float]],
    *,
    chain_large: int,
    chain_min_records: int,
    initial: list[int] | None = None,
    frozen: set[int] | None = None,
    accounts: tuple[list[int], list[int], list[int]] | None = None,
    strong_cache: dict[str, Any] | None = None,
) -> ClusterResult:
    """Cluster records ``1..n_records``.

    ``record_pid[rid]`` is the profile of a record (0 for none); ``scored`` holds
    (pid_l, pid_r, match_weight) at or above the threshold (pid_l == pid_r for a
    profile compared with itself). ``initial[rid]`` pre-unites records (a record
    number of the same group, e.g. the subject's first record); roots of groups in
    ``frozen`` are never merged with each other. ``accounts`` is (rid, key, account)
    as three lists of integers: a record's account of one kind at one provider
    (``key``); scored links do not merge groups whose accounts of one key differ.
    ``strong_cache`` (a dict the caller keeps between passes over the same strong
    links) saves the connected components of the strong links.
    """
    n = n_records + 1
    uf = UnionFind(n)
    size = [1] * n
    is_frozen = [False] * n
    if initial is not None:
        for rid in range(1, n):
            head = initial[rid]
            if head and head != rid:
                uf.parent[rid] = head
        for rid in range(1, n):
            r = uf.find(rid)
            if r != rid:
                size[r] += 1
        for rid in frozen or ():
            is_frozen[uf.find(rid)] = True
    find = uf.find
    parent = uf.parent
    result = ClusterResult(root=[])

    def union(ra: int, rb: int) -> int:
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
        is_frozen[ra] = is_frozen[ra] or is_frozen[rb]
        return ra

    # 1. strong links
    if initial is None and not frozen and len(strong_l) > 0:
        cache_key = (n, len(strong_l))
        if strong_cache is not None and strong_cache.get("key") == cache_key:
            root0, merged = strong_cache["root0"], strong_cache["merged"]
        else:
            root0, merged = _components(n, strong_l, strong_r), _strong_merged(n, strong_l, strong_r)
            if strong_cache is not None:
                strong_cache.update(key=cache_key, root0=root0, merged=merged)
        parent[:] = root0.tolist()
        size = np.bincount(root0, minlength=n).tolist()
        result.strong_merged = list(merged)
        result.merges += len(result.strong_merged)
    else:
        for i, (a, b) in enumerate(zip(strong_l, strong_r, strict=True)):
            ra, rb = find(a), find(b)
            if ra == rb or (is_frozen[ra] and is_frozen[rb]):
                continue
            union(ra, rb)
            result.strong_merged.append(i)
            result.merges += 1
        root0 = np.fromiter((find(i) for i in range(n)), dtype=np.int64, count=n)

    # 2. scored links between (group, profile) nodes ("aps"), numbered in the
    # order of their first record
    pid_arr = np.asarray(record_pid, dtype=np.int64)[:n]
    rids = np.nonzero(pid_arr)[0]
    rids = rids[rids > 0]
    if len(rids) == 0 or not scored:
        result.root = [find(i) for i in range(n)]
        return result
    key_grp, key_pid = root0[rids], pid_arr[rids]
    order = np.lexsort((key_pid, key_grp))
    kg, kp = key_grp[order], key_pid[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (kg[1:] != kg[:-1]) | (kp[1:] != kp[:-1])
    starts = np.nonzero(new)[0]
    ap_count_arr = np.diff(np.append(starts, len(order)))
    ap_rep_arr = np.minimum.reduceat(rids[order], starts)
    renum = np.argsort(ap_rep_arr, kind="stable")
    ap_rep_arr, ap_count_arr = ap_rep_arr[renum], ap_count_arr[renum]
    ap_group_arr, ap_pid_arr = kg[starts][renum], kp[starts][renum]
    ap_count = ap_count_arr.tolist()
    ap_rep = ap_rep_arr.tolist()
    ap_group = ap_group_arr.tolist()

    sc = np.asarray(scored, dtype=np.float64).reshape(-1, 3)
    s_l, s_r, s_w = sc[:, 0].astype(np.int64), sc[:, 1].astype(np.int64), sc[:, 2]
    # aps of each pid, as sorted (pid, ap) arrays
    by_pid = np.lexsort((np.arange(len(ap_pid_arr)), ap_pid_arr))
    sorted_pid = ap_pid_arr[by_pid]

    def expand(pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index into pids, ap) for every ap of every pid."""
        lo = np.searchsorted(sorted_pid, pids, side="left")
        hi = np.searchsorted(sorted_pid, pids, side="right")
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
    # cross product per scored pair
    cnt_l = np.bincount(src_l, minlength=len(dl))
    cnt_r = np.bincount(src_r, minlength=len(dl))
    start_r = np.cumsum(cnt_r) - cnt_r
    rep_l = cnt_r[src_l]
    a_idx = np.repeat(np.arange(len(src_l)), rep_l)
    offs = np.arange(rep_l.sum()) - np.repeat(np.cumsum(rep_l) - rep_l, rep_l)
    b_idx = start_r[src_l[a_idx]] + offs
    pa_, pb_ = ap_l[a_idx], ap_r[b_idx]
    pair = src_l[a_idx]
    del cnt_l
    cross = ap_group_arr[pa_] != ap_group_arr[pb_]
    e_w.append(dw[pair][cross])
    e_a.append(pa_[cross])
    e_b.append(pb_[cross])
    e_pl.append(dl[pair][cross])
    e_pr.append(dr[pair][cross])
    ew, ea, eb = np.concatenate(e_w), np.concatenate(e_a), np.concatenate(e_b)
    epl, epr = np.concatenate(e_pl), np.concatenate(e_pr)
    order = np.lexsort((eb, ea, -ew))
    ea, eb, epl, epr = ea[order], eb[order], epl[order], epr[order]

    # neighbours of every ap (CSR), for the chaining guard's support count
    both = np.concatenate([ea, eb])
    other = np.concatenate([eb, ea])
    nb_order = np.argsort(both, kind="stable")
    nb_ptr = np.searchsorted(both[nb_order], np.arange(len(ap_count) + 1))
    nb_list = other[nb_order].tolist()
    nb_ptr_l = nb_ptr.tolist()
    members: dict[int, list[int]] = defaultdict(list)
    for idx, g in enumerate(ap_group):
        members[g].append(idx)

    refused: dict[tuple[int, int], tuple[int, int]] = {}
    # group root -> {account key: set of accounts}, for the account guard
    held: dict[int, dict[int, set[int]]] = {}
    if accounts is not None and len(accounts[0]) and len(ea):
        # only the groups a scored edge touches can be merged: their accounts
        touched = np.unique(np.concatenate([ap_group_arr[ea], ap_group_arr[eb]]))
        acc = np.asarray(accounts, dtype=np.int64)
        acc_root = root0[acc[0]]
        keep_rows = np.isin(acc_root, touched)
        rows = np.unique(np.stack([acc_root[keep_rows], acc[1][keep_rows], acc[2][keep_rows]], axis=1), axis=0)
        for grp, akey, acct in rows.tolist():
            held.setdefault(grp, {}).setdefault(akey, set()).add(acct)

    def accounts_differ(ra: int, rb: int) -> bool:
        ha, hb = held.get(ra), held.get(rb)
        if not ha or not hb:
            return False
        if len(ha) > len(hb):
            ha, hb = hb, ha
        return any(k in hb and hb[k].isdisjoint(v) for k, v in ha.items())

    def support(small: int, other: int) -> tuple[int, int]:
        """Records of group `small` linking into `other`, and records of `other` reached."""
        linked_small = 0
        reached: set[int] = set()
        for m in members[small]:
            hit = False
            for nb in nb_list[nb_ptr_l[m] : nb_ptr_l[m + 1]]:
                if find(ap_group[nb]) == other:
                    hit = True
                    reached.add(nb)
            if hit:
                linked_small += ap_count[m]
        return linked_small, sum(ap_count[x] for x in reached)

    for a, b, pid_l, pid_r in zip(ea.tolist(), eb.tolist(), epl.tolist(), epr.tolist(), strict=True):
        ra, rb = find(ap_group[a]), find(ap_group[b])
        if ra == rb or (is_frozen[ra] and is_frozen[rb]):
            continue
        if min(size[ra], size[rb]) >= chain_large:
            key = (min(ra, rb), max(ra, rb))
            if refused.get(key) == (size[ra], size[rb]):
                continue
            small, big = (ra, rb) if len(members[ra]) <= len(members[rb]) else (rb, ra)
            s_small, s_big = support(small, big)
            if s_small < chain_min_records or s_big < chain_min_records:
                refused[key] = (size[ra], size[rb])
                result.chain_rejections += 1
                continue
        if held and accounts_differ(ra, rb):
            result.account_rejections += 1
            continue
        keep = union(ra, rb)
        gone = rb if keep == ra else ra
        members[keep].extend(members.pop(gone, []))
        if gone in held:
            mine = held.setdefault(keep, {})
            for k, v in held.pop(gone).items():
                mine.setdefault(k, set()).update(v)
        result.scored_merged.append((ap_rep[a], ap_rep[b], pid_l, pid_r))
        result.merges += 1

    result.root = [find(i) for i in range(n)]
    return result


def unite_after(result: ClusterResult, pairs: list[tuple[int, int]], first_index: int) -> None:
    """Unite, in ``result.root``, the groups of the records of each pair (links found
    after clustering, e.g. a merchant and the payee of its name), without clustering
    again. ``first_index`` is the position of the first pair in the strong-link list:
    the pairs that united two groups are added to ``result.strong_merged``."""
    if not pairs:
        return
    root = np.asarray(result.root, dtype=np.int64)
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
    result.root = root.tolist()
