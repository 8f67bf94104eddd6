"""Response and request bodies of the REST API (`/api/v1`), one pydantic model each.

They are the contract with the browser workspace and with machines: the OpenAPI
document at `/api/v1/openapi.json` is generated from them. Times are ISO 8601 in
UTC; money is in US dollars unless a field says otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, Field

T = TypeVar("T")


def _as_utc(at: datetime) -> datetime:
    """The warehouse and SQLite keep naive UTC times; the API always says they are UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]

Role = Literal["analyst", "supervisor", "liaison", "admin"]
SubjectRole = Literal["consumer", "facilitator", "intermediary", "none"]


class ErrorOut(BaseModel):
    """Every error: HTTP status and one sentence that says what is wrong and what to do."""

    status: int
    detail: str
    errors: list[dict[str, Any]] = Field(default_factory=list, description="field errors of a 422")


class Page(BaseModel, Generic[T]):
    """One page of a list; `total` counts every match, not just this page."""

    items: list[T]
    total: int
    page: int
    page_size: int


# --- health, authentication -------------------------------------------------------------


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    warehouse: bool = Field(description="the warehouse opened and holds scores")
    ops_store: bool = Field(description="the operational store (users, cases, audit) answered")


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    permissions: list[str]


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="send back as the X-CSRF-Token header on POST requests authenticated by the cookie")


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="what the token is for, e.g. 'payout-screening'")


class TokenOut(BaseModel):
    name: str
    token: str = Field(description="shown once; send as `Authorization: Bearer TOKEN`")


class OkOut(BaseModel):
    ok: bool = True


# --- runs ---------------------------------------------------------------------------------


class IngestedFileOut(BaseModel):
    path: str
    provider: str
    format: str
    records: int
    quarantined: int
    ingested_at: UtcDateTime | None


class SyncedRunOut(BaseModel):
    """A batch run brought into the case store by `moneytrail cases sync`."""

    id: int
    warehouse: str
    synced_at: UtcDateTime
    synced_by: str
    created: int
    updated: int
    unchanged: int


class RunOut(BaseModel):
    """What the served warehouse holds and, when `run.json` sits beside it, the batch run that wrote it."""

    warehouse: str
    bundle: str | None = None
    model: str | None = None
    stage_seconds: dict[str, float] = Field(default_factory=dict)
    transactions: int
    subjects: int
    flagged_subjects: int
    flagged_transactions: int
    referrals: int
    quarantined: int
    first_payment: UtcDateTime | None
    last_payment: UtcDateTime | None
    files: list[IngestedFileOut]


class RunsOut(BaseModel):
    current: RunOut
    synced: list[SyncedRunOut] = Field(description="newest first")


# --- alerts, subjects, transactions ---------------------------------------------------------


class CaseRef(BaseModel):
    ref: str
    state: str
    title: str = ""
    assignee: str | None = None


class AlertOut(BaseModel):
    """One flagged subject in the review queue."""

    subject_id: str
    name: str | None = Field(description="the name most often written on its records")
    role: SubjectRole
    score: float
    reasons: list[str] = Field(description="indicator ids that fired (titles and sources: GET /indicators)")
    corridors: list[str] = Field(description="'SENDER>RECEIVER' country pairs of its payments, busiest first")
    channels: list[str]
    payments: int
    total_usd: float
    last_payment: UtcDateTime | None
    community_id: str | None
    case: CaseRef | None


class SourceOut(BaseModel):
    """A published source of an indicator (tag R: red flag list, S: study, M: method, D: domain knowledge)."""

    agency: str
    document: str
    year: int
    tag: str


class IndicatorOut(BaseModel):
    """An indicator that contributed to the subject's score, with the evidence and its source."""

    id: str
    title: str
    level: str
    value: str = Field(description="the subject's value, or the share of its transactions on which it fired")
    threshold: str
    weight: float = Field(description="contribution to the model's logit (weight times value)")
    sources: list[SourceOut]
    cite: str


class CatalogueIndicatorOut(BaseModel):
    """One indicator of the published catalogue."""

    id: str
    title: str
    role: str
    level: str
    definition: str
    threshold: str
    sources: list[SourceOut]
    cite: str


class IdentifierOut(BaseModel):
    kind: Literal["name", "email", "phone", "account", "dob", "address", "id_document", "device", "ip"]
    value: str
    providers: list[str]
    records: int


