"""The case workflow: states, who may move a case where, assignment, comments, evidence.

Every change goes through here so that it is checked against the actor's role and
lands in the audit trail in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from moneytrail.errors import UserError
from moneytrail.opstore.audit import record
from moneytrail.opstore.models import Case, CaseAttachment, CaseComment, User, utcnow
from moneytrail.opstore.users import require

STATES = ("new", "in_review", "escalated", "reported", "closed_tp", "closed_fp")
CLOSED = ("closed_tp", "closed_fp")
KINDS = ("subject", "network")
ATTACHMENT_KINDS = ("transaction", "subject", "referral")

# Where a case may go from each state. Reporting to the FIU needs a supervisor's approval;
# reopening a closed case needs a supervisor too.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("in_review", "escalated", *CLOSED),
    "in_review": ("new", "escalated", *CLOSED),
    "escalated": ("in_review", "reported", *CLOSED),
    "reported": CLOSED,
    "closed_tp": ("in_review",),
    "closed_fp": ("in_review",),
}


def _target(case: Case) -> str:
    return f"case:{case.ref}"


def get_case(session: Session, ref: str) -> Case:
    case = session.scalar(select(Case).where(Case.ref == ref.strip().upper()))
    if case is None:
        raise UserError(f"no case {ref!r}; `moneytrail cases list` shows the cases")
    return case


def list_cases(session: Session, *, state: str | None = None, assignee: str | None = None,
               kind: str | None = None, limit: int = 100, offset: int = 0) -> list[Case]:
    q = select(Case)
    if state:
        if state not in STATES and state != "open":
            raise UserError(f"unknown state {state!r}; use one of {', '.join(STATES)} or open")
        q = q.where(Case.state.not_in(CLOSED)) if state == "open" else q.where(Case.state == state)
    if assignee:
        q = q.join(User, Case.assignee_id == User.id).where(User.username == assignee)
    if kind:
        q = q.where(Case.kind == kind)
    return list(session.scalars(q.order_by(Case.score.desc(), Case.id).offset(offset).limit(limit)))


def change_state(session: Session, case: Case, new_state: str, actor: User, note: str = "") -> Case:
    if new_state not in STATES:
        raise UserError(f"unknown state {new_state!r}; use one of {', '.join(STATES)}")
    if new_state == case.state:
        return case
    if new_state not in TRANSITIONS[case.state]:
        allowed = ", ".join(TRANSITIONS[case.state])
        raise UserError(f"case {case.ref} is {case.state}; it can go to {allowed}, not {new_state}")
    require(actor, "edit_case")
    if new_state == "reported":
        require(actor, "approve_report")
    if case.state in CLOSED:
        require(actor, "assign_case")  # reopening
    before = case.snapshot()
    case.state = new_state
    case.updated_at = utcnow()
    case.closed_at = utcnow() if new_state in CLOSED else None
    record(session, actor.username, "case.state", _target(case), before=before, after=case.snapshot(),
           details={"note": note} if note else None)
    if note:
        add_comment(session, case, actor, note)
    return case


def assign(session: Session, case: Case, assignee: User | None, actor: User) -> Case:
    require(actor, "assign_case")
    if assignee is not None and not (assignee.active and assignee.role in ("analyst", "supervisor", "admin")):
        raise UserError(f"{assignee.username} ({assignee.role}) cannot work on cases")
    before = case.snapshot()
    case.assignee = assignee
    case.assignee_id = assignee.id if assignee else None
    case.updated_at = utcnow()
    record(session, actor.username, "case.assign", _target(case), before=before, after=case.snapshot())
    return case


def add_comment(session: Session, case: Case, actor: User, text: str) -> CaseComment:
    require(actor, "edit_case")
    text = text.strip()
    if not text:
        raise UserError("a comment needs some text")
    comment = CaseComment(case_id=case.id, author_id=actor.id, text=text)
    case.comments.append(comment)
    case.updated_at = utcnow()
    session.flush()
    record(session, actor.username, "case.comment", _target(case), after={"comment": comment.id, "text": text})
    return comment


def attach(session: Session, case: Case, actor: User, kind: str, ref: str, note: str = "") -> CaseAttachment:
    require(actor, "edit_case")
    if kind not in ATTACHMENT_KINDS:
        raise UserError(f"unknown evidence kind {kind!r}; use one of {', '.join(ATTACHMENT_KINDS)}")
    ref = ref.strip()
    if not ref or (kind == "transaction" and ":" not in ref):
        raise UserError("a transaction is attached as PROVIDER:RECORD_ID" if kind == "transaction" else "give a reference")
    existing = next((a for a in case.attachments if a.kind == kind and a.ref == ref), None)
    if existing is not None:
        return existing
    att = CaseAttachment(case_id=case.id, kind=kind, ref=ref, note=note, added_by_id=actor.id)
    case.attachments.append(att)
    case.updated_at = utcnow()
    session.flush()
    record(session, actor.username, "case.attach", _target(case), after={"kind": kind, "ref": ref, "note": note})
    return att
