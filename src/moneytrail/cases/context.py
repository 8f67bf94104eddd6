"""A case as the reports see it (`moneytrail.report.context.CaseContext`), read under audit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from moneytrail.cases.workflow import get_case
from moneytrail.opstore.audit import entries, record
from moneytrail.opstore.models import User
from moneytrail.opstore.users import require
from moneytrail.report.context import Attachment, AuditLine, CaseComment, CaseContext


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def context_for(session: Session, ref: str, actor: User, purpose: str = "case.read") -> CaseContext:
    """Everything a report needs about case `ref`; the read itself is audited."""
    require(actor, "read_cases")
    require(actor, "read_personal")
    case = get_case(session, ref)
    record(session, actor.username, purpose, f"case:{case.ref}")
    audit = [
        AuditLine(_aware(e.at), e.actor, e.action, e.target, e.before, e.after)
        for e in reversed(entries(session, target=f"case:{case.ref}", limit=10_000))
    ]
    return CaseContext(
        case_id=case.ref,
        title=case.title,
        kind=case.kind,
        state=case.state,
        warehouse=Path(case.warehouse),
        subject_ids=[s.subject_id for s in case.subjects],
        opened_at=_aware(case.created_at),
        assignee=case.assignee.username if case.assignee else None,
        score=case.score,
        role=case.role,
        community_id=case.community_id,
        attachments=[Attachment(a.kind, a.ref, a.note) for a in case.attachments],
        comments=[CaseComment(c.author.username, _aware(c.at), c.text) for c in case.comments],
        audit=audit,
        prepared_by=actor.username,
    )
