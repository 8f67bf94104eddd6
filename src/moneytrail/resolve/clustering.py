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

In incremental runs, groups holding already-resolved records are *frozen*: a
new record joins at most one existing subject and never merges two.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


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
) -> ClusterResult:
    """Cluster records ``1..n_records``.

    ``record_pid[rid]`` is the profile of a record (0 for none); ``scored`` holds
    (pid_l, pid_r, match_weight) at or above the threshold (pid_l == pid_r for a
    profile compared with itself). ``initial[rid]`` pre-unites records (a record
    number of the same group, e.g. the subject's first record); roots of groups in
    ``frozen`` are never merged with each other.
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
    for i, (a, b) in enumerate(zip(strong_l, strong_r, strict=True)):
        ra, rb = find(a), find(b)
        if ra == rb or (is_frozen[ra] and is_frozen[rb]):
            continue
        union(ra, rb)
        result.strong_merged.append(i)
        result.merges += 1

    # 2. scored links between (group, profile) nodes
    ap_index: dict[tuple[int, int], int] = {}
    ap_count: list[int] = []
    ap_rep: list[int] = []
    ap_group: list[int] = []
    pid_aps: dict[int, list[int]] = defaultdict(list)
    for rid in range(1, n):
        pid = record_pid[rid]
        if not pid:
            continue
        key = (find(rid), pid)
        idx = ap_index.get(key)
        if idx is None:
            idx = len(ap_count)
            ap_index[key] = idx
            ap_count.append(0)
            ap_rep.append(rid)
            ap_group.append(key[0])
            pid_aps[pid].append(idx)
        ap_count[idx] += 1

    edges: list[tuple[float, int, int, int, int]] = []
    for pid_l, pid_r, weight in scored:
        aps_l, aps_r = pid_aps.get(pid_l), pid_aps.get(pid_r)
        if not aps_l or not aps_r:
            continue
        if pid_l == pid_r:
            first = aps_l[0]
            edges.extend((weight, first, other, pid_l, pid_r) for other in aps_l[1:])
        else:
            edges.extend(
                (weight, a, b, pid_l, pid_r)
                for a in aps_l
                for b in aps_r
                if ap_group[a] != ap_group[b]
            )
    edges.sort(key=lambda e: (-e[0], e[1], e[2]))

    neighbours: list[list[int]] = [[] for _ in ap_count]
    for _, a, b, _, _ in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    members: dict[int, list[int]] = defaultdict(list)
    for idx, g in enumerate(ap_group):
        members[find(g)].append(idx)

    refused: dict[tuple[int, int], tuple[int, int]] = {}

    def support(small: int, other: int) -> tuple[int, int]:
        """Records of group `small` linking into `other`, and records of `other` reached."""
        linked_small = 0
        reached: set[int] = set()
        for m in members[small]:
            hit = False
            for nb in neighbours[m]:
                if find(ap_group[nb]) == other:
                    hit = True
                    reached.add(nb)
            if hit:
                linked_small += ap_count[m]
        return linked_small, sum(ap_count[x] for x in reached)

    for _, a, b, pid_l, pid_r in edges:
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
        keep = union(ra, rb)
        gone = rb if keep == ra else ra
        members[keep].extend(members.pop(gone, []))
        result.scored_merged.append((ap_rep[a], ap_rep[b], pid_l, pid_r))
        result.merges += 1

    result.root = [find(i) for i in range(n)]
    return result
