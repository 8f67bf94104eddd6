from __future__ import annotations

import numpy as np

from moneytrail.share.encodings import Encoder, SubjectValues, make_profile, subject_values
from moneytrail.share.match import MatchSettings, dice_pairs, match, rival_scores

SECRET = b"s" * 32


def subj(ref: str, *profiles: tuple[str | None, ...],
         ids: tuple[tuple[str, str], ...] = (), country: str | None = None) -> SubjectValues:
    return subject_values(ref, [make_profile(*p) for p in profiles], ids, country=country)


def pairs(ours: list[SubjectValues], theirs: list[SubjectValues], **kw: object) -> set[tuple[str, str, str]]:
    enc = Encoder(SECRET)
    result = match(enc.encode(ours), enc.encode(theirs), MatchSettings(**kw))  # type: ignore[arg-type]
    return {(ours[m.ours].ref, theirs[m.theirs].ref, m.via) for m in result.matches}


def test_exact_token_match_across_notations() -> None:
    ours = [subj("S1", ("Maria Santos", None, "Cebu"), ids=(("phone", "0917 555 0101"),), country="PH")]
    theirs = [subj("R1", ("Ma. Santos-Reyes", None, None), ids=(("phone", "+63 917 555 0101"),))]
    assert pairs(ours, theirs) == {("S1", "R1", "phone")}


def test_fuzzy_match_with_typo_and_date() -> None:
    ours = [subj("S1", ("Craig William Wilson", "1975-02-03", "Leeds")),
            subj("S2", ("Gary Wilson", "1980-01-01", "York"))]
    theirs = [subj("R1", ("WILSON Craig Wiliam", "1975-02-03", "Leeds")),
              subj("R2", ("Sandra Lewis", "1991-04-08", "Chicago"))]
    assert pairs(ours, theirs) == {("S1", "R1", "bloom")}


def test_same_name_other_birth_date_does_not_match() -> None:
    ours = [subj("S1", ("John Smith", "1971-05-02", "Springfield"))]
    theirs = [subj("R1", ("John Smith", "1988-11-30", "Springfield"))]
    assert pairs(ours, theirs) == set()


def test_missing_birth_date_is_compared_on_the_fields_both_have() -> None:
    """Theirs has no date of birth: the name (and town) are compared, at the higher
    name threshold, instead of failing for the missing date."""
    ours = [subj("S1", ("Keith Green", "1962-10-19", "Phoenix"))]
    theirs = [subj("R1", ("GREEN Keith", None, "Phoenix"))]
    assert pairs(ours, theirs) == {("S1", "R1", "bloom:name")}
    assert pairs(ours, theirs, weak_threshold=1.01, part_threshold=1.01) == set()


def test_name_only_match_must_be_unambiguous() -> None:
    ours = [subj("S1", ("Mary Nelson", None, None))]
    # two of theirs with different phones: two women, either could be ours
    theirs = [subj("R1", ("Mary Nelson", None, None), ids=(("phone", "+16145550101"),)),
              subj("R2", ("Mary Nelson", None, "Columbus"), ids=(("phone", "+16145550199"),))]
    assert pairs(ours, theirs) == set()
    assert len(pairs(ours, theirs, weak_unique=False)) == 1  # one-to-one still keeps only one
    # nothing tells their two apart: fragments of one woman, unless told otherwise
    alike = [subj("R1", ("Mary Nelson", None, None)), subj("R2", ("Mary Nelson", None, "Columbus"))]
    assert len(pairs(ours, alike)) == 2
    assert pairs(ours, alike, fragments=False) == set()


def test_one_to_one_assignment_prefers_the_best() -> None:
    ours = [subj("S1", ("Paul James Taylor", "1970-01-01", "Leeds")),
            subj("S2", ("Paul James Tailor", "1970-01-01", "Leeds"))]
    theirs = [subj("R1", ("Paul James Taylor", "1970-01-01", "Leeds"))]
    got = pairs(ours, theirs)
    assert got == {("S1", "R1", "bloom")}
    assert len(pairs(ours, theirs, one_to_one=False)) == 2


def test_shared_token_guard_and_disagreeing_profiles() -> None:
    agent = ("phone", "+639170000000")
    ours = [subj(f"S{i}", (n, None, None), ids=(agent,)) for i, n in
            enumerate(["Ana Cruz", "Ben Lim", "Carl Tan", "Dina Go"])]
    theirs = [subj("R1", ("Ana Cruz", None, None), ids=(agent,))]
    # the phone is carried by four of our subjects: it does not link; the name alone does
    assert pairs(ours, theirs) == {("S0", "R1", "bloom:name")}
    # a token shared by two people whose names disagree entirely is set aside
    ours2 = [subj("S1", ("Ana Cruz", None, "Cebu"), ids=(("email", "a@x.example"),))]
    theirs2 = [subj("R1", ("Zygmunt Wolowski", None, "Oslo"), ids=(("email", "a@x.example"),))]
    assert pairs(ours2, theirs2) == set()
    assert pairs(ours2, theirs2, token_min_dice=0.0) == {("S1", "R1", "email")}


