"""Match two sets of encodings: exact tokens first, then Dice on Bloom filters.

1. **Tokens.** Subjects that carry the same keyed hash of a strong identifier
   match, unless the token is carried by more than ``max_token_subjects``
   subjects on one side (a payout agent's phone, a shared family e-mail), or
   the two subjects' names disagree (``token_min_dice``).
2. **CLKs.** Two profiles are compared on the fields both have: the CLK of
   that field set on each side (see ``ClkSchema.subsets``). Profiles are
   compared only when they share a block bucket, or all of them when the two
   sides are small; the Dice coefficient ``2|A & B| / (|A| + |B|)`` is a
   vectorised popcount over uint64 words. The threshold depends on the evidence:
   a comparison that includes a strong field (the date of birth) needs
   ``threshold``; one on the name (town, country) alone needs ``weak_threshold``,
   or, for a name that is nearly a part of the other ("linda adams" and "linda
   margaret adams"), ``part_threshold`` containment; and a name-only candidate
   must stand out: no rival of either subject within ``weak_margin``, and no
   disagreeing phone (``conflict_kinds``). A rival that would match the
   subject's own candidate, were they on opposite sides, is a *fragment* of the
   same person (one person the resolver left in several subjects) and no rival.
3. **One-to-one.** Fuzzy pairs are assigned greedily, strong evidence first and
   then by similarity (anonlink's greedy solver), among subjects not already
   matched by a token: two people with similar names on one side cannot both
   take the same person on the other. Then a fragment left out because its
   counterpart went to another fragment of the same person matches it too.
   Token matches are kept as they are.
"""

from __future__ import annotations

import time
from array import array
from collections import defaultdict
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
    token_min_dice: float = 0.45
    """A token match whose names agree less than this (Dice of the name's own CLKs)
    is set aside: an e-mail handle two strangers happen to share, a phone passed
    between relatives. Subjects without comparable names are not held to it."""
    max_token_subjects: int = 3
    max_bucket_pairs: int = 5_000_000
    """A bucket that would need more comparisons than this is skipped (and counted)."""
    all_pairs_limit: int = 25_000_000
    """Below this many profile pairs, compare them all instead of blocking."""
    one_to_one: bool = True
    weak_unique: bool = True
    """Drop a name-only candidate when either subject has a rival (see ``weak_margin``)."""
    weak_margin: float = 0.05
    """A name-only candidate needs every rival name-only candidate of either subject
    to be at least this much less similar; 1.0 or more: no rival at all above
    ``weak_threshold``."""
    conflict_kinds: tuple[str, ...] = ("phone",)
    """A fuzzy candidate is dropped when both subjects carry identifiers of one of
    these kinds and share none of them: two men of one name with different phones."""
    conflict_strong: bool = False
    """Apply ``conflict_kinds`` to candidates with a date of birth too (else to
    name-only candidates alone)."""
    part_threshold: float = 0.9
    """A name-only comparison under ``weak_threshold`` is still a candidate when one
    filter's bits are nearly all in the other's (containment ``|A & B| / min(|A|, |B|)``
    at least this: "Linda Adams" in "Linda Margaret Adams") and its Dice is at least
    ``part_min_dice``; above 1, never. Reported as ``bloom:part``. A candidate whose
    name holds all of a subject's is then also a full-strength rival of that
    subject's other candidates (:func:`rival_strength`)."""
    part_min_dice: float = 0.7
    exact_dice: float = 0.999
    """A name-only candidate whose filters agree at least this much (the same name,
    and town and country where both have them) is not blocked by a rival whose name
    merely holds the subject's: their "Michael Collins" against our "Michael
    Collins" and our "Michael Dennis Collins" is a match (an exact namesake still
    blocks it, and so does a rival within ``weak_margin`` by Dice). Above 1:
    containment rivals block every candidate."""
    fragments: bool = True
    """Subjects of one side that compete for the same subject of the other, and would
    match each other were they on opposite sides (their name, and the date, town and
    country both hold: :func:`same_person_pairs`), are taken for fragments of one
    person that the resolver left apart: they are no rivals of each other, and each
    of them may match that subject (:func:`assign`)."""
    fragment_conflict_kinds: tuple[str, ...] = ("phone", "card", "account", "iban", "id_doc")
    """Two subjects of one side that both carry identifiers of one of these kinds and
    share none are not fragments of one person: on the synthetic world, two card
    holders with different cards, or two wallet users with different accounts, of
    one name are namesakes (never one person, for the card)."""
    taken_are_no_rivals: bool = False
    """Subjects an identifier has matched take no part in the fuzzy stage, as rivals
    neither: "Maria Santos" of theirs, whose phone is one of our two Maria Santos',
    leaves the other as the only candidate for their second Maria Santos. Off:
    on the synthetic world it gains 0.01 in recall and loses 0.002 in precision,
    and an analyst who sees the rival in clear refuses more (docs/sharing.md)."""


