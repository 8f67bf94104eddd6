"""Match two sets of encodings: exact tokens first, then Dice on Bloom filters.

1. **Tokens.** Subjects that carry the same keyed hash of a strong identifier
   match, unless the token is carried by more than ``max_token_subjects``
   subjects on one side (a payout agent's phone, a shared family e-mail), or
   the two subjects' profiles disagree badly (``token_min_dice``).
2. **CLKs.** Two profiles are compared on the fields both have: the CLK of
   that field set on each side (see ``ClkSchema.subsets``). Profiles are
   compared only when they share a block bucket, or all of them when the two
   sides are small; the Dice coefficient ``2|A & B| / (|A| + |B|)`` is a
   vectorised popcount over uint64 words. A comparison that includes a strong
   field (the date of birth) needs ``threshold``; one on the name (and town)
   alone needs ``weak_threshold`` and must be unambiguous: neither subject may
   have a second such candidate.
3. **One-to-one.** Fuzzy pairs are assigned greedily, strong evidence first and
   then by similarity (anonlink's greedy solver), among subjects not already
   matched by a token: two people with similar names on one side cannot both
   take the same person on the other. Token matches are kept as they are.
"""

from __future__ import annotations

import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from anonlink.solving import greedy_solve, pairs_from_groups

from moneytrail.errors import UserError
from moneytrail.share.encodings import EncodedSet

PAIR_CHUNK = 4_000_000


@dataclass(frozen=True)
class MatchSettings:
    threshold: float = 0.85
    """Dice a comparison including a strong field needs. clkhash/anonlink's FEBRL
    figure is at about 0.8; on the synthetic world, where many people share a
    name, 0.8 lets in namesakes born in similar years (docs/sharing.md)."""
    weak_threshold: float = 0.9
    """Dice a comparison of the name (and weak fields) alone needs."""
    strong_mask: int = 0b010
    """Field sets (bit i = field i of the schema) that count as strong evidence;
    the packages' schema sets it (the date of birth in the default schema)."""
    token_min_dice: float = 0.5
    """A token match whose profiles agree less than this is set aside (a phone
    passed between relatives); subjects without comparable profiles are not held to it."""
    max_token_subjects: int = 3
    max_bucket_pairs: int = 5_000_000
    """A bucket that would need more comparisons than this is skipped (and counted)."""
    all_pairs_limit: int = 25_000_000
    """Below this many profile pairs, compare them all instead of blocking."""
    one_to_one: bool = True
    weak_unique: bool = True
    """Drop a name-only candidate when either subject has another one."""


@dataclass(frozen=True)
class Match:
    ours: int
    theirs: int
    similarity: float
    via: str  # "bloom" (strong), "bloom:name" (weak), or token kinds, e.g. "email,phone"


@dataclass
class MatchResult:
    matches: list[Match]
    stats: dict[str, float] = field(default_factory=dict)


def popcounts(clks: np.ndarray) -> np.ndarray:
    return np.bitwise_count(clks).sum(axis=1, dtype=np.int64)


def dice_pairs(a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray,
               pa: np.ndarray | None = None, pb: np.ndarray | None = None) -> np.ndarray:
    """Dice coefficient of rows ``a[ia[k]]`` and ``b[ib[k]]`` for every k."""
    pa = popcounts(a) if pa is None else pa
    pb = popcounts(b) if pb is None else pb
    out = np.empty(len(ia), dtype=np.float64)
    step = 500_000
    for s in range(0, len(ia), step):
        x, y = ia[s : s + step], ib[s : s + step]
        inter = np.bitwise_count(a[x] & b[y]).sum(axis=1, dtype=np.int64)
        denom = pa[x] + pb[y]
        out[s : s + step] = np.divide(2.0 * inter, denom, out=np.zeros(len(x)), where=denom > 0)
    return out


