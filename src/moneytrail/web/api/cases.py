"""Cases through the API: list, read, move, assign, comment, attach evidence, produce reports.

Every change goes through `moneytrail.cases` (which checks the role and writes the
audit entry in the same transaction); this module only translates HTTP.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moneytrail.cases import add_comment, assign, attach, change_state, context_for, get_case
from moneytrail.cases.workflow import CLOSED, STATES, TRANSITIONS
from moneytrail.errors import UserError
from moneytrail.opstore.audit import entries, record
from moneytrail.opstore.models import Case, CaseSubject, User
from moneytrail.opstore.users import Forbidden, can, get_user
from moneytrail.web.api.schemas import (
    AssignIn,
    AttachmentIn,
    CaseDetailOut,
    CaseOut,
    CommentIn,
    Page,
    StateIn,
)
from moneytrail.web.auth import Caller
from moneytrail.web.deps import (
    AppState,
    PageParams,
    State,
    cases_assign,
    cases_edit,
    cases_read,
    load_user,
    page_of,
    write,
)

router = APIRouter(tags=["cases"])

ReadCaller = Annotated[Caller, Depends(cases_read)]
EditCaller = Annotated[Caller, Depends(cases_edit)]
AssignCaller = Annotated[Caller, Depends(cases_assign)]
CaseStateFilter = Literal["new", "in_review", "escalated", "reported", "closed_tp", "closed_fp", "open"]


# --- helpers other routers use -------------------------------------------------------------


def case_refs_for(state: AppState, subject_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The case of each subject (an open one before a closed one, then the newest)."""
    if not subject_ids:
        return {}
    out: dict[str, dict[str, Any]] = {}
    with state.ops.session() as s:
        got = s.execute(
            select(CaseSubject.subject_id, Case).join(Case, Case.id == CaseSubject.case_id)
            .where(CaseSubject.subject_id.in_(subject_ids))
            .order_by(Case.created_at.desc(), Case.id.desc())
        ).all()
        for sid, case in sorted(got, key=lambda r: r[1].state in CLOSED):
            out.setdefault(sid, {"ref": case.ref, "state": case.state, "title": case.title,
                                 "assignee": case.assignee.username if case.assignee else None})
    return out


def subjects_with_case(state: AppState, case_state: str | None) -> list[str]:
    """Subjects having a case in this state (`open`: not closed; None: any case)."""
    q = select(CaseSubject.subject_id).join(Case, Case.id == CaseSubject.case_id).distinct()
    if case_state == "open":
        q = q.where(Case.state.not_in(CLOSED))
    elif case_state:
        q = q.where(Case.state == case_state)
    with state.ops.session() as s:
        return list(s.scalars(q))


def _case(s: Session, ref: str) -> Case:
    try:
        return get_case(s, ref)
    except UserError as exc:
        raise HTTPException(404, str(exc)) from exc


def _summary(case: Case) -> dict[str, Any]:
    return {
        "ref": case.ref, "kind": case.kind, "title": case.title, "state": case.state, "score": case.score,
        "role": case.role, "assignee": case.assignee.username if case.assignee else None,
        "community_id": case.community_id, "subject_ids": [x.subject_id for x in case.subjects],
        "created_at": case.created_at, "updated_at": case.updated_at,
    }


def next_states(case: Case, role: str) -> list[str]:
    """Where this role may move the case now (the workflow's rules, for the buttons to show)."""
    if not can(role, "edit_case"):
        return []
    if case.state in CLOSED and not can(role, "assign_case"):
        return []
    return [st for st in TRANSITIONS[case.state] if st != "reported" or can(role, "approve_report")]


def _detail(s: Session, case: Case, caller: Caller) -> dict[str, Any]:
    history = [
        {"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target, "before": e.before,
         "after": e.after, "details": e.details, "hash": e.hash}
        for e in entries(s, target=f"case:{case.ref}", limit=500)
    ]
    return _summary(case) | {
        "comments": [{"author": c.author.username, "at": c.at, "text": c.text} for c in case.comments],
        "attachments": [{"kind": a.kind, "ref": a.ref, "note": a.note,
                         "added_by": a.added_by.username if a.added_by else None, "at": a.at}
                        for a in case.attachments],
        "history": history,
        "next_states": next_states(case, caller.role),
    }


# --- routes -----------------------------------------------------------------------------------


@router.get("/cases", response_model=Page[CaseOut])
def cases(
    caller: ReadCaller, state: State, paging: PageParams,
    case_state: Annotated[CaseStateFilter | None, Query(alias="state")] = None,
    assignee: Annotated[str | None, Query(max_length=64, description="a username, or `me`")] = None,
    kind: Literal["subject", "network"] | None = None,
) -> dict[str, Any]:
    """Cases, highest score first."""
    q = select(Case)
    if case_state == "open":
        q = q.where(Case.state.not_in(CLOSED))
    elif case_state:
        q = q.where(Case.state == case_state)
    if assignee:
        name = caller.username if assignee == "me" else assignee
        q = q.join(User, Case.assignee_id == User.id).where(User.username == name)
    if kind:
        q = q.where(Case.kind == kind)
    with state.ops.session() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        items = [_summary(c) for c in s.scalars(
            q.order_by(Case.score.desc(), Case.id).offset((paging.page - 1) * paging.page_size).limit(paging.page_size))]
    return page_of(items, total, paging)