def test_blocking_finds_what_all_pairs_finds() -> None:
    rng = np.random.default_rng(3)
    first = ["anna", "ben", "carla", "dario", "eva", "femi", "gita", "hugo", "ines", "jon", "kai", "lena"]
    last = ["alvarez", "bauer", "costa", "dutta", "evans", "fischer", "garcia", "huang", "ito", "jensen"]
    people = [(f"{rng.choice(first)} {rng.choice(first)} {rng.choice(last)}",
               f"{rng.integers(1940, 2005)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}",
               str(rng.choice(["leeds", "cebu", "lyon"]))) for _ in range(400)]

    def typo(s: str) -> str:
        j = int(rng.integers(1, len(s) - 2))
        return s[:j] + s[j + 1] + s[j] + s[j + 2:]

    ours = [subj(f"S{i}", p) for i, p in enumerate(people)]
    theirs = [subj(f"R{i}", (typo(p[0]), p[1], p[2])) for i, p in enumerate(people) if i % 2 == 0]
    enc = Encoder(SECRET)
    a, b = enc.encode(ours), enc.encode(theirs)
    full = match(a, b, MatchSettings())
    blocked = match(a, b, MatchSettings(all_pairs_limit=0))
    assert blocked.stats["blocked"] == 1.0 and full.stats["blocked"] == 0.0
    assert blocked.stats["profile_pairs_compared"] < full.stats["profile_pairs_compared"] / 5
    got = {(ours[m.ours].ref, theirs[m.theirs].ref) for m in blocked.matches}
    want = {(ours[m.ours].ref, theirs[m.theirs].ref) for m in full.matches}
    assert got <= want and len(got) >= 0.98 * len(want)
    assert len(got) >= 0.95 * len(theirs)
    assert sum(o[1:] == t[1:] for o, t in got) >= 0.99 * len(got)  # the right people


def test_dice_pairs_matches_a_direct_count() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2**63, size=(5, 16), dtype=np.int64).astype(np.uint64)
    b = rng.integers(0, 2**63, size=(4, 16), dtype=np.int64).astype(np.uint64)
    ia, ib = np.array([0, 1, 4]), np.array([3, 0, 2])
    got = dice_pairs(a, b, ia, ib)
    for k, (i, j) in enumerate(zip(ia, ib, strict=True)):
        bits_a = np.unpackbits(a[i].view(np.uint8))
        bits_b = np.unpackbits(b[j].view(np.uint8))
        assert got[k] == 2 * (bits_a & bits_b).sum() / (bits_a.sum() + bits_b.sum())


def test_country_tells_namesakes_apart() -> None:
    ours = [subj("S1", ("John Smith", None, None, "US"))]
    theirs = [subj("R1", ("John Smith", None, None, "GB")), subj("R2", ("Smith John", None, None, "US"))]
    assert pairs(ours, theirs) == {("S1", "R2", "bloom:name")}


def test_a_left_out_middle_name_matches_as_part_unless_someone_else_fits() -> None:
    ours = [subj("S1", ("Linda Adams", None, None, "US"))]
    theirs = [subj("R1", ("Linda Margaret Adams", None, "Tampa", "US"))]
    assert pairs(ours, theirs) == {("S1", "R1", "bloom:part")}
    assert pairs(ours, theirs, part_threshold=1.01) == set()
    # another Linda Adams on their side, with another phone: either could be ours, but
    # the one of exactly her name is taken (see test_an_exact_name_is_not_blocked_by_a_longer_one)
    other = subj("R2", ("Linda Adams", None, None, "US"), ids=(("phone", "+18135550199"),))
    two = [subj("R1", ("Linda Margaret Adams", None, "Tampa", "US"), ids=(("phone", "+18135550101"),)), other]
    assert pairs(ours, two, exact_dice=1.01) == set()
    assert pairs(ours, two) == {("S1", "R2", "bloom:name")}
    # "L Adams" on our side is no rival: her name is not inside his
    both = [*ours, subj("S2", ("L Adams", None, None, "US"))]
    assert pairs(both, theirs) == {("S1", "R1", "bloom:part")}


def test_disagreeing_phones_stop_a_name_only_match() -> None:
    ours = [subj("S1", ("Keith Green", None, "Phoenix", "US"), ids=(("phone", "+16025550101"),))]
    theirs = [subj("R1", ("Keith Green", None, "Phoenix", "US"), ids=(("phone", "+16025550199"),))]
    assert pairs(ours, theirs) == set()
    assert pairs(ours, theirs, conflict_kinds=()) == {("S1", "R1", "bloom:name")}