def _all_pairs(ours: EncodedSet, theirs: EncodedSet) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every pair of CLKs of the same field set."""
    groups = (np.intersect1d(ours.clk_mask, theirs.clk_mask).tolist() if ours.subsets and theirs.subsets
              else [None])
    for m in groups:
        ra = np.flatnonzero(ours.clk_mask == m) if m is not None else np.arange(len(ours.clks))
        rb = np.flatnonzero(theirs.clk_mask == m) if m is not None else np.arange(len(theirs.clks))
        if not len(ra) or not len(rb):
            continue
        rows = max(1, PAIR_CHUNK // len(rb))
        for s in range(0, len(ra), rows):
            part = ra[s : s + rows]
            yield np.repeat(part, len(rb)), np.tile(rb, len(part))


def _bucket_pairs(ours: EncodedSet, theirs: EncodedSet, stats: dict[str, float],
                  max_bucket_pairs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """CLK pairs that share a bucket, in chunks; both sides' buckets are cut to
    the coarser side's number of bits (both are powers of two)."""
    mask = (1 << min(ours.block_bits, theirs.block_bits)) - 1
    a_bucket, b_bucket = ours.block_bucket & mask, theirs.block_bucket & mask
    order = np.argsort(b_bucket, kind="stable")
    b_sorted, b_clk = b_bucket[order], theirs.block_clk[order]
    uniq_b, start_b, count_b = np.unique(b_sorted, return_index=True, return_counts=True)
    if len(uniq_b) == 0:
        return
    pos = np.clip(np.searchsorted(uniq_b, a_bucket), 0, len(uniq_b) - 1)
    found = uniq_b[pos] == a_bucket
    a_clk, pos = ours.block_clk[found], pos[found]
    # Skip buckets too large to compare: their pair count is (A entries) x (B entries).
    uniq_pos, inv, count_a = np.unique(pos, return_inverse=True, return_counts=True)
    bucket_pairs = count_a * count_b[uniq_pos]
    big = bucket_pairs > max_bucket_pairs
    stats["buckets_skipped"] = float(big.sum())
    stats["pairs_skipped"] = float(bucket_pairs[big].sum())
    keep = ~big[inv]
    a_clk, pos = a_clk[keep], pos[keep]
    cnt = count_b[pos]
    ends = np.cumsum(cnt)
    s = 0
    while s < len(a_clk):
        base = ends[s - 1] if s else 0
        e = max(int(np.searchsorted(ends, base + PAIR_CHUNK, side="right")), s + 1)
        c = cnt[s:e]
        ia = np.repeat(a_clk[s:e], c)
        offs = np.arange(int(c.sum()), dtype=np.int64) - np.repeat(np.cumsum(c) - c, c)
        ib = b_clk[np.repeat(start_b[pos[s:e]], c) + offs]
        yield ia, ib
        s = e