@router.get("/cases/{ref}", response_model=CaseDetailOut)
def case_detail(ref: str, caller: ReadCaller, state: State) -> dict[str, Any]:
    """One case with its comments, evidence, history and the states it may move to."""
    def read(s: Session) -> dict[str, Any]:
        case = _case(s, ref)
        record(s, caller.username, "case.read", f"case:{case.ref}")
        return _detail(s, case, caller)
    return write(state, read)


def _change(state: AppState, ref: str, caller: Caller, action: Any) -> dict[str, Any]:
    """Run one workflow change; a refused move is 409, a refused role 403."""
    def change(s: Session) -> dict[str, Any]:
        case = _case(s, ref)
        action(s, case, load_user(s, caller))
        s.flush()
        return _detail(s, case, caller)
    try:
        return write(state, change)
    except Forbidden as exc:
        raise HTTPException(403, str(exc)) from exc
    except UserError as exc:
        raise HTTPException(409, str(exc)) from exc


@router.post("/cases/{ref}/state", response_model=CaseDetailOut)
def case_state_change(ref: str, body: StateIn, caller: EditCaller, state: State) -> dict[str, Any]:
    """Move the case (new, in_review, escalated, reported, closed_tp, closed_fp); `note` becomes a comment."""
    if body.state not in STATES:
        raise HTTPException(422, f"unknown state {body.state!r}; use one of {', '.join(STATES)}")
    return _change(state, ref, caller, lambda s, case, user: change_state(s, case, body.state, user, body.note))


@router.post("/cases/{ref}/assign", response_model=CaseDetailOut)
def case_assign(ref: str, body: AssignIn, caller: AssignCaller, state: State) -> dict[str, Any]:
    """Give the case to an analyst or supervisor."""
    def act(s: Session, case: Case, user: User) -> None:
        try:
            assignee = get_user(s, body.username)
        except UserError as exc:
            raise HTTPException(404, str(exc)) from exc
        assign(s, case, assignee, user)
    return _change(state, ref, caller, act)


@router.post("/cases/{ref}/comments", response_model=CaseDetailOut)
def case_comment(ref: str, body: CommentIn, caller: EditCaller, state: State) -> dict[str, Any]:
    """Add a comment."""
    return _change(state, ref, caller, lambda s, case, user: add_comment(s, case, user, body.text))


@router.post("/cases/{ref}/attachments", response_model=CaseDetailOut)
def case_attach(ref: str, body: AttachmentIn, caller: EditCaller, state: State) -> dict[str, Any]:
    """Attach evidence: a transaction (`provider:record_id`), a subject id or a referral id."""
    return _change(state, ref, caller, lambda s, case, user: attach(s, case, user, body.kind, body.ref, body.note))


def _context(state: AppState, ref: str, caller: Caller, purpose: str) -> Any:
    def read(s: Session) -> Any:
        _case(s, ref)
        return context_for(s, ref, load_user(s, caller), purpose=purpose)
    try:
        return write(state, read)
    except Forbidden as exc:
        raise HTTPException(403, str(exc)) from exc


def _report_error(exc: UserError) -> HTTPException:
    return HTTPException(409, str(exc))


@router.get("/cases/{ref}/report/goaml", response_class=Response,
            responses={200: {"content": {"application/xml": {}}, "description": "goAML XML"}})
def case_goaml(ref: str, caller: ReadCaller, state: State) -> Response:
    """The case as a goAML report (XML download) for the financial intelligence unit, validated
    against the unit's XSD; 409 with the reason when it does not validate."""
    try:
        from moneytrail.report.goaml import write_goaml
    except ImportError as exc:
        raise HTTPException(503, "the goAML writer is not installed in this version") from exc
    ctx = _context(state, ref, caller, "report.goaml")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            result = write_goaml(ctx, Path(tmp) / f"{ctx.case_id}-goaml.xml")
        except UserError as exc:
            raise _report_error(exc) from exc
        xml = Path(result.path).read_bytes()
    return Response(xml, media_type="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{ctx.case_id}-goaml.xml"'})


@router.get("/cases/{ref}/report/case", response_class=HTMLResponse)
def case_report(ref: str, caller: ReadCaller, state: State) -> Response:
    """The case report as one HTML page (charts inline)."""
    try:
        from moneytrail.report.case_report import render_case_report
    except ImportError as exc:
        raise HTTPException(503, "the case report is not installed in this version") from exc
    ctx = _context(state, ref, caller, "report.case")
    try:
        html = render_case_report(ctx)
    except UserError as exc:
        raise _report_error(exc) from exc
    return HTMLResponse(html, headers={"Content-Disposition": f'inline; filename="{ctx.case_id}.html"'})