class RecordOut(BaseModel):
    record_id: str
    party: str
    side: str
    name: str | None
    country: str | None
    account: str | None
    ts_utc: UtcDateTime | None
    amount_usd: float | None


class ProviderRecordsOut(BaseModel):
    provider: str
    records: int
    items: list[RecordOut] = Field(description="the newest records (at most 50)")


class RunScoreOut(BaseModel):
    """The subject's score at one synchronised run (from the case store)."""

    run_id: int
    at: UtcDateTime
    role: str
    score: float
    flagged: bool


class MonthlyScoreOut(BaseModel):
    """The highest score of the subject's payments in one month, and the flagged ones."""

    month: str = Field(description="YYYY-MM")
    max_score: float
    payments: int
    flagged: int
    total_usd: float


class ReferralLinkOut(BaseModel):
    subject_id: str | None = Field(None, description="the payment subject linked")
    referral_provider: str
    referral_record_id: str
    platform: str | None
    account_id: str | None
    via: str
    evidence: str


class SubjectOut(BaseModel):
    subject_id: str
    name: str | None
    role: SubjectRole
    score: float
    flagged: bool
    reasons: list[str]
    role_scores: dict[str, float] = Field(description="consumer, facilitator, intermediary probabilities")
    score_before_network: float | None
    countries: list[str]
    identifiers: list[IdentifierOut]
    records_by_provider: list[ProviderRecordsOut]
    indicators: list[IndicatorOut]
    score_history: list[RunScoreOut] = Field(description="one point per synchronised run, oldest first")
    monthly: list[MonthlyScoreOut] = Field(description="its payments month by month")
    network: dict[str, float | int | str | None] = Field(description="network_features and network_risk of the subject")
    community_id: str | None
    referrals: list[ReferralLinkOut]
    cases: list[CaseRef]


class PartyOut(BaseModel):
    subject_id: str | None
    name: str | None
    country: str | None
    account: str | None
    city: str | None = None


class TransactionOut(BaseModel):
    provider: str
    record_id: str
    ts_utc: UtcDateTime | None
    txn_type: str | None
    amount: float | None
    currency: str | None
    amount_usd: float | None
    channel: str | None
    sender_country: str | None
    receiver_country: str | None
    payout_agent_id: str | None
    sender: PartyOut
    receiver: PartyOut
    score: float | None
    flagged: bool
    reasons: list[str]
    direction: Literal["sent", "received"] | None = Field(None, description="only on a subject's transactions")


class TimelineEventOut(BaseModel):
    """A payment or a platform session on the subject's time axis."""

    kind: Literal["payment", "session", "login"]
    at: UtcDateTime
    end: UtcDateTime | None = None
    label: str
    # payments
    provider: str | None = None
    record_id: str | None = None
    direction: Literal["sent", "received"] | None = None
    amount_usd: float | None = None
    counterparty_subject_id: str | None = None
    score: float | None = None
    flagged: bool | None = None
    # sessions and logins
    platform: str | None = None
    report_id: str | None = None
    session_seq: int | None = None
    session_kind: str | None = None
    aligned_with: list[str] = Field(default_factory=list, description="payments aligned with this session, 'provider:record_id'")


class TimelineOut(BaseModel):
    subject_id: str
    events: list[TimelineEventOut]
    truncated: bool


# --- network ----------------------------------------------------------------------------


class NodeOut(BaseModel):
    id: str
    name: str | None
    role: SubjectRole
    score: float
    flagged: bool
    hop: int
    seed: bool
    community_id: str | None
    country: str | None


class EdgeOut(BaseModel):
    source: str
    target: str
    count: int
    total_usd: float
    first: UtcDateTime | None
    last: UtcDateTime | None


class NetworkOut(BaseModel):
    seed: str
    nodes: list[NodeOut]
    edges: list[EdgeOut]
    truncated: bool = Field(description="more subjects were within reach than max_nodes")


class ConnectedOut(BaseModel):
    rank: int
    subject_id: str
    name: str | None
    rank_score: float = Field(description="personalised PageRank from the seed")
    role: SubjectRole
    flagged: bool
    path: list[str] = Field(description="subject ids from the seed to this subject")


class ExpandOut(BaseModel):
    seed: str
    seed_subjects: list[str]
    connected: list[ConnectedOut]


class CommunityOut(BaseModel):
    community_id: str
    members: int
    facilitators: int
    consumers: int
    intermediaries: int
    total_usd: float
    payments: int
    first: UtcDateTime | None
    last: UtcDateTime | None
    score: float