def test_a_rival_within_the_margin_makes_a_name_match_ambiguous() -> None:
    ours = [subj("S1", ("Mary Nelson", None, None, "US"))]
    theirs = [subj("R1", ("Mary Nelson", None, None, "US")), subj("R2", ("Mary Nelsen", None, None, "US"))]
    # the exact name stands more than the margin above the one-letter variant
    assert pairs(ours, theirs) == {("S1", "R1", "bloom:name")}
    assert pairs(ours, theirs, weak_margin=0.3) == set()
    # two of one name (word order aside) and different phones: neither stands out
    twins = [subj("R1", ("Mary Nelson", None, None, "US"), ids=(("phone", "+16145550101"),)),
             subj("R3", ("NELSON Mary", None, None, "US"), ids=(("phone", "+16145550199"),))]
    assert pairs(ours, twins) == set()


def test_rival_scores_are_the_best_other_candidate_of_each_owner() -> None:
    owner = np.array([1, 1, 2, 1, 3, 2])
    score = np.array([0.9, 0.95, 0.8, 0.7, 0.99, 0.8])
    mask = np.array([True, True, True, True, True, False])
    got = rival_scores(owner, score, mask)
    assert got[:5].tolist() == [0.95, 0.9, -np.inf, 0.95, -np.inf]
    assert got[5] == -np.inf  # not masked: neither a rival nor given one


def test_subjects_an_identifier_matched_can_be_left_out_as_rivals() -> None:
    phone = ("phone", "+639170000123")
    ours = [subj("S1", ("Maria Santos", None, None, "PH"), ids=(phone,)),
            subj("S2", ("Maria Santos", None, None, "PH"), ids=(("phone", "+639170000999"),))]
    theirs = [subj("R1", ("Maria Santos", None, None, "PH"), ids=(phone,)), subj("R2", ("Santos Maria", None, None, "PH"))]
    # by default S1 is still a rival of S2 for R2: two of ours fit R2
    assert pairs(ours, theirs) == {("S1", "R1", "phone")}
    assert pairs(ours, theirs, taken_are_no_rivals=True) == {("S1", "R1", "phone"), ("S2", "R2", "bloom:name")}


def test_fragments_of_one_person_all_match_and_are_no_rivals() -> None:
    """Our resolver left one woman in two subjects (a card with her date of birth, a
    wallet without): each is the other's rival for their one Margaret Martin, so
    neither would stand out; as fragments of one person, both match her."""
    ours = [subj("S1", ("Margaret Martin", "1956-05-29", None, "IE"), ids=(("card", "tok-1"),)),
            subj("S2", ("Margaret Martin", None, None, "IE"), ids=(("account", "w-1"), ("email", "mm@x.example")))]
    theirs = [subj("R1", ("MARTIN Margaret", None, "Dublin", "IE"), ids=(("iban", "IE29AIBK93115212345678"),))]
    assert pairs(ours, theirs) == {("S1", "R1", "bloom:name"), ("S2", "R1", "bloom:name")}
    assert pairs(ours, theirs, fragments=False) == set()
    # the same on their side: two of theirs, one of ours
    assert pairs(theirs, ours) == {("R1", "S1", "bloom:name"), ("R1", "S2", "bloom:name")}


def test_namesakes_with_different_cards_are_not_fragments() -> None:
    """Two card holders of one name and country with different cards are two people:
    the one Margaret Martin of theirs could be either."""
    ours = [subj("S1", ("Margaret Martin", None, None, "IE"), ids=(("card", "tok-1"),)),
            subj("S2", ("Margaret Martin", None, None, "IE"), ids=(("card", "tok-2"),))]
    theirs = [subj("R1", ("Margaret Martin", None, "Dublin", "IE"))]
    assert pairs(ours, theirs) == set()
    assert len(pairs(ours, theirs, fragment_conflict_kinds=())) == 2


def test_fragments_with_different_birth_dates_are_two_people() -> None:
    ours = [subj("S1", ("Paul Reid", "1960-01-01", None, "US")), subj("S2", ("Paul Reid", "1975-06-30", None, "US"))]
    theirs = [subj("R1", ("Paul Reid", None, "Denver", "US"))]
    assert pairs(ours, theirs) == set()


def test_an_exact_name_is_not_blocked_by_a_longer_one() -> None:
    """Their "Michael Collins" of Denver against our "Michael Collins" and our
    "Michael Dennis Collins" (born in other years): the exact name matches; an exact
    namesake would still block."""
    ours = [subj("S1", ("Collins Michael", "1990-02-03", None, "US")),
            subj("S2", ("Collins Dennis Michael", "1987-02-10", None, "US"))]
    theirs = [subj("R1", ("Michael Collins", None, "Denver", "US"))]
    assert pairs(ours, theirs) == {("S1", "R1", "bloom:name")}
    assert pairs(ours, theirs, exact_dice=1.01) == set()
    namesake = [*ours, subj("S3", ("Michael Collins", "1971-07-07", None, "US"))]
    assert pairs(namesake, theirs) == set()
