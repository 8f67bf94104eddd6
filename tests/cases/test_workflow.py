"""Cases from runs, the workflow by role, re-runs without duplicates: on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from sqlalchemy import func, select

from moneytrail.cases import (
    add_comment,
    assign,
    attach,
    change_state,
    context_for,
    get_case,
    list_cases,
    sync_from_run,
)
from moneytrail.errors import UserError
from moneytrail.opstore import OpsStore
from moneytrail.opstore.audit import entries, verify
from moneytrail.opstore.models import Case, CaseRecord, User
from moneytrail.opstore.users import Forbidden, create_user


def make_run(path: Path, subjects: dict[str, list[tuple[str, str, str]]], flagged: dict[str, float],
             community: list[str] | None = None) -> Path:
    """A warehouse as a batch run leaves it, reduced to what case sync reads."""
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE subject_records (subject_id VARCHAR, provider VARCHAR, record_id VARCHAR, party VARCHAR)")
    con.execute("CREATE TABLE subject_scores (subject_id VARCHAR, role VARCHAR, score DOUBLE, flagged INTEGER, reasons VARCHAR)")
    for sid, recs in subjects.items():
        for rec in recs:
            con.execute("INSERT INTO subject_records VALUES (?, ?, ?, ?)", [sid, *rec])
        con.execute("INSERT INTO subject_scores VALUES (?, 'consumer', ?, ?, 'MT01;MT03')",
                    [sid, flagged.get(sid, 0.01), int(sid in flagged)])
    con.execute("CREATE TABLE communities (community_id VARCHAR, subject_id VARCHAR)")
    con.execute("""CREATE TABLE community_summary (community_id VARCHAR, members INTEGER, facilitators INTEGER,
                   consumers INTEGER, intermediaries INTEGER, total_usd DOUBLE, payments INTEGER,
                   first TIMESTAMP, last TIMESTAMP, score DOUBLE)""")
    if community:
        con.execute("INSERT INTO community_summary VALUES ('K1', ?, 1, ?, 0, 500, 9, NULL, NULL, 0.9)",
                    [len(community), len(community) - 1])
        for m in community:
            con.execute("INSERT INTO communities VALUES ('K1', ?)", [m])
    con.close()
    return path


def recs(prefix: str, n: int) -> list[tuple[str, str, str]]:
    return [("remit", f"{prefix}{i}", "sender") for i in range(n)]


@pytest.fixture
def people(ops_store: OpsStore) -> OpsStore:
    with ops_store.session() as s:
        create_user(s, "ana", "long enough password", "analyst")
        create_user(s, "sue", "long enough password", "supervisor")
        create_user(s, "leo", "long enough password", "liaison")
    return ops_store


def user(s, name: str) -> User:  # type: ignore[no-untyped-def]
    return s.scalars(select(User).where(User.username == name)).one()


def test_alerts_become_cases_and_a_rerun_does_not_duplicate_them(people: OpsStore, tmp_path: Path) -> None:
    run1 = make_run(tmp_path / "r1.duckdb", {"S1": recs("a", 3), "S2": recs("b", 2), "S3": recs("c", 2)},
                    {"S1": 0.9, "S2": 0.7}, community=["S1", "S2", "S3"])
    first = sync_from_run(people, run1, "sue")
    assert (first.created, first.updated) == (3, 0)  # two subjects and one network
    # the next run: resolution renumbered everyone, S1 brought a new record, S3 is flagged now
    run2 = make_run(tmp_path / "r2.duckdb",
                    {"S7": [*recs("a", 3), ("wallet", "w9", "sender")], "S8": recs("b", 2), "S9": recs("c", 2)},
                    {"S7": 0.95, "S8": 0.7, "S9": 0.8}, community=["S7", "S8", "S9"])
    second = sync_from_run(people, run2, "sue")
    assert second.created == 1  # only S9 is new
    with people.session() as s:
        subject_cases = list_cases(s, kind="subject")
        assert len(subject_cases) == 3
        c1 = next(c for c in subject_cases if "S7" in [x.subject_id for x in c.subjects])
        assert c1.score == pytest.approx(0.95)
        assert s.scalar(select(func.count()).select_from(CaseRecord).where(CaseRecord.case_id == c1.id)) == 4
        assert len(list_cases(s, kind="network")) == 1
        assert [e.action for e in entries(s, target=f"case:{c1.ref}")] == ["case.update", "case.create"]
    third = sync_from_run(people, run2, "sue")
    assert (third.created, third.updated, third.unchanged) == (0, 0, 4)


def test_a_closed_case_is_not_reopened_unless_new_activity_arrives(people: OpsStore, tmp_path: Path) -> None:
    run1 = make_run(tmp_path / "r1.duckdb", {"S1": recs("a", 2)}, {"S1": 0.9})
    sync_from_run(people, run1, "sue")
    with people.session() as s:
        change_state(s, get_case(s, "C-000001"), "closed_fp", user(s, "ana"), "family support")
    assert sync_from_run(people, run1, "sue").created == 0
    run2 = make_run(tmp_path / "r2.duckdb", {"S1": recs("a", 3)}, {"S1": 0.9})
    assert sync_from_run(people, run2, "sue").created == 1
    with people.session() as s:
        new = list_cases(s, state="new")
        assert len(new) == 1 and new[0].ref == "C-000002"


def test_workflow_states_roles_and_audit(people: OpsStore, tmp_path: Path) -> None:
    sync_from_run(people, make_run(tmp_path / "r.duckdb", {"S1": recs("a", 2)}, {"S1": 0.9}), "sue")
    with people.session() as s:
        case, ana, sue, leo = get_case(s, "c-000001"), user(s, "ana"), user(s, "sue"), user(s, "leo")
        with pytest.raises(Forbidden):
            assign(s, case, ana, ana)  # analysts do not assign
        assign(s, case, ana, sue)
        change_state(s, case, "in_review", ana)
        add_comment(s, case, ana, "pays a known facilitator at night")
        attach(s, case, ana, "transaction", "remit:a0", "first payment")
        attach(s, case, ana, "transaction", "remit:a0")  # the same evidence twice is kept once
        with pytest.raises(UserError, match="can go to"):
            change_state(s, case, "reported", sue)  # must be escalated first
        change_state(s, case, "escalated", ana)
        with pytest.raises(Forbidden):
            change_state(s, case, "reported", ana)  # a supervisor approves reports
        with pytest.raises(Forbidden):
            change_state(s, case, "in_review", leo)  # liaison officers do not work cases
        change_state(s, case, "reported", sue)
        change_state(s, case, "closed_tp", sue)
        with pytest.raises(Forbidden):
            change_state(s, case, "in_review", ana)  # only a supervisor reopens
        with pytest.raises(UserError, match="unknown state"):
            change_state(s, case, "archived", sue)
        assert len(case.attachments) == 1 and case.closed_at is not None
    with people.session() as s:
        trail = list(reversed(entries(s, target="case:C-000001")))
        assert [e.action for e in trail] == [
            "case.create", "case.assign", "case.state", "case.comment", "case.attach",
            "case.state", "case.state", "case.state",
        ]
        assert trail[1].before["assignee"] is None and trail[1].after["assignee"] == "ana"
        assert (trail[2].actor, trail[2].before["state"], trail[2].after["state"]) == ("ana", "new", "in_review")
        assert verify(s).ok


def test_reading_a_case_is_audited_and_refused_to_a_liaison(people: OpsStore, tmp_path: Path) -> None:
    sync_from_run(people, make_run(tmp_path / "r.duckdb", {"S1": recs("a", 2)}, {"S1": 0.9}), "sue")
    with people.session() as s:
        ctx = context_for(s, "C-000001", user(s, "ana"))
        assert ctx.subject_ids == ["S1"] and ctx.kind == "subject" and ctx.prepared_by == "ana"
        assert [a.action for a in ctx.audit] == ["case.create", "case.read"]  # the read itself is on record
        with pytest.raises(Forbidden):
            context_for(s, "C-000001", user(s, "leo"))
    with people.session() as s:
        assert [e.actor for e in entries(s, action="case.read")] == ["ana"]


def test_sync_refuses_a_missing_or_unscored_warehouse(people: OpsStore, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no warehouse"):
        sync_from_run(people, tmp_path / "nope.duckdb", "sue")
    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    with pytest.raises(UserError, match="no scores"):
        sync_from_run(people, tmp_path / "empty.duckdb", "sue")
    with people.session() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
