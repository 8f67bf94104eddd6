"""Alerts from a batch run become cases; a re-run updates the open ones.

A case remembers the party records behind its subject, so the next run finds it
again even when entity resolution numbers subjects differently. A closed case is
not reopened by a re-run; a new case opens only when the subject brings records
the closed case never saw.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import duckdb
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from moneytrail.errors import UserError
from moneytrail.opstore import OpsStore
from moneytrail.opstore.audit import record
from moneytrail.opstore.models import Case, CaseRecord, CaseSubject, Run, ScoreHistory, utcnow
from moneytrail.store import table_exists

# A community becomes a network case when it holds a flagged facilitator and scores this high.
NETWORK_MIN_SCORE = 0.5
# Two networks are the same when they share this share of the smaller one's party records.
NETWORK_OVERLAP = 0.5

RecordKey = tuple[str, str, str]


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    run_id: int = 0


@dataclass
class _Alert:
    subject_id: str
    role: str
    score: float
    reasons: str


def _read_run(warehouse: Path) -> tuple[list[_Alert], dict[str, set[RecordKey]], list[tuple[str, float, str, list[str]]]]:
    if not warehouse.is_file():
        raise UserError(f"no warehouse at {warehouse}; run `moneytrail run BUNDLE --out OUT` first")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as exc:
        raise UserError(f"cannot read {warehouse} (is a run still writing it?): {exc}") from exc
    try:
        if not table_exists(con, "subject_scores"):
            raise UserError(f"{warehouse} holds no scores yet; run `moneytrail run` on it first")
        alerts = [
            _Alert(str(s), str(r), float(sc), str(re or ""))
            for s, r, sc, re in con.execute(
                "SELECT subject_id, role, score, reasons FROM subject_scores WHERE flagged = 1 ORDER BY subject_id"
            ).fetchall()
        ]
        networks: list[tuple[str, float, str, list[str]]] = []
        if table_exists(con, "community_summary"):
            for cid, score, title, members in con.execute(
                f"""SELECT c.community_id::VARCHAR, c.score,
                           format('network {{}}: {{}} facilitators, {{}} consumers, {{}} payments',
                                  c.community_id, c.facilitators, c.consumers, c.payments),
                           list(m.subject_id ORDER BY m.subject_id)
                    FROM community_summary c JOIN communities m USING (community_id)
                    WHERE c.facilitators >= 1 AND c.score >= {NETWORK_MIN_SCORE}
                    GROUP BY ALL ORDER BY c.score DESC"""
            ).fetchall():
                networks.append((str(cid), float(score), str(title), [str(m) for m in members]))
        wanted = sorted({a.subject_id for a in alerts} | {m for n in networks for m in n[3]})
        records: dict[str, set[RecordKey]] = defaultdict(set)
        for s, p, rid, party in con.execute(
            "SELECT subject_id, provider, record_id, party FROM subject_records WHERE subject_id IN (SELECT unnest(?))",
            [wanted],
        ).fetchall():
            records[s].add((p, rid, party))
    finally:
        con.close()
    return alerts, records, networks


def _new_case(session: Session, **fields: object) -> Case:
    case = Case(ref=uuid4().hex[:16], **fields)
    session.add(case)
    session.flush()
    case.ref = f"C-{case.id:06d}"
    return case


def _title(alert: _Alert) -> str:
    from moneytrail.indicators import load_catalogue

    ids = [r.strip() for r in alert.reasons.split(";") if r.strip()]
    if not ids:
        return f"{alert.role} {alert.subject_id}"
    top = load_catalogue().get(ids[0])
    more = f" (+{len(ids) - 1} more)" if len(ids) > 1 else ""
    return f"{alert.role} {alert.subject_id}: {top.title if top else ids[0]}{more}"[:200]


def sync_from_run(store: OpsStore, warehouse: Path, actor: str) -> SyncReport:
    """Bring a run's flagged subjects and networks into the store as cases."""
    warehouse = warehouse.resolve()
    alerts, records, networks = _read_run(warehouse)
    report = SyncReport()
    with store.session() as session:
        run = Run(warehouse=str(warehouse), synced_by=actor)
        session.add(run)
        session.flush()
        report.run_id = run.id
        if alerts:
            session.execute(insert(ScoreHistory), [
                {"subject_id": a.subject_id, "run_id": run.id, "role": a.role, "score": a.score, "flagged": True}
                for a in alerts
            ])
        _sync_subjects(session, warehouse, alerts, records, actor, report)
        _sync_networks(session, warehouse, networks, records, actor, report)
        run.created, run.updated, run.unchanged = report.created, report.updated, report.unchanged
        record(session, actor, "run.sync", f"run:{run.id}",
               details={"warehouse": str(warehouse), "created": report.created,
                        "updated": report.updated, "unchanged": report.unchanged})
    return report


def _case_by_record(session: Session) -> dict[RecordKey, int]:
    rows = session.execute(
        select(CaseRecord.provider, CaseRecord.record_id, CaseRecord.party, CaseRecord.case_id)
        .join(Case, Case.id == CaseRecord.case_id).where(Case.kind == "subject")
    ).all()
    return {(p, r, party): cid for p, r, party, cid in rows}