class MemberOut(BaseModel):
    subject_id: str
    name: str | None
    role: SubjectRole
    score: float
    flagged: bool
    country: str | None


class CommunityDetailOut(CommunityOut):
    member_list: list[MemberOut]
    edges: list[EdgeOut]
    cases: list[CaseRef]


class PlaceOut(BaseModel):
    rank: int
    kind: Literal["city", "agent", "country"]
    place: str
    country: str | None
    facilitators: int
    payments: int
    total_usd: float
    first: UtcDateTime | None
    last: UtcDateTime | None
    subjects: list[str] | None = Field(description="subject ids collecting there; null for roles without personal data")


class CorridorOut(BaseModel):
    sender_country: str
    receiver_country: str
    payments: int
    total_usd: float
    flagged_payments: int
    flagged_usd: float
    sender_lat: float | None
    sender_lon: float | None
    receiver_lat: float | None
    receiver_lon: float | None


# --- referrals and pivots ---------------------------------------------------------------------


class ReferralOut(BaseModel):
    provider: str
    report_id: str
    platform: str | None
    submitted_at: UtcDateTime | None
    incident_type: str | None
    subjects: int
    linked_subjects: int
    sessions: int


class ReferralSubjectOut(BaseModel):
    record_id: str
    subject_ref: str
    role: str | None
    account_id: str | None
    screen_name: str | None
    display_name: str | None
    country: str | None
    identifiers: list[str]
    ip_events: int
    links: list[ReferralLinkOut]


class SessionOut(BaseModel):
    seq: int
    from_record_id: str | None
    to_record_id: str | None
    kind: str | None
    start_utc: UtcDateTime | None
    end_utc: UtcDateTime | None
    aligned_payments: list[str] = Field(description="'provider:record_id'")


class ReferralDetailOut(ReferralOut):
    subject_list: list[ReferralSubjectOut]
    session_list: list[SessionOut]


class PivotOut(BaseModel):
    """`moneytrail.referrals.pivot` as JSON (see docs/referrals.md)."""

    query: dict[str, Any]
    referral_subjects: list[dict[str, Any]]
    subjects: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    n_payments: int
    facilitators: list[dict[str, Any]]
    truncated: list[str]


# --- cases --------------------------------------------------------------------------------


class CaseOut(BaseModel):
    ref: str
    kind: str
    title: str
    state: str
    score: float
    role: str
    assignee: str | None
    community_id: str | None
    subject_ids: list[str]
    created_at: UtcDateTime
    updated_at: UtcDateTime


class CommentOut(BaseModel):
    author: str
    at: UtcDateTime
    text: str


class AttachmentOut(BaseModel):
    kind: str
    ref: str
    note: str
    added_by: str | None = None
    at: UtcDateTime | None = None


class AuditEntryOut(BaseModel):
    id: int
    at: UtcDateTime
    actor: str
    action: str
    target: str
    before: Any = None
    after: Any = None
    details: Any = None
    hash: str


class CaseDetailOut(CaseOut):
    comments: list[CommentOut]
    attachments: list[AttachmentOut]
    history: list[AuditEntryOut]
    next_states: list[str] = Field(description="states the caller may move the case to")


class StateIn(BaseModel):
    state: str = Field(max_length=20, description="new, in_review, escalated, reported, closed_tp, closed_fp")
    note: str = Field("", max_length=2000, description="why; kept as a comment")


class AssignIn(BaseModel):
    username: str = Field(min_length=1, max_length=200)


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)


class AttachmentIn(BaseModel):
    kind: Literal["transaction", "subject", "referral"]
    ref: str = Field(min_length=1, max_length=500, description="'provider:record_id', a subject id, or a referral id")
    note: str = Field("", max_length=2000)


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    problems: list[str]


# --- trends ---------------------------------------------------------------------------------


class TrendsOut(BaseModel):
    """`moneytrail.trends` as JSON: `data` has `months` (first days, ISO), `totals` [{month, flagged, usd}],
    `breakdown` [{month, dimension, category, flagged, usd, share}] with dimension one of corridor, channel,
    amount_band, typology, `changes` [{dimension, category, recent_months, recent_share, recent_count,
    past_months, past_mean, past_std, threshold, new, z}] (categories rising beyond their past variation)
    and `note` (why nothing could be tested, if so)."""

    available: bool
    data: dict[str, Any] = Field(default_factory=dict)
