"""The two-country yardsticks themselves: what counts as reachable, and what a
demanding analyst refuses."""

from __future__ import annotations

from moneytrail.share.encodings import SubjectValues, make_profile, subject_values
from moneytrail.share.match import Match
from moneytrail.share.scenario import (
    REACH_DOB,
    REACH_ID,
    REACH_NAMESAKE,
    REACH_PLACE,
    analyst_review,
    reachability,
)


def subj(ref: str, name: str, dob: str | None = None, city: str | None = None, country: str | None = None,
         ids: tuple[tuple[str, str], ...] = ()) -> SubjectValues:
    return subject_values(ref, [make_profile(name, dob, city, country)], ids)


def test_reachability_by_what_both_sides_hold() -> None:
    a = [subj("a1", "Maria Santos", country="PH", ids=(("email", "m@x.example"),)),
         subj("a2", "John Smith", "1970-01-01", country="US"),
         subj("a3", "Gary White", country="US"),
         subj("a4", "Anne Wood", country="US"),
         subj("a5", "Anne Wood", city="Leeds", country="GB")]
    b = [subj("b1", "SANTOS Maria", ids=(("email", "m@x.example"),)),
         subj("b2", "Smith John", "1970-01-01"),
         subj("b3", "Gary White", city="Tampa", country="US"),
         subj("b4", "Anne Wood", city="Tampa", country="US"),
         subj("b5", "Gary White", city="Austin", country="US")]
    pa = {"a1": "P1", "a2": "P2", "a3": "P3", "a4": "P4", "a5": "P5"}
    pb = {"b1": "P1", "b2": "P2", "b3": "P3", "b4": "P4", "b5": "P9"}
    reach = reachability(a, b, pa, pb)
    assert reach == {"P1": REACH_ID, "P2": REACH_DOB,
                     # another Gary White in the US on their side, and ours has no town: nothing tells them apart
                     "P3": REACH_NAMESAKE,
                     # our other Anne Wood lives in Leeds, theirs in Tampa: the town tells them apart
                     "P4": REACH_PLACE}


def test_analyst_refuses_what_he_should() -> None:
    a = [subj("a1", "Linda Adams", country="US"),
         subj("a2", "Paul Jones", "1960-02-02", country="US"),
         subj("a3", "Ana Cruz", country="PH", ids=(("phone", "+639170000001"),)),
         subj("a4", "Tom Baker", country="GB")]
    b = [subj("b1", "Linda Margaret Adams", city="Tampa", country="US"),
         subj("b2", "Paul Jones", "1960-02-03", country="US"),
         subj("b3", "Zygmunt Wolowski", country="PL", ids=(("phone", "+639170000001"),)),
         subj("b4", "Tom Baker", country="US"),
         subj("b5", "Linda Adams", country="US")]
    ms = [Match(0, 0, 0.8, "bloom:part"), Match(1, 1, 0.9, "bloom"), Match(2, 2, 1.0, "phone"),
          Match(3, 3, 0.95, "bloom:name"), Match(2, 2, 1.0, "email")]
    why = [w for _, w in analyst_review(ms, a, b)]
    assert why == ["someone else of that name fits as well",  # b5 is a Linda Adams too
                   "no equal date of birth",
                   "an identifier in common, but the names share no word",
                   "a town, country or date of birth differs",
                   "the identifiers it names are not shared"]
    assert [w for _, w in analyst_review([Match(0, 0, 0.8, "bloom:part")], a, b[:4])] == [None]


def test_analyst_reads_fragments_and_phones() -> None:
    """Our two Margaret Martins, both matched to their one, are one woman the result
    says our resolver left in two subjects: no rival of each other. A Keith Green of
    theirs whose phone is not ours is another man. The strict analyst sees rivals in both."""
    a = [subj("a1", "Margaret Martin", country="IE", ids=(("card", "tok-1"),)),
         subj("a2", "Margaret Martin", country="IE", ids=(("account", "w-1"),)),
         subj("a3", "Keith Green", country="US", ids=(("phone", "+16025550101"),))]
    b = [subj("b1", "Margaret Martin", city="Dublin", country="IE"),
         subj("b2", "Keith Green", city="Phoenix", country="US"),
         subj("b3", "Keith Green", country="US", ids=(("phone", "+16025550199"),))]
    ms = [Match(0, 0, 1.0, "bloom:name"), Match(1, 0, 1.0, "bloom:name"), Match(2, 1, 1.0, "bloom:name")]
    assert [w for _, w in analyst_review(ms, a, b)] == [None, None, None]
    assert [w for _, w in analyst_review(ms, a, b, strict=True)] == ["someone else of that name fits as well"] * 3
    # one of the two alone: the other Margaret Martin is a rival he cannot rule out
    assert [w for _, w in analyst_review(ms[:1], a, b)] == ["someone else of that name fits as well"]