def _comparable(ours: EncodedSet, theirs: EncodedSet, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """Pairs that compare two profiles on exactly the fields both have (any pair,
    when the CLKs were made without field sets)."""
    if not (ours.subsets and theirs.subsets):
        return np.ones(len(ia), dtype=bool)
    m = ours.clk_mask[ia]
    return (m == theirs.clk_mask[ib]) & (m == (ours.clk_full[ia] & theirs.clk_full[ib]))


def _best(sub_a: np.ndarray, sub_b: np.ndarray, score: np.ndarray,
          n_b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best score of each subject pair."""
    if len(score) == 0:
        e = np.zeros(0, np.int64)
        return e, e, np.zeros(0)
    key = sub_a * n_b + sub_b
    order = np.lexsort((-score, key))
    key, score = key[order], score[order]
    first = np.r_[True, key[1:] != key[:-1]]
    key, score = key[first], score[first]
    return key // n_b, key % n_b, score


def fuzzy_candidates(ours: EncodedSet, theirs: EncodedSet, settings: MatchSettings,
                     stats: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Subject pairs with a comparison above its threshold, scored ``2 * tier + Dice``
    (tier 1 when the compared fields include a strong one, else 0)."""
    if ours.clks.shape[1:] != theirs.clks.shape[1:]:
        raise UserError("the two packages use CLKs of different lengths; agree on one schema")
    n_a, n_b = len(ours.clks), len(theirs.clks)
    pa, pb = popcounts(ours.clks), popcounts(theirs.clks)
    blocked = n_a * n_b > settings.all_pairs_limit
    pairs = (_bucket_pairs(ours, theirs, stats, settings.max_bucket_pairs) if blocked
             else _all_pairs(ours, theirs))
    keep_a: list[np.ndarray] = []
    keep_b: list[np.ndarray] = []
    keep_s: list[np.ndarray] = []
    compared = 0
    for ia_all, ib_all in pairs:
        ok = _comparable(ours, theirs, ia_all, ib_all)
        ia, ib = ia_all[ok], ib_all[ok]
        compared += len(ia)
        sims = dice_pairs(ours.clks, theirs.clks, ia, ib, pa, pb)
        strong = (ours.clk_mask[ia] & theirs.clk_mask[ib] & settings.strong_mask) != 0
        score = tier_scores(sims, strong, settings)
        hit = score >= 0
        keep_a.append(ours.clk_owner[ia[hit]])
        keep_b.append(theirs.clk_owner[ib[hit]])
        keep_s.append(score[hit])
    stats["blocked"] = float(blocked)
    stats["profile_pairs_compared"] = float(compared)
    if not keep_s:
        e = np.zeros(0, np.int64)
        return e, e, np.zeros(0)
    sub_a, sub_b, score = _best(np.concatenate(keep_a), np.concatenate(keep_b),
                                np.concatenate(keep_s), theirs.n_subjects)
    return drop_ambiguous(sub_a, sub_b, score, settings, stats)


def tier_scores(sims: np.ndarray, strong: np.ndarray, settings: MatchSettings) -> np.ndarray:
    """``2 + Dice`` for a strong comparison at or above ``threshold``, ``Dice`` for
    a weak one at or above ``weak_threshold``, -1 for the rest."""
    ok = np.where(strong, sims >= settings.threshold, sims >= settings.weak_threshold)
    return np.where(ok, 2.0 * strong + sims, -1.0)


def drop_ambiguous(sub_a: np.ndarray, sub_b: np.ndarray, score: np.ndarray, settings: MatchSettings,
                   stats: dict[str, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A name-only candidate must be the only one of its subject, on either side."""
    weak = score <= 1.0
    na = Counter(sub_a[weak].tolist())
    nb = Counter(sub_b[weak].tolist())
    many = np.array([na[a] > 1 or nb[b] > 1 for a, b in zip(sub_a.tolist(), sub_b.tolist(), strict=True)],
                    dtype=bool)
    ambiguous = weak & many & settings.weak_unique
    stats["weak_ambiguous"] = float(ambiguous.sum())
    return sub_a[~ambiguous], sub_b[~ambiguous], score[~ambiguous]


def token_pairs(ours: EncodedSet, theirs: EncodedSet, max_subjects: int,
                stats: dict[str, float]) -> dict[tuple[int, int], set[str]]:
    """Subject pairs sharing a token that neither side holds for too many subjects."""
    def index(e: EncodedSet) -> dict[str, tuple[str, set[int]]]:
        out: dict[str, tuple[str, set[int]]] = {}
        for tok, kind, owner in zip(e.tokens, e.token_kind, e.token_owner.tolist(), strict=True):
            out.setdefault(tok, (kind, set()))[1].add(owner)
        return out

    a, b = index(ours), index(theirs)
    pairs: dict[tuple[int, int], set[str]] = defaultdict(set)
    common = a.keys() & b.keys()
    shared = 0
    for tok in common:
        kind, owners_a = a[tok]
        owners_b = b[tok][1]
        if len(owners_a) > max_subjects or len(owners_b) > max_subjects:
            shared += 1
            continue
        for x in owners_a:
            for y in owners_b:
                pairs[(x, y)].add(kind)
    stats["tokens_in_common"] = float(len(common))
    stats["tokens_too_shared"] = float(shared)
    return pairs


def subject_pair_dice(ours: EncodedSet, theirs: EncodedSet,
                      pairs: list[tuple[int, int]]) -> dict[tuple[int, int], float]:
    """Best Dice of comparable profiles of the given subject pairs (absent: none comparable)."""
    def rows(e: EncodedSet) -> dict[int, list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for r, s in enumerate(e.clk_owner.tolist()):
            out[s].append(r)
        return out

    ra, rb = rows(ours), rows(theirs)
    ia: list[int] = []
    ib: list[int] = []
    owner: list[int] = []
    for n, (x, y) in enumerate(pairs):
        for i in ra.get(x, ()):
            for j in rb.get(y, ()):
                ia.append(i)
                ib.append(j)
                owner.append(n)
    best: dict[tuple[int, int], float] = {}
    if ia:
        xa, xb = np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)
        ok = _comparable(ours, theirs, xa, xb)
        sims = dice_pairs(ours.clks, theirs.clks, xa[ok], xb[ok])
        for n, s in zip(np.asarray(owner)[ok].tolist(), sims.tolist(), strict=True):
            p = pairs[n]
            best[p] = max(best.get(p, 0.0), s)
    return best


def greedy_one_to_one(sub_a: np.ndarray, sub_b: np.ndarray, score: np.ndarray) -> list[int]:
    """Indices of the pairs anonlink's greedy solver keeps, best score first."""
    if len(score) == 0:
        return []
    order = np.lexsort((sub_b, sub_a, -score))
    s = array("d")
    s.frombytes(score[order].astype(np.float64).tobytes())
    d0, d1 = array("I", [0]) * len(order), array("I", [1]) * len(order)
    r0, r1 = array("I"), array("I")
    r0.frombytes(sub_a[order].astype(np.uint32).tobytes())
    r1.frombytes(sub_b[order].astype(np.uint32).tobytes())
    chosen = set(pairs_from_groups(greedy_solve((s, (d0, d1), (r0, r1)))))
    return [int(k) for k in order if (int(sub_a[k]), int(sub_b[k])) in chosen]


def assign(sub_a: np.ndarray, sub_b: np.ndarray, score: np.ndarray, settings: MatchSettings,
           taken_a: set[int] | None = None, taken_b: set[int] | None = None) -> list[Match]:
    """Fuzzy matches among subjects not already taken (by a token), one-to-one
    unless told otherwise."""
    taken_a, taken_b = taken_a or set(), taken_b or set()
    free = np.array([a not in taken_a and b not in taken_b
                     for a, b in zip(sub_a.tolist(), sub_b.tolist(), strict=True)], dtype=bool)
    sub_a, sub_b, score = sub_a[free], sub_b[free], score[free]
    keep = greedy_one_to_one(sub_a, sub_b, score) if settings.one_to_one else list(range(len(score)))
    out = []
    for k in keep:
        strong = score[k] > 1.0
        sim = float(score[k] - 2.0) if strong else float(score[k])
        out.append(Match(int(sub_a[k]), int(sub_b[k]), round(sim, 4), "bloom" if strong else "bloom:name"))
    return out


def match(ours: EncodedSet, theirs: EncodedSet, settings: MatchSettings | None = None) -> MatchResult:
    """Which of our subjects match which of theirs, with the similarity and the evidence."""
    settings = settings or MatchSettings()
    t0 = time.perf_counter()
    stats: dict[str, float] = {"ours": float(ours.n_subjects), "theirs": float(theirs.n_subjects)}
    tok = token_pairs(ours, theirs, settings.max_token_subjects, stats)
    tok_dice = subject_pair_dice(ours, theirs, list(tok))
    matches: list[Match] = []
    matched_a: set[int] = set()
    matched_b: set[int] = set()
    set_aside = 0
    for (x, y), kinds in sorted(tok.items()):
        sim = tok_dice.get((x, y))
        if sim is not None and sim < settings.token_min_dice:
            set_aside += 1
            continue
        matches.append(Match(x, y, 1.0 if sim is None else round(sim, 4), ",".join(sorted(kinds))))
        matched_a.add(x)
        matched_b.add(y)
    stats["token_matches"] = float(len(matches))
    stats["token_matches_set_aside"] = float(set_aside)

    sub_a, sub_b, score = fuzzy_candidates(ours, theirs, settings, stats)
    fuzzy = assign(sub_a, sub_b, score, settings, matched_a, matched_b)
    stats["fuzzy_candidates"] = float(len(score))
    stats["fuzzy_matches"] = float(len(fuzzy))
    matches.extend(fuzzy)
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    strength = {"bloom": 1, "bloom:name": 2}
    matches.sort(key=lambda m: (strength.get(m.via, 0), -m.similarity, m.ours, m.theirs))
    return MatchResult(matches, stats)
