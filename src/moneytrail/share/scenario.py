"""The two-country scenario: one synthetic world split between two units.

Each "country" sees only its own providers' files, ingests and resolves them
into its own warehouse, and encodes its own subjects. The people who appear in
both countries' data (from the world's truth files) are the true overlap that
matching should find. Used by the tests and by ``bench/share.py``.
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
