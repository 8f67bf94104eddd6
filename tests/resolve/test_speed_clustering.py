"""The clustering's fast path (a union-find over only the groups the scored links touch,
cached strong-link nodes, arrays in place of tuples) gives exactly what the plain
record-level union-find gives: the same roots, merges and rejections."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from moneytrail.resolve.clustering import ScoredLinks, _roots, cluster


def reference_cluster(
    n_records: int,
    record_pid: Sequence[int],
    strong_l: Sequence[int],
    strong_r: Sequence[int],
    scored: Sequence[tuple[int, int, float]],
    *,
    chain_large: int,
    chain_min_records: int,
    initial: Sequence[int] | None = None,
    frozen: set[int] | None = None,
    accounts: tuple[Sequence[int], Sequence[int], Sequence[int]] | None = None,
) -> dict[str, Any]:
    """The clustering's semantics, written plainly: one union-find over every record."""
    n = n_records + 1
    parent = list(range(n))
    size = [1] * n
    is_frozen = [False] * n

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    def union(ra: int, rb: int) -> int:
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
        is_frozen[ra] = is_frozen[ra] or is_frozen[rb]
        return ra

    strong_merged: list[int] = []
    if initial is None and not frozen:
        # a full run: a group's root is its smallest record; an edge merges when it
        # joins two groups of the edges before it
        for i, (a, b) in enumerate(zip(strong_l, strong_r, strict=True)):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
                strong_merged.append(i)
        for r in range(n):
            size[r] = 0
        for rid in range(n):
            size[find(rid)] += 1
    else:
        if initial is not None:
            for rid in range(1, n):
                if initial[rid] and initial[rid] != rid:
                    parent[rid] = initial[rid]
            for rid in range(1, n):
                if find(rid) != rid:
                    size[find(rid)] += 1
            for rid in frozen or ():
                is_frozen[find(rid)] = True
        for i, (a, b) in enumerate(zip(strong_l, strong_r, strict=True)):
            ra, rb = find(a), find(b)
            if ra == rb or (is_frozen[ra] and is_frozen[rb]):
                continue
            union(ra, rb)
            strong_merged.append(i)
    root0 = [find(i) for i in range(n)]
    # nodes: (group, profile), numbered by their first record
    first: dict[tuple[int, int], int] = {}
    count: dict[tuple[int, int], int] = {}
    for rid in range(1, n):
        if record_pid[rid]:
            key = (root0[rid], record_pid[rid])
            first.setdefault(key, rid)
            count[key] = count.get(key, 0) + 1
    keys = sorted(first, key=lambda k: first[k])
    ap_group = [k[0] for k in keys]
    ap_rep = [first[k] for k in keys]
    ap_count = [count[k] for k in keys]
    aps_of: dict[int, list[int]] = {}
    for i, k in enumerate(keys):
        aps_of.setdefault(k[1], []).append(i)
    edges: list[tuple[float, int, int, int, int]] = []
    for pl, pr, w in scored:
        if pl == pr:
            aps = aps_of.get(pl, [])
            edges += [(-w, aps[0], b, pl, pl) for b in aps[1:]]
        else:
            for a in aps_of.get(pl, []):
                for b in aps_of.get(pr, []):
                    if ap_group[a] != ap_group[b]:
                        edges.append((-w, a, b, pl, pr))
    edges.sort(key=lambda e: (e[0], e[1], e[2]))
    neighbours: dict[int, list[int]] = {}
    for _, a, b, _, _ in edges:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    held: dict[int, dict[int, set[int]]] = {}
    for rid, akey, acct in zip(*(accounts or ([], [], [])), strict=True):
        held.setdefault(root0[rid], {}).setdefault(akey, set()).add(acct)

    out: dict[str, Any] = {
        "strong_merged": strong_merged,
        "scored_merged": [],
        "chain": 0,
        "account": 0,
    }
    refused: dict[tuple[int, int], tuple[int, int]] = {}
    for _, a, b, pl, pr in edges:
        ra, rb = find(ap_group[a]), find(ap_group[b])
        if ra == rb or (is_frozen[ra] and is_frozen[rb]):
            continue
        if min(size[ra], size[rb]) >= chain_large:
            key = (min(ra, rb), max(ra, rb))
            if refused.get(key) == (size[ra], size[rb]):
                continue
            linked_a = sum(
                ap_count[m]
                for m in range(len(keys))
                if find(ap_group[m]) == ra
                and any(find(ap_group[x]) == rb for x in neighbours.get(m, []))
            )
            linked_b = sum(
                ap_count[m]
                for m in range(len(keys))
                if find(ap_group[m]) == rb
                and any(find(ap_group[x]) == ra for x in neighbours.get(m, []))
            )
            if linked_a < chain_min_records or linked_b < chain_min_records:
                refused[key] = (size[ra], size[rb])
                out["chain"] += 1
                continue
        ha, hb = held.get(ra, {}), held.get(rb, {})
        if any(k in hb and hb[k].isdisjoint(v) for k, v in ha.items()):
            out["account"] += 1
            continue
        keep = union(ra, rb)
        gone = rb if keep == ra else ra
        for akey, accts in held.pop(gone, {}).items():
            held.setdefault(keep, {}).setdefault(akey, set()).update(accts)
        out["scored_merged"].append((ap_rep[a], ap_rep[b], pl, pr))
    out["root"] = [find(i) for i in range(n)]
    return out