@dataclass(frozen=True)
class Match:
    ours: int
    theirs: int
    similarity: float
    via: str  # "bloom" (strong), "bloom:name", "bloom:part" (weak), or token kinds, e.g. "email,phone"


@dataclass
class MatchResult:
    matches: list[Match]
    stats: dict[str, float] = field(default_factory=dict)


def popcounts(clks: np.ndarray) -> np.ndarray:
    return np.bitwise_count(clks).sum(axis=1, dtype=np.int64)


def dice_pairs(a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray,
               pa: np.ndarray | None = None, pb: np.ndarray | None = None) -> np.ndarray:
    """Dice coefficient of rows ``a[ia[k]]`` and ``b[ib[k]]`` for every k."""
    return dice_and_containment(a, b, ia, ib, pa, pb)[0]


def dice_and_containment(a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray,
                         pa: np.ndarray | None = None,
                         pb: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dice ``2|A & B| / (|A| + |B|)`` and the containments ``|A & B| / |A|`` (how much
    of A is in B) and ``|A & B| / |B|`` of rows ``a[ia[k]]`` and ``b[ib[k]]`` for every k."""
    pa = popcounts(a) if pa is None else pa
    pb = popcounts(b) if pb is None else pb
    dice = np.empty(len(ia), dtype=np.float64)
    in_b = np.empty(len(ia), dtype=np.float64)
    in_a = np.empty(len(ia), dtype=np.float64)
    step = 500_000
    for s in range(0, len(ia), step):
        x, y = ia[s : s + step], ib[s : s + step]
        inter = np.bitwise_count(a[x] & b[y]).sum(axis=1, dtype=np.int64)
        denom = pa[x] + pb[y]
        dice[s : s + step] = np.divide(2.0 * inter, denom, out=np.zeros(len(x)), where=denom > 0)
        in_b[s : s + step] = np.divide(inter, pa[x], out=np.zeros(len(x)), where=pa[x] > 0)
        in_a[s : s + step] = np.divide(inter, pb[y], out=np.zeros(len(x)), where=pb[y] > 0)
    return dice, in_b, in_a


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
    the coarser side's number of bits (both are powers of two). With field sets,
    only groups of CLKs that can be comparable are joined (field set ``m`` of a
    profile with fields ``fa`` against ``m`` of one with ``fb``, where
    ``fa & fb == m``): most bucket-mates of other groups would be thrown away."""
    mask = (1 << min(ours.block_bits, theirs.block_bits)) - 1
    a_bucket, b_bucket = ours.block_bucket & mask, theirs.block_bucket & mask
    stats["buckets_skipped"] = stats["pairs_skipped"] = 0.0
    if not (ours.subsets and theirs.subsets):
        yield from _bucket_join(ours.block_clk, a_bucket, theirs.block_clk, b_bucket, stats, max_bucket_pairs)
        return
    ga = (ours.clk_mask[ours.block_clk] << 32) | ours.clk_full[ours.block_clk]
    gb = (theirs.clk_mask[theirs.block_clk] << 32) | theirs.clk_full[theirs.block_clk]
    for key_a in np.unique(ga).tolist():
        m, fa = key_a >> 32, key_a & 0xFFFFFFFF
        sel_a = ga == key_a
        for key_b in np.unique(gb[gb >> 32 == m]).tolist():
            if fa & key_b & 0xFFFFFFFF != m:
                continue
            sel_b = gb == key_b
            yield from _bucket_join(ours.block_clk[sel_a], a_bucket[sel_a], theirs.block_clk[sel_b], b_bucket[sel_b],
                                    stats, max_bucket_pairs)


def _bucket_join(a_block_clk: np.ndarray, a_bucket: np.ndarray, b_block_clk: np.ndarray, b_bucket: np.ndarray,
                 stats: dict[str, float], max_bucket_pairs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every (A CLK, B CLK) pair whose block entries share a bucket, in chunks."""
    order = np.argsort(b_bucket, kind="stable")
    b_sorted, b_clk = b_bucket[order], b_block_clk[order]
    uniq_b, start_b, count_b = np.unique(b_sorted, return_index=True, return_counts=True)
    if len(uniq_b) == 0 or len(a_bucket) == 0:
        return
    pos = np.clip(np.searchsorted(uniq_b, a_bucket), 0, len(uniq_b) - 1)
    found = uniq_b[pos] == a_bucket
    a_clk, pos = a_block_clk[found], pos[found]
    # Skip buckets too large to compare: their pair count is (A entries) x (B entries).
    uniq_pos, inv, count_a = np.unique(pos, return_inverse=True, return_counts=True)
    bucket_pairs = count_a * count_b[uniq_pos]
    big = bucket_pairs > max_bucket_pairs
    stats["buckets_skipped"] += float(big.sum())
    stats["pairs_skipped"] += float(bucket_pairs[big].sum())
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


def _best(sub_a: np.ndarray, sub_b: np.ndarray, score: np.ndarray, strength_a: np.ndarray,
          strength_b: np.ndarray, n_b: int) -> tuple[np.ndarray, ...]:
    """The best score, and the greatest rival strengths, of each subject pair."""
    if len(score) == 0:
        e = np.zeros(0, np.int64)
        return e, e, np.zeros(0), np.zeros(0), np.zeros(0)
    key = sub_a * n_b + sub_b
    order = np.lexsort((-score, key))
    key, score = key[order], score[order]
    first = np.r_[True, key[1:] != key[:-1]]
    starts = np.flatnonzero(first)
    strength_a = np.maximum.reduceat(strength_a[order], starts)
    strength_b = np.maximum.reduceat(strength_b[order], starts)
    key, score = key[first], score[first]
    return key // n_b, key % n_b, score, strength_a, strength_b


def fuzzy_candidates(ours: EncodedSet, theirs: EncodedSet, settings: MatchSettings,
                     stats: dict[str, float], taken_a: set[int] | None = None,
                     taken_b: set[int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Subject pairs with a comparison above its threshold, scored as
    :func:`tier_scores` says, name-only ones kept only where they stand out."""
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
    keep_ra: list[np.ndarray] = []
    keep_rb: list[np.ndarray] = []
    compared = 0
    for ia_all, ib_all in pairs:
        ok = _comparable(ours, theirs, ia_all, ib_all)
        ia, ib = ia_all[ok], ib_all[ok]
        compared += len(ia)
        sims, a_in_b, b_in_a = dice_and_containment(ours.clks, theirs.clks, ia, ib, pa, pb)
        strong = (ours.clk_mask[ia] & theirs.clk_mask[ib] & settings.strong_mask) != 0
        score = tier_scores(sims, strong, settings, np.maximum(a_in_b, b_in_a))
        hit = score > NO_MATCH
        keep_a.append(ours.clk_owner[ia[hit]])
        keep_b.append(theirs.clk_owner[ib[hit]])
        keep_s.append(score[hit])
        keep_ra.append(rival_strength(sims[hit], a_in_b[hit], settings))
        keep_rb.append(rival_strength(sims[hit], b_in_a[hit], settings))
    stats["blocked"] = float(blocked)
    stats["profile_pairs_compared"] = float(compared)
    if not keep_s:
        e = np.zeros(0, np.int64)
        return e, e, np.zeros(0)
    sub_a, sub_b, score, strength_a, strength_b = _best(
        np.concatenate(keep_a), np.concatenate(keep_b), np.concatenate(keep_s),
        np.concatenate(keep_ra), np.concatenate(keep_rb), theirs.n_subjects)
    ok = ~conflicting(ours, theirs, sub_a, sub_b, score, settings, stats)
    if settings.taken_are_no_rivals and (taken_a or taken_b):
        ok &= ~np.isin(sub_a, np.fromiter(taken_a or (), dtype=np.int64))
        ok &= ~np.isin(sub_b, np.fromiter(taken_b or (), dtype=np.int64))
    return drop_ambiguous(sub_a[ok], sub_b[ok], score[ok], settings, stats, (strength_a[ok], strength_b[ok]),
                          (ours, theirs) if settings.fragments else None)


def _tokens_by_kind(e: EncodedSet, kinds: tuple[str, ...]) -> dict[tuple[int, str], set[str]]:
    out: dict[tuple[int, str], set[str]] = defaultdict(set)
    for tok, kind, owner in zip(e.tokens, e.token_kind, e.token_owner.tolist(), strict=True):
        if kind in kinds:
            out[(owner, kind)].add(tok)
    return out


def conflicting(ours: EncodedSet, theirs: EncodedSet, sub_a: np.ndarray, sub_b: np.ndarray,
                score: np.ndarray, settings: MatchSettings, stats: dict[str, float]) -> np.ndarray:
    """Fuzzy candidates whose identifiers of a ``conflict_kinds`` kind disagree: both
    subjects carry such a token, and none is shared."""
    if not (settings.conflict_kinds and len(score) and set(settings.conflict_kinds) & set(ours.token_kind)
            and set(settings.conflict_kinds) & set(theirs.token_kind)):
        stats["fuzzy_conflicting"] = 0.0
        return np.zeros(len(score), dtype=bool)
    ta, tb = _tokens_by_kind(ours, settings.conflict_kinds), _tokens_by_kind(theirs, settings.conflict_kinds)
    check = np.ones(len(score), dtype=bool) if settings.conflict_strong else score <= 1.0
    bad = np.zeros(len(score), dtype=bool)
    for k in np.flatnonzero(check).tolist():
        a, b = int(sub_a[k]), int(sub_b[k])
        for kind in settings.conflict_kinds:
            x, y = ta.get((a, kind)), tb.get((b, kind))
            if x and y and not x & y:
                bad[k] = True
                break
    stats["fuzzy_conflicting"] = float(bad.sum())
    return bad


NO_MATCH = -100.0
RIVAL = -10.0
"""Offset of a name-only comparison kept only as a rival to others (see :func:`tier_scores`)."""


def tier_scores(sims: np.ndarray, strong: np.ndarray, settings: MatchSettings,
                part: np.ndarray | None = None) -> np.ndarray:
    """``2 + Dice`` for a strong comparison at or above ``threshold``; ``Dice`` for a
    weak one at or above ``weak_threshold`` (or, with ``part``, containing the other
    as ``part_threshold`` says); ``Dice - 10`` for a weak one that is not, but comes
    close enough to be a rival of others, or one name inside the other
    (:func:`drop_ambiguous`); ``NO_MATCH`` else."""
    weak_ok = sims >= settings.weak_threshold
    rival = sims >= weak_floor(settings)
    if part is not None and settings.part_threshold <= 1.0:
        inside = part >= settings.part_threshold
        weak_ok |= inside & (sims >= settings.part_min_dice)
        rival |= inside
    return np.where(strong, np.where(sims >= settings.threshold, 2.0 + sims, NO_MATCH),
                    np.where(weak_ok, sims, np.where(rival, sims + RIVAL, NO_MATCH)))


def weak_floor(settings: MatchSettings) -> float:
    """The lowest name-only similarity kept as a rival: ``weak_margin`` under the
    lowest name-only similarity that can match."""
    lowest = settings.weak_threshold
    if settings.part_threshold <= 1.0:
        lowest = min(lowest, settings.part_min_dice)
    margin = settings.weak_margin if settings.weak_unique and settings.weak_margin < 1.0 else 0.0
    return lowest - margin


def rival_strength(sims: np.ndarray, inside: np.ndarray | None, settings: MatchSettings) -> np.ndarray:
    """How strongly a candidate competes with the other candidates of one subject:
    its Dice, or 1 when that subject's name is inside the candidate's
    (``inside`` at least :attr:`MatchSettings.part_threshold`): "Linda Adams" has two
    candidates if the other side holds both "Linda Adams" and "Linda Margaret
    Adams"; "L Adams" on the other side is no rival of hers."""
    if inside is None or settings.part_threshold > 1.0:
        return sims
    return np.where(inside >= settings.part_threshold, 1.0, sims)


def drop_ambiguous(sub_a: np.ndarray, sub_b: np.ndarray, score: np.ndarray, settings: MatchSettings,
                   stats: dict[str, float], strength: tuple[np.ndarray, np.ndarray] | None = None,
                   sides: tuple[EncodedSet, EncodedSet] | None = None,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A name-only candidate must stand out: no other name-only candidate or rival of
    either subject may come within ``weak_margin`` of its Dice (rivals count with
    their ``strength`` for our subject and for theirs, default their Dice; with a
    margin of 1 or more, no other candidate may exist at all). Given the two
    encoded ``sides``, a rival that is a fragment of the same person as the
    candidate's subject (:func:`same_person_pairs`) does not count. Then the rivals go."""
    weak = score <= 1.0
    accepted = score >= 0.0
    dice = np.where(score < 0.0, score - RIVAL, score)
    for_a, for_b = (dice, dice) if strength is None else (np.maximum(strength[0], dice), np.maximum(strength[1], dice))
    ambiguous = np.zeros(len(score), dtype=bool)
    if settings.weak_unique and weak.any():
        rival = np.maximum(rival_scores(sub_a, for_a, weak), rival_scores(sub_b, for_b, weak))
        exact = weak & (dice >= settings.exact_dice)
        if strength is not None and exact.any():
            plain = np.maximum(rival_scores(sub_a, dice, weak), rival_scores(sub_b, dice, weak))
            rival = np.where(exact, plain, rival)
        margin = settings.weak_margin if settings.weak_margin < 1.0 else np.inf
        ambiguous = weak & accepted & (rival > dice - margin)
        if sides is not None and ambiguous.any():
            ambiguous &= ~_only_fragment_rivals(sub_a, sub_b, dice, for_a, for_b, weak, ambiguous, margin,
                                                sides, settings, stats, exact)
    stats["weak_ambiguous"] = float(ambiguous.sum())
    keep = accepted & ~ambiguous
    return sub_a[keep], sub_b[keep], score[keep]


def _only_fragment_rivals(sub_a: np.ndarray, sub_b: np.ndarray, dice: np.ndarray, for_a: np.ndarray,
                          for_b: np.ndarray, weak: np.ndarray, ambiguous: np.ndarray, margin: float,
                          sides: tuple[EncodedSet, EncodedSet], settings: MatchSettings,
                          stats: dict[str, float], exact: np.ndarray) -> np.ndarray:
    """Which ``ambiguous`` candidates have no rival but fragments of their own subject's
    person: every rival of our subject is a subject of theirs that matches the
    candidate's subject of theirs, and every rival of their subject one of ours that
    matches ours."""
    amb = np.flatnonzero(ambiguous)
    # the candidates of every subject an ambiguous candidate has, by subject
    by_a: dict[int, list[int]] = defaultdict(list)
    by_b: dict[int, list[int]] = defaultdict(list)
    for owner, by in ((sub_a, by_a), (sub_b, by_b)):
        rows = np.flatnonzero(weak & np.isin(owner, owner[amb]))
        for k, o in zip(rows.tolist(), owner[rows].tolist(), strict=True):
            by[o].append(k)
    blockers: dict[int, tuple[list[int], list[int]]] = {}
    pairs_a: set[tuple[int, int]] = set()
    pairs_b: set[tuple[int, int]] = set()
    dice_l, for_a_l, for_b_l = dice.tolist(), for_a.tolist(), for_b.tolist()
    sub_a_l, sub_b_l, exact_l = sub_a.tolist(), sub_b.tolist(), exact.tolist()
    for k in amb.tolist():
        x, y, floor = sub_a_l[k], sub_b_l[k], dice_l[k] - margin
        ra, rb = (dice_l, dice_l) if exact_l[k] else (for_a_l, for_b_l)
        ys = [sub_b_l[j] for j in by_a[x] if j != k and ra[j] > floor]
        xs = [sub_a_l[j] for j in by_b[y] if j != k and rb[j] > floor]
        blockers[k] = (xs, ys)
        pairs_a.update((min(x, o), max(x, o)) for o in xs)
        pairs_b.update((min(y, o), max(y, o)) for o in ys)
    ours, theirs = sides
    same_a, same_b = same_person_pairs(ours, pairs_a, settings), same_person_pairs(theirs, pairs_b, settings)
    out = np.zeros(len(dice), dtype=bool)
    for k, (xs, ys) in blockers.items():
        x, y = sub_a_l[k], sub_b_l[k]
        out[k] = (all((min(x, o), max(x, o)) in same_a for o in xs)
                  and all((min(y, o), max(y, o)) in same_b for o in ys))
    stats["weak_fragment_rivals"] = float(out.sum())
    return out


def same_person_pairs(e: EncodedSet, pairs: set[tuple[int, int]], settings: MatchSettings) -> set[tuple[int, int]]:
    """The pairs of one side's subjects that would be fuzzy candidates of each other:
    some pair of their profiles compared on the fields both have reaches the
    threshold of its evidence (:func:`tier_scores`), and no identifiers of a kind
    both carry disagree (:attr:`MatchSettings.fragment_conflict_kinds`). Fragments of
    one person the resolver could not join."""
    if not pairs:
        return set()
    wanted = np.fromiter({x for p in pairs for x in p}, dtype=np.int64)
    rows: dict[int, list[int]] = defaultdict(list)
    for r in np.flatnonzero(np.isin(e.clk_owner, wanted)).tolist():
        rows[int(e.clk_owner[r])].append(r)
    plist = sorted(pairs)
    ia: list[int] = []
    ib: list[int] = []
    owner: list[int] = []
    for n, (x, y) in enumerate(plist):
        for i in rows.get(x, ()):
            for j in rows.get(y, ()):
                ia.append(i)
                ib.append(j)
                owner.append(n)
    if not ia:
        return set()
    xa, xb, on = np.asarray(ia, np.int64), np.asarray(ib, np.int64), np.asarray(owner, np.int64)
    ok = _comparable(e, e, xa, xb)
    xa, xb, on = xa[ok], xb[ok], on[ok]
    sims, a_in_b, b_in_a = dice_and_containment(e.clks, e.clks, xa, xb)
    strong = (e.clk_mask[xa] & e.clk_mask[xb] & settings.strong_mask) != 0
    score = tier_scores(sims, strong, settings, np.maximum(a_in_b, b_in_a))
    best = np.full(len(plist), NO_MATCH)
    np.maximum.at(best, on, score)
    kinds = settings.fragment_conflict_kinds
    ids = _tokens_by_kind(e, kinds) if kinds else {}
    out: set[tuple[int, int]] = set()
    for n in np.flatnonzero(best >= 0.0).tolist():
        x, y = plist[n]
        if any(ids.get((x, kind)) and ids.get((y, kind)) and not ids[(x, kind)] & ids[(y, kind)] for kind in kinds):
            continue
        out.add((x, y))
    return out


def rival_scores(owner: np.ndarray, score: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each masked candidate, the best score among the *other* masked candidates
    of the same owner (-inf when it has none, and for unmasked candidates)."""
    out = np.full(len(score), -np.inf)
    idx = np.flatnonzero(mask)
    if not len(idx):
        return out
    order = np.lexsort((-score[idx], owner[idx]))
    idx = idx[order]
    o, s = owner[idx], score[idx]
    first = np.r_[True, o[1:] != o[:-1]]
    head = np.maximum.accumulate(np.where(first, np.arange(len(o)), 0))  # row of the group's best
    has_second = np.r_[o[1:] == o[:-1], False] & first
    second = np.where(has_second, np.r_[s[1:], -np.inf], -np.inf)[head]
    out[idx] = np.where(first, second, s[head])
    return out


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


def subject_pair_dice(ours: EncodedSet, theirs: EncodedSet, pairs: list[tuple[int, int]],
                      field_set: int | None = None) -> dict[tuple[int, int], float]:
    """Best Dice of comparable profiles of the given subject pairs (absent: none
    comparable); with ``field_set``, of their CLKs of that field set alone."""
    if not pairs:
        return {}

    def rows(e: EncodedSet, wanted: set[int]) -> dict[int, list[int]]:
        keep = np.isin(e.clk_owner, np.fromiter(wanted, dtype=np.int64, count=len(wanted)))
        if field_set is not None:
            keep &= e.clk_mask == field_set
        out: dict[int, list[int]] = defaultdict(list)
        for r in np.flatnonzero(keep).tolist():
            out[int(e.clk_owner[r])].append(r)
        return out

    ra, rb = rows(ours, {x for x, _ in pairs}), rows(theirs, {y for _, y in pairs})
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
        ok = _comparable(ours, theirs, xa, xb) if field_set is None else np.ones(len(xa), dtype=bool)
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
           taken_a: set[int] | None = None, taken_b: set[int] | None = None,
           sides: tuple[EncodedSet, EncodedSet] | None = None) -> list[Match]:
    """Fuzzy matches among subjects not already taken (by a token), one-to-one
    unless told otherwise. Given the two encoded ``sides`` (and
    :attr:`MatchSettings.fragments`), a candidate left out only because its
    subject of the other side went to a fragment of the same person
    (:func:`same_person_pairs`) is kept too: one person, several subjects, one match each."""
    taken_a, taken_b = taken_a or set(), taken_b or set()
    free = np.array([a not in taken_a and b not in taken_b
                     for a, b in zip(sub_a.tolist(), sub_b.tolist(), strict=True)], dtype=bool)
    sub_a, sub_b, score = sub_a[free], sub_b[free], score[free]
    keep = greedy_one_to_one(sub_a, sub_b, score) if settings.one_to_one else list(range(len(score)))
    if settings.one_to_one and settings.fragments and sides is not None and len(keep) < len(score):
        keep = keep + _fragment_extras(sub_a, sub_b, score, keep, sides, settings)
    out = []
    for k in keep:
        strong = score[k] > 1.0
        sim = float(score[k] - 2.0) if strong else float(score[k])
        via = "bloom" if strong else "bloom:name" if sim >= settings.weak_threshold else "bloom:part"
        out.append(Match(int(sub_a[k]), int(sub_b[k]), round(sim, 4), via))
    return out


def _fragment_extras(sub_a: np.ndarray, sub_b: np.ndarray, score: np.ndarray, keep: list[int],
                     sides: tuple[EncodedSet, EncodedSet], settings: MatchSettings) -> list[int]:
    """Name-only candidates the one-to-one solver left out whose subject on one side is
    unmatched and a fragment of the subject that took their partner on the other side.
    (Two subjects with one date of birth that both match one of theirs on it are left
    to the solver: "Paul James Taylor" and "Paul James Tailor" of one town and birth
    date may be one man, or a man and a typo of his, but one match says as much.)"""
    partner_a = {int(sub_a[k]): int(sub_b[k]) for k in keep}
    partner_b = {int(sub_b[k]): int(sub_a[k]) for k in keep}
    chosen = set(keep)
    want_a: dict[int, tuple[int, int]] = {}
    want_b: dict[int, tuple[int, int]] = {}
    for k in range(len(sub_a)):
        if k in chosen or score[k] > 1.0:
            continue
        x, y = int(sub_a[k]), int(sub_b[k])
        if x not in partner_a and y in partner_b:
            want_a[k] = (min(x, partner_b[y]), max(x, partner_b[y]))
        elif y not in partner_b and x in partner_a:
            want_b[k] = (min(y, partner_a[x]), max(y, partner_a[x]))
    ours, theirs = sides
    same_a = same_person_pairs(ours, set(want_a.values()), settings)
    same_b = same_person_pairs(theirs, set(want_b.values()), settings)
    extra = [k for k, p in want_a.items() if p in same_a] + [k for k, p in want_b.items() if p in same_b]
    # one extra match per subject: its most similar
    best: dict[tuple[str, int], int] = {}
    for k in sorted(extra, key=lambda k: (-score[k], k)):
        side_key = ("a", int(sub_a[k])) if k in want_a else ("b", int(sub_b[k]))
        best.setdefault(side_key, k)
    return sorted(best.values())


def match(ours: EncodedSet, theirs: EncodedSet, settings: MatchSettings | None = None) -> MatchResult:
    """Which of our subjects match which of theirs, with the similarity and the evidence."""
    settings = settings or MatchSettings()
    t0 = time.perf_counter()
    stats: dict[str, float] = {"ours": float(ours.n_subjects), "theirs": float(theirs.n_subjects)}
    tok = token_pairs(ours, theirs, settings.max_token_subjects, stats)
    tok_dice = subject_pair_dice(ours, theirs, list(tok))
    # Do the names agree? On the name's own CLKs where there are field sets: a filter
    # with the date and town in it shares half its bits with anyone's by chance.
    name_dice = (subject_pair_dice(ours, theirs, list(tok), field_set=1) if ours.subsets and theirs.subsets
                 else tok_dice)
    matches: list[Match] = []
    matched_a: set[int] = set()
    matched_b: set[int] = set()
    set_aside = 0
    for (x, y), kinds in sorted(tok.items()):
        sim = tok_dice.get((x, y))
        agree = name_dice.get((x, y))
        if agree is not None and agree < settings.token_min_dice:
            set_aside += 1
            continue
        matches.append(Match(x, y, 1.0 if sim is None else round(sim, 4), ",".join(sorted(kinds))))
        matched_a.add(x)
        matched_b.add(y)
    stats["token_matches"] = float(len(matches))
    stats["token_matches_set_aside"] = float(set_aside)

    sub_a, sub_b, score = fuzzy_candidates(ours, theirs, settings, stats, matched_a, matched_b)
    fuzzy = assign(sub_a, sub_b, score, settings, matched_a, matched_b, (ours, theirs))
    stats["fuzzy_candidates"] = float(len(score))
    stats["fuzzy_matches"] = float(len(fuzzy))
    matches.extend(fuzzy)
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    strength = {"bloom": 1, "bloom:name": 2, "bloom:part": 3}
    matches.sort(key=lambda m: (strength.get(m.via, 0), -m.similarity, m.ours, m.theirs))
    return MatchResult(matches, stats)
