"""What a report needs to know about one case, independent of where cases are kept.

The case workflow (`moneytrail.cases`) builds a `CaseContext` from the operational store;
the exporters (goAML, FollowTheMoney, the case report) read the warehouse for the evidence
of `subject_ids` and take everything else from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class CaseComment:
    author: str
    at: datetime
    text: str


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    actor: str
    action: str
    target: str
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None


@dataclass(frozen=True)
class Attachment:
    kind: str  # transaction | subject | referral
    ref: str  # "provider:record_id", a subject id, or a referral id
    note: str = ""


@dataclass
class CaseContext:
    case_id: str  # the analyst-facing reference, e.g. C-000012
    title: str
    kind: str  # subject | network
    state: str
    warehouse: Path  # the DuckDB warehouse the case's evidence lives in
    subject_ids: list[str]
    opened_at: datetime
    assignee: str | None = None
    score: float = 0.0
    role: str = ""
    community_id: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    comments: list[CaseComment] = field(default_factory=list)
    audit: list[AuditLine] = field(default_factory=list)
    prepared_by: str = ""  # the user producing the report
