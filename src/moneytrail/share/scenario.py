"""The two-country scenario: one synthetic world split between two units.

Each "country" sees only its own providers' files, ingests and resolves them
into its own warehouse, and encodes its own subjects. The people who appear in
both countries' data (from the world's truth files) are the true overlap that
matching should find. :func:`reachability` says which of them the two sides'
data can tell from a namesake at all, and :func:`analyst_review` what a
demanding analyst, shown both sides' records in clear, says of each match.
Used by the tests and by ``bench/share.py``.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from moneytrail.share.encodings import SubjectValues
from moneytrail.share.match import Match

# Country A: a remittance operator, a wallet, a card issuer and a platform;
# country B: another remittance operator, a wallet, a bank and a platform.
DEFAULT_SPLIT: dict[str, tuple[str, ...]] = {
    "A": ("remitco", "paywave", "northbank", "vidchat"),
    "B": ("globesend", "pesopay", "atlasbank", "linkup"),
}


def build_country(bundle: Path, providers: Iterable[str], store: Path) -> Path:
    """Ingest only ``providers``' files of the bundle into ``store`` and resolve them."""
    from moneytrail.ingest import ingest_plan
    from moneytrail.ingest.bundle import BundlePlan, plan_bundle
    from moneytrail.resolve import resolve
    from moneytrail.store import Warehouse

    wanted = {p.lower() for p in providers}
    plan = plan_bundle(bundle)
    mine = BundlePlan([f for f in plan.files if f.provider.lower() in wanted], plan.fx_file, [])
    with Warehouse(store) as wh:
        ingest_plan(wh, mine)
        resolve(wh.con)
    return store