def _sync_subjects(session: Session, warehouse: Path, alerts: list[_Alert],
                   records: dict[str, set[RecordKey]], actor: str, report: SyncReport) -> None:
    owner = _case_by_record(session)
    cases = {c.id: c for c in session.scalars(select(Case).where(Case.kind == "subject"))}
    fresh: list[tuple[Case, list[RecordKey], list[str]]] = []
    pending: list[dict[str, object]] = []
    for alert in alerts:
        keys = records.get(alert.subject_id, set())
        matched = sorted({owner[k] for k in keys if k in owner and owner[k] > 0})
        open_case = next((cases[i] for i in matched if cases[i].is_open), None)
        if open_case is not None:
            new_keys = [k for k in keys if k not in owner]
            before = open_case.snapshot()
            open_case.score, open_case.role, open_case.reasons = alert.score, alert.role, alert.reasons
            if [s.subject_id for s in open_case.subjects] != [alert.subject_id]:
                open_case.subjects = [CaseSubject(subject_id=alert.subject_id)]
            pending += _record_rows(open_case.id, new_keys, owner)
            after = open_case.snapshot()
            if before != after or new_keys:
                open_case.updated_at = utcnow()
                record(session, actor, "case.update", f"case:{open_case.ref}", before=before, after=after,
                       details={"new_records": len(new_keys), "warehouse": str(warehouse)}, flush=False)
                report.updated += 1
            else:
                report.unchanged += 1
            continue
        if matched and all(k in owner for k in keys):
            report.unchanged += 1  # decided already: closed, and nothing new since
            continue
        case = Case(ref=uuid4().hex[:16], kind="subject", title=_title(alert), state="new", score=alert.score,
                    role=alert.role, reasons=alert.reasons, warehouse=str(warehouse),
                    subjects=[CaseSubject(subject_id=alert.subject_id)])
        new_keys = [k for k in keys if k not in owner]
        for k in new_keys:
            owner[k] = 0  # claimed by a case about to be numbered
        fresh.append((case, new_keys, [cases[i].ref for i in matched]))
    # one flush numbers every new case
    session.add_all([c for c, _, _ in fresh])
    session.flush()
    for case, claimed, reopens in fresh:
        case.ref = f"C-{case.id:06d}"
        cases[case.id] = case
        pending += _record_rows(case.id, claimed, owner)
        record(session, actor, "case.create", f"case:{case.ref}", after=case.snapshot(),
               details={"warehouse": str(warehouse), "reopens": reopens}, flush=False)
        report.created += 1
    if pending:
        session.execute(insert(CaseRecord), pending)
    session.flush()


def _record_rows(case_id: int, keys: list[RecordKey], owner: dict[RecordKey, int]) -> list[dict[str, object]]:
    for k in keys:
        owner[k] = case_id
    return [{"case_id": case_id, "provider": p, "record_id": r, "party": party} for p, r, party in keys]


def _sync_networks(session: Session, warehouse: Path, networks: list[tuple[str, float, str, list[str]]],
                   records: dict[str, set[RecordKey]], actor: str, report: SyncReport) -> None:
    existing = list(session.scalars(select(Case).where(Case.kind == "network")))
    known: dict[int, set[RecordKey]] = defaultdict(set)
    for cid, p, r, party in session.execute(
        select(CaseRecord.case_id, CaseRecord.provider, CaseRecord.record_id, CaseRecord.party)
        .join(Case, Case.id == CaseRecord.case_id).where(Case.kind == "network")
    ):
        known[cid].add((p, r, party))
    for community_id, score, title, members in networks:
        keys = set().union(*(records.get(m, set()) for m in members))
        match = next(
            (c for c in existing
             if known[c.id] and len(known[c.id] & keys) >= NETWORK_OVERLAP * min(len(known[c.id]), len(keys))),
            None,
        )
        if match is not None and not match.is_open:
            report.unchanged += 1
            continue
        if match is not None:
            before = match.snapshot()
            match.score, match.title, match.community_id = score, title, community_id
            if [s.subject_id for s in match.subjects] != sorted(members):
                match.subjects = [CaseSubject(subject_id=m) for m in sorted(members)]
            new_keys = keys - known[match.id]
            _add_network_records(session, match.id, new_keys, known)
            after = match.snapshot()
            if before != after or new_keys:
                match.updated_at = utcnow()
                record(session, actor, "case.update", f"case:{match.ref}", before=before, after=after,
                       details={"new_records": len(new_keys), "warehouse": str(warehouse)})
                report.updated += 1
            else:
                report.unchanged += 1
            continue
        case = _new_case(session, kind="network", title=title, state="new", score=score, role="network",
                         reasons="", warehouse=str(warehouse), community_id=community_id,
                         subjects=[CaseSubject(subject_id=m) for m in sorted(members)])
        _add_network_records(session, case.id, keys, known)
        existing.append(case)
        record(session, actor, "case.create", f"case:{case.ref}", after=case.snapshot(),
               details={"warehouse": str(warehouse)})
        report.created += 1


def _add_network_records(session: Session, case_id: int, keys: set[RecordKey],
                         known: dict[int, set[RecordKey]]) -> None:
    if keys:
        session.execute(insert(CaseRecord), [
            {"case_id": case_id, "provider": p, "record_id": r, "party": party} for p, r, party in sorted(keys)
        ])
        known[case_id] |= keys