def _same(got: Any, want: dict[str, Any]) -> None:
    assert isinstance(got.root, np.ndarray)
    assert got.root.tolist() == want["root"]
    assert got.strong_merged == want["strong_merged"]
    assert got.scored_merged == want["scored_merged"]
    assert got.chain_rejections == want["chain"]
    assert got.account_rejections == want["account"]
    assert got.merges == len(want["strong_merged"]) + len(want["scored_merged"])


def _world(seed: int) -> dict[str, Any]:
    """A small random world: records sharing profiles, strong links, scored profile
    pairs with tied weights, and accounts of two kinds."""
    rng = random.Random(seed)
    n = rng.randint(5, 60)
    n_pids = rng.randint(1, max(1, n // 2))
    pids = [0] + [rng.randint(0, n_pids) for _ in range(n)]
    strong = [(rng.randint(1, n), rng.randint(1, n)) for _ in range(rng.randint(0, n))]
    scored = sorted(
        {
            (rng.randint(1, n_pids), rng.randint(1, n_pids)): float(rng.choice([5, 8, 8, 12, 20]))
            for _ in range(n)
        }.items()
    )
    acc_rows = [
        (rid, rng.randint(1, 2), rng.randint(1, 6)) for rid in range(1, n + 1) if rng.random() < 0.4
    ]
    return {
        "n_records": n,
        "record_pid": pids,
        "strong_l": [a for a, _ in strong],
        "strong_r": [b for _, b in strong],
        "scored": [(a, b, w) for (a, b), w in scored],
        "accounts": tuple(list(c) for c in zip(*acc_rows, strict=True))
        if acc_rows
        else ([], [], []),
        "chain_large": rng.choice([2, 3, 4, 100]),
        "chain_min_records": rng.choice([1, 2, 3]),
    }


@pytest.mark.parametrize("seed", range(300))
def test_fast_clustering_equals_the_record_level_union_find(seed: int) -> None:
    w = _world(seed)
    _same(cluster(**w), reference_cluster(**w))


def _crowded_world(seed: int) -> dict[str, Any]:
    """A larger world with few profiles, so a (group, profile) node holds several records
    (the walk's shortcut for links whose two nodes alone give the guard its support), hub
    nodes with many links (its early stop), and accounts clashing in some connected sets
    of links only (the accounts it leaves out)."""
    rng = random.Random(seed)
    n = rng.randint(40, 160)
    n_pids = rng.randint(2, max(3, n // rng.choice([3, 8])))
    pids = [0] + [rng.randint(0, n_pids) for _ in range(n)]
    strong = [(rng.randint(1, n), rng.randint(1, n)) for _ in range(rng.randint(n // 4, n))]
    scored = sorted(
        {
            (rng.randint(1, n_pids), rng.randint(1, n_pids)): float(rng.choice([5, 8, 8, 12, 20]))
            for _ in range(rng.randint(max(1, n_pids // 2), 3 * n_pids))
        }.items()
    )
    acc_rows = [
        (rid, rng.randint(1, 3), rng.randint(1, rng.choice([3, 40])))
        for rid in range(1, n + 1)
        if rng.random() < rng.choice([0.05, 0.15])
    ]
    return {
        "n_records": n,
        "record_pid": pids,
        "strong_l": [a for a, _ in strong],
        "strong_r": [b for _, b in strong],
        "scored": [(a, b, w) for (a, b), w in scored],
        "accounts": tuple(list(c) for c in zip(*acc_rows, strict=True))
        if acc_rows
        else ([], [], []),
        "chain_large": rng.choice([2, 3, 4, 8]),
        "chain_min_records": rng.choice([1, 2, 3, 4]),
    }


@pytest.mark.parametrize("seed", range(150))
def test_fast_clustering_equals_the_reference_on_crowded_worlds(seed: int) -> None:
    w = _crowded_world(seed)
    _same(cluster(**w), reference_cluster(**w))


@pytest.mark.parametrize("seed", range(100))
def test_fast_incremental_clustering_equals_the_reference(seed: int) -> None:
    w = _world(seed)
    rng = random.Random(seed + 1000)
    n = w["n_records"]
    old = rng.randint(1, n)  # records 1..old were resolved before, into a few subjects
    heads = [0] * (n + 1)
    for rid in range(1, old + 1):
        heads[rid] = rng.randint(1, rid)
    for rid in range(1, old + 1):
        while heads[heads[rid]] != heads[rid]:
            heads[rid] = heads[heads[rid]]
    frozen = {rid for rid in range(1, old + 1)}
    _same(
        cluster(**w, initial=heads, frozen=frozen),
        reference_cluster(**w, initial=heads, frozen=frozen),
    )


def test_scored_links_as_arrays_cluster_as_tuples() -> None:
    w = _world(7)
    sc = w.pop("scored")
    arrays = ScoredLinks(
        np.array([s[0] for s in sc]),
        np.array([s[1] for s in sc]),
        np.array([s[2] for s in sc], dtype=float),
    )
    a, b = cluster(**w, scored=sc), cluster(**w, scored=arrays)
    assert (a.root.tolist(), a.scored_merged, a.merges) == (b.root.tolist(), b.scored_merged, b.merges)


def test_cache_is_reused_between_passes_and_renewed_for_other_links() -> None:
    w = _world(11)
    cache: dict[str, Any] = {}
    first = cluster(**w, strong_cache=cache)
    nodes = cache["nodes"]
    again = cluster(**w, strong_cache=cache)
    assert cache["nodes"] is nodes
    assert again.root.tolist() == first.root.tolist()
    assert again.root is not first.root  # the cached strong-link roots are not handed out
    w["strong_l"], w["strong_r"] = [*w["strong_l"], 1], [*w["strong_r"], 2]
    changed = cluster(**w, strong_cache=cache)
    assert cache["nodes"] is not nodes
    _same(changed, reference_cluster(**w))


def test_account_guard_holds_after_a_merge() -> None:
    """Records 1 and 2 hold cards 1 and 2 of one issuer (key 1); 3 has no card. The
    strongest link unites 1 and 3; the group then holds card 1, so 3's link to 2 is
    refused although 3 alone holds nothing."""
    w: dict[str, Any] = {
        "n_records": 3,
        "record_pid": [0, 1, 2, 3],
        "strong_l": [],
        "strong_r": [],
        "scored": [(1, 3, 20.0), (2, 3, 15.0)],
        "accounts": ([1, 2], [1, 1], [1, 2]),
        "chain_large": 100,
        "chain_min_records": 2,
    }
    res = cluster(**w)
    assert res.root[1] == res.root[3] != res.root[2]
    assert res.account_rejections == 1
    _same(res, reference_cluster(**w))


def test_chaining_guard_reconsiders_grown_groups() -> None:
    """Two strong groups of three (1-3, 4-6) and a single bridge (3-4) are refused;
    once another link grows a group, the pair is tested again and two links across
    then suffice."""
    w: dict[str, Any] = {
        "n_records": 7,
        "record_pid": [0, 1, 2, 3, 4, 5, 6, 7],
        "strong_l": [1, 1, 4, 4],
        "strong_r": [2, 3, 5, 6],
        "scored": [(3, 4, 20.0), (6, 7, 18.0), (2, 7, 16.0), (3, 5, 10.0)],
        "accounts": None,
        "chain_large": 3,
        "chain_min_records": 2,
    }
    res = cluster(**w)
    assert res.chain_rejections >= 1
    _same(res, reference_cluster(**w))


def test_roots_by_pointer_jumping() -> None:
    parent = np.array([0, 0, 1, 2, 4, 4, 5, 3])
    assert _roots(parent).tolist() == [0, 0, 0, 0, 4, 4, 4, 0]


def test_accounts_left_out_only_where_no_set_of_links_holds_two_of_a_kind() -> None:
    """Groups 0-1 are linked and hold cards 7 and 8 of one issuer (key 1): kept. Groups
    2-3 are linked and hold card 9 and a wallet (keys 1 and 2): no two of one key, left
    out. Group 4 holds card 5 and meets group 0 through no link: left out too."""
    from moneytrail.resolve.clustering import _clashing_accounts

    g = np.array([0, 1, 2, 3, 4])
    k = np.array([1, 1, 1, 2, 1])
    a = np.array([7, 8, 9, 3, 5])
    kept = _clashing_accounts(g, k, a, 5, np.array([0, 2]), np.array([1, 3]))
    assert [x.tolist() for x in kept] == [[0, 1], [1, 1], [7, 8]]
    w: dict[str, Any] = {
        "n_records": 5,
        "record_pid": [0, 1, 2, 3, 4, 5],
        "strong_l": [],
        "strong_r": [],
        "scored": [(1, 2, 20.0), (3, 4, 15.0), (2, 5, 9.0)],
        "accounts": ([1, 2, 3, 4, 5], [1, 1, 1, 2, 1], [7, 8, 9, 3, 5]),
        "chain_large": 100,
        "chain_min_records": 2,
    }
    res = cluster(**w)
    assert res.account_rejections == 2  # 1-2 (cards 7, 8) and 2-5 (8, 5)
    assert res.root[3] == res.root[4]
    _same(res, reference_cluster(**w))