def truth_persons(truth: Path) -> dict[tuple[str, str, str], str]:
    """(provider, record_id, party) -> person_id, for party occurrences and referral subjects."""
    out: dict[tuple[str, str, str], str] = {}
    with (truth / "parties.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out[(row["provider"].lower(), row["record_id"], row["party"])] = row["person_id"]
    ref = truth / "referrals.csv"
    if ref.exists():
        with ref.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                party = row["record_id"].rpartition("#")[2]
                out[(row["provider"].lower(), row["record_id"], party)] = row["person_id"]
    return out


def subject_persons(con: duckdb.DuckDBPyConnection, truth: dict[tuple[str, str, str], str],
                    subjects: Sequence[str]) -> dict[str, str]:
    """Each subject's majority person (merchant records left out)."""
    return {sid: c.most_common(1)[0][0] for sid, c in _votes(con, truth, subjects).items()}


def subject_person_sets(con: duckdb.DuckDBPyConnection, truth: dict[tuple[str, str, str], str],
                        subjects: Sequence[str]) -> dict[str, set[str]]:
    """Every person with records in each subject (more than one where resolution merged people)."""
    return {sid: set(c) for sid, c in _votes(con, truth, subjects).items()}


def _votes(con: duckdb.DuckDBPyConnection, truth: dict[tuple[str, str, str], str],
           subjects: Sequence[str]) -> dict[str, Counter[str]]:
    wanted = set(subjects)
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    rows = con.execute(
        """SELECT s.subject_id, s.provider, s.record_id, s.party FROM subject_records s
           JOIN resolve_records r USING (provider, record_id, party) WHERE r.origin <> 'merchant'"""
    ).fetchall()
    for sid, provider, record_id, party in rows:
        if sid in wanted:
            person = truth.get((provider.lower(), record_id, party))
            if person is not None:
                votes[sid][person] += 1
    return votes


def evidenced_people(values_a: Sequence[SubjectValues], values_b: Sequence[SubjectValues],
                     persons_a: dict[str, str], persons_b: dict[str, str]) -> set[str]:
    """Overlap people for whom the two sides hold more than a name in common to
    go on: a shared strong identifier, or a date of birth on both sides."""
    def facts(values: Sequence[SubjectValues], persons: dict[str, str]) -> dict[str, tuple[set[tuple[str, str]], bool]]:
        out: dict[str, tuple[set[tuple[str, str]], bool]] = {}
        for v in values:
            person = persons.get(v.ref)
            if person is None:
                continue
            ids, dob = out.setdefault(person, (set(), False))
            ids.update(v.identifiers)
            out[person] = (ids, dob or any(p.values.get("dob") for p in v.profiles))
        return out

    fa, fb = facts(values_a, persons_a), facts(values_b, persons_b)
    return {p for p in fa.keys() & fb.keys() if (fa[p][0] & fb[p][0]) or (fa[p][1] and fb[p][1])}


REACH_ID, REACH_DOB, REACH_PLACE, REACH_NAMESAKE = "identifier", "birth date", "name and place", "namesake"
REACHABLE = (REACH_ID, REACH_DOB, REACH_PLACE)


def _profile_facts(values: Sequence[SubjectValues]) -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = {}
    for v in values:
        f: dict[str, set[str]] = defaultdict(set)
        for p in v.profiles:
            for k, x in p.values.items():
                if x:
                    f[k].add(x)
        out[v.ref] = f
    return out


def _compatible(f: dict[str, set[str]], g: dict[str, set[str]]) -> bool:
    """Same name, and no field both hold in which they differ: in clear, nothing
    tells the two apart."""
    if not f.get("name", set()) & g.get("name", set()):
        return False
    return all(f[k] & g[k] for k in f.keys() & g.keys() if k != "name" and f[k] and g[k])


def reachability(values_a: Sequence[SubjectValues], values_b: Sequence[SubjectValues],
                 persons_a: dict[str, str], persons_b: dict[str, str]) -> dict[str, str]:
    """What each overlap person is findable by, from what the two sides hold, in clear.

    ``identifier``: a strong identifier in common; ``birth date``: a date of birth on
    each side; ``name and place``: neither, but no one else on the other side shares
    his name without differing in a town, country or date both hold; ``namesake``:
    someone else does, so the name and place are all there is and they fit two people.
    A namesake overlap cannot be found in principle (by any matcher, encoded or
    clear): with what both sides hold, his match and a wrong one look the same."""
    facts = {"A": _profile_facts(values_a), "B": _profile_facts(values_b)}
    persons = {"A": persons_a, "B": persons_b}
    subjects_of: dict[str, dict[str, list[str]]] = {"A": defaultdict(list), "B": defaultdict(list)}
    for side, ps in persons.items():
        for sid, person in ps.items():
            subjects_of[side][person].append(sid)
    by_name: dict[str, dict[str, list[str]]] = {"A": defaultdict(list), "B": defaultdict(list)}
    for side in ("A", "B"):
        for sid, f in facts[side].items():
            for n in f.get("name", ()):
                by_name[side][n].append(sid)
    ids = {"A": {v.ref: set(v.identifiers) for v in values_a}, "B": {v.ref: set(v.identifiers) for v in values_b}}

    def held(side: str, person: str, key: str) -> bool:
        return any(facts[side].get(s, {}).get(key) for s in subjects_of[side][person])

    def namesake(side: str, other: str, person: str) -> bool:
        for sid in subjects_of[side][person]:
            f = facts[side].get(sid, {})
            for n in f.get("name", ()):
                for rival in by_name[other][n]:
                    q = persons[other].get(rival)
                    if q is not None and q != person and _compatible(f, facts[other][rival]):
                        return True
        return False

    out: dict[str, str] = {}
    for person in subjects_of["A"].keys() & subjects_of["B"].keys():
        ia = set().union(*(ids["A"].get(s, set()) for s in subjects_of["A"][person]))
        ib = set().union(*(ids["B"].get(s, set()) for s in subjects_of["B"][person]))
        if ia & ib:
            out[person] = REACH_ID
        elif held("A", person, "dob") and held("B", person, "dob"):
            out[person] = REACH_DOB
        elif namesake("A", "B", person) or namesake("B", "A", person):
            out[person] = REACH_NAMESAKE
        else:
            out[person] = REACH_PLACE
    return out


def _tokens(names: set[str]) -> set[str]:
    return {t for n in names for t in n.split() if len(t) > 1}


def analyst_review(matches: Sequence[Match], values_a: Sequence[SubjectValues],
                   values_b: Sequence[SubjectValues], *, strict: bool = False) -> list[tuple[Match, str | None]]:
    """What a demanding FIU analyst, shown both sides' records in clear, says of each
    match: ``None`` if he accepts it, else why not.

    He wants the stated evidence to be there, and enough: an identifier match needs
    the names to share a word; a ``bloom`` match an equal date of birth and a shared
    name word; a name-only match (``bloom:name``, ``bloom:part``) names that share
    their words but for initials and left-out names, no town, country or date of birth
    that both hold and that differ, and no one else on either side who fits as well
    (a subject of the same name words and no differing town, country or date).

    Unless ``strict``, he reads the result as a whole and the phones as well: a
    subject the result matches to the same counterpart is no rival (the result says
    the two are one person that a resolver left in two subjects; its own match is
    reviewed on its own), nor is one whose phones differ from the subject's (both
    carry phones, none in common: two men of one name)."""
    fa, fb = _profile_facts(values_a), _profile_facts(values_b)
    refs_a, refs_b = [v.ref for v in values_a], [v.ref for v in values_b]
    ids = ({v.ref: set(v.identifiers) for v in values_a}, {v.ref: set(v.identifiers) for v in values_b})
    words: tuple[dict[str, set[str]], dict[str, set[str]]] = ({}, {})
    for side, facts in enumerate((fa, fb)):
        for ref, f in facts.items():
            for t in _tokens(f.get("name", set())):
                words[side].setdefault(t, set()).add(ref)

    def fits(f: dict[str, set[str]], g: dict[str, set[str]]) -> bool:
        return all(f[k] & g[k] for k in ("dob", "city", "country") if f.get(k) and g.get(k))

    phones = ({r: {x for k, x in i if k == "phone"} for r, i in ids[0].items()},
              {r: {x for k, x in i if k == "phone"} for r, i in ids[1].items()})

    def phones_differ(side: int, ref: str, rival: str) -> bool:
        mine, theirs = phones[1 - side].get(ref, set()), phones[side].get(rival, set())
        return not strict and bool(mine) and bool(theirs) and not mine & theirs

    co_matched: tuple[dict[str, set[str]], dict[str, set[str]]] = (defaultdict(set), defaultdict(set))
    for m in matches if not strict else ():
        co_matched[0][refs_b[m.theirs]].add(refs_a[m.ours])  # our subjects matched to their subject
        co_matched[1][refs_a[m.ours]].add(refs_b[m.theirs])

    def rivals(side: int, shared: set[str], f: dict[str, set[str]], ref: str, exclude: set[str]) -> bool:
        """Another subject of ``side`` that fits ``f`` (the facts of ``ref``, of the other side)."""
        facts = (fa, fb)[side]
        refs = set.intersection(*(words[side].get(t, set()) for t in shared)) if shared else set()
        return any(r not in exclude and fits(f, facts[r]) and not phones_differ(side, ref, r) for r in refs)

    out: list[tuple[Match, str | None]] = []
    for m in matches:
        a, b = refs_a[m.ours], refs_b[m.theirs]
        f, g = fa.get(a, {}), fb.get(b, {})
        ta, tb = _tokens(f.get("name", set())), _tokens(g.get("name", set()))
        shared = ta & tb
        why: str | None = None
        if not m.via.startswith("bloom"):
            kinds = set(m.via.split(","))
            if not {k for k, _ in ids[0][a] & ids[1][b]} >= kinds:
                why = "the identifiers it names are not shared"
            elif ta and tb and not shared:
                why = "an identifier in common, but the names share no word"
        elif m.via == "bloom":
            if not (f.get("dob", set()) & g.get("dob", set())):
                why = "no equal date of birth"
            elif not shared:
                why = "the names share no word"
        else:
            if not fits(f, g):
                why = "a town, country or date of birth differs"
            elif not shared or len(shared) < min(len(ta), len(tb), 2):
                why = "the names do not share their words"
            elif rivals(1, shared, f, a, co_matched[1][a] | {b}) or rivals(0, shared, g, b, co_matched[0][b] | {a}):
                why = "someone else of that name fits as well"
        out.append((m, why))
    return out


@dataclass
class OverlapScore:
    precision: float
    recall: float
    f1: float
    matches: int
    correct: int
    overlap_people: int
    found_people: int
    recall_evidenced: float = float("nan")
    evidenced_people: int = 0
    precision_records: float = float("nan")
    """Share of matches whose two subjects hold records of one same person: a match
    to the minority person of a subject the resolver over-merged counts here."""


def score_overlap(matches: Sequence[Match], ours: Sequence[str], theirs: Sequence[str],
                  persons_a: dict[str, str], persons_b: dict[str, str],
                  evidenced: set[str] | None = None,
                  sets: tuple[dict[str, set[str]], dict[str, set[str]]] | None = None) -> OverlapScore:
    """Precision over the matched subject pairs (same majority person); recall over
    the people with subjects on both sides that some correct match joins (and,
    given ``evidenced``, over those of them with more than a name to go on)."""
    overlap = set(persons_a.values()) & set(persons_b.values())
    correct = 0
    found: set[str] = set()
    for m in matches:
        pa, pb = persons_a.get(ours[m.ours]), persons_b.get(theirs[m.theirs])
        if pa is not None and pa == pb:
            correct += 1
            found.add(pa)
    precision = correct / len(matches) if matches else 1.0
    recall = len(found) / len(overlap) if overlap else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    score = OverlapScore(precision, recall, f1, len(matches), correct, len(overlap), len(found))
    if evidenced is not None:
        ev = evidenced & overlap
        score.evidenced_people = len(ev)
        score.recall_evidenced = len(ev & found) / len(ev) if ev else 1.0
    if sets is not None:
        sa, sb = sets
        shared = sum(bool(sa.get(ours[m.ours], set()) & sb.get(theirs[m.theirs], set())) for m in matches)
        score.precision_records = shared / len(matches) if matches else 1.0
    return score
