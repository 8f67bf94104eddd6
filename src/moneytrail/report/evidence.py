"""The evidence behind a case, read once from the warehouse for every report and export.

goAML, FollowTheMoney and the case report all need the same facts about a set of
subjects; this module gathers them in a handful of queries (one per piece, never one
per row) and hands back plain frozen dataclasses, so the writers only format.

    from moneytrail.report.evidence import gather, gather_subjects, open_warehouse

    ev = gather(ctx)                                  # a CaseContext: opens ctx.warehouse read-only
    with open_warehouse(path) as con:                  # or any subjects of a warehouse
        ev = gather_subjects(con, ["S000123"], transactions="flagged", limit=200)

    ev.subjects[0].names, ev.subjects[0].phones        # merged identifiers (or .identifiers per provider)
    ev.subjects[0].indicators                          # IndicatorHit: id, title, value, threshold, sources
    ev.subjects[0].platform_accounts                   # PlatformAccount: ip_events, sessions, links
    ev.transactions                                    # TransactionEvidence: payer and payee Party, scores
    ev.community                                       # CommunityEvidence for network cases, else None

What is read: ``subject_records`` joined to ``parties`` (identifiers, per provider),
``transactions`` with ``transaction_scores`` (both sides, with the subject of each side),
``subject_scores`` and ``subject_indicators`` (indicators that fired, with the catalogue's
titles and sources), the referral tables (platform accounts linked to the subjects, their
IP events and sessions, payments aligned with sessions) and ``communities``.

What is never read: payment memos and any message content. Exports carry what the
analysis needs: identifiers, amounts, times, scores and the indicators behind them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import duckdb

from moneytrail.errors import UserError
from moneytrail.report.context import CaseContext
from moneytrail.store import table_exists

TxnSelection = Literal["all", "flagged"]

# The payment-network stage's reasons (docs/network.md); the MTxx ids are in the catalogue.
NETWORK_REASONS: dict[str, tuple[str, str]] = {
    "NW01": ("Pays a high-risk facilitator", "consumer"),
    "NW02": ("Paid by several known consumers", "facilitator"),
    "NW03": ("Passes money on between consumers and a facilitator", "intermediary"),
    "NW04": ("Paid by consumers of other facilitators", "facilitator"),
    "NW05": ("Payment between network-flagged ends", "none"),
    "NW06": ("Collects from high-risk receivers", "facilitator"),
}
NETWORK_SOURCE = "moneytrail payment-network analysis (risk propagation, docs/network.md)"

MERCHANT_KINDS = frozenset({"merchant"})


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class Address:
    address: str | None
    city: str | None
    country: str | None

    def text(self) -> str:
        return ", ".join(p for p in (self.address, self.city, self.country) if p)


@dataclass(frozen=True)
class Account:
    """An account, wallet, card token, IBAN or merchant id as one provider knows it."""

    provider: str
    account: str
    kind: str | None  # customer, wallet, iban, account, card, merchant, beneficiary_account
    bic: str | None = None


@dataclass(frozen=True)
class IdDocument:
    id_type: str  # as the provider wrote it: passport, drivers_license, national_id ...
    number: str
    country: str | None  # the country of the record that showed it (issuing country unknown)


@dataclass(frozen=True)
class ProviderIdentifiers:
    """What one provider's records say about a subject."""

    provider: str
    records: int
    names: tuple[str, ...]
    dobs: tuple[date, ...]
    phones: tuple[str, ...]  # E.164 where it normalised, else as written
    emails: tuple[str, ...]
    accounts: tuple[Account, ...]
    id_documents: tuple[IdDocument, ...]
    addresses: tuple[Address, ...]
    cities: tuple[str, ...]
    countries: tuple[str, ...]


@dataclass(frozen=True)
class IndicatorHit:
    """An indicator (MTxx) or network reason (NWxx) that fired for a subject."""

    id: str
    title: str
    kind: Literal["indicator", "network"]
    role: str
    level: str  # transaction, sender, receiver or network
    value: str  # the subject's value, when the indicator is evaluated per subject
    threshold: str
    sources: str  # citation, e.g. "AUSTRAC 2019 [R]; FATF 2025 [S]"
    definition: str = ""
    n_transactions: int = 0  # the subject's transactions on which it fired


@dataclass(frozen=True)
class IpEvent:
    ip: str
    at_utc: datetime | None
    event: str | None  # login, logout, stream ...
    country: str | None


@dataclass(frozen=True)
class PlatformSession:
    """A call or stream between this platform account and another, from a referral."""

    report_id: str
    seq: int
    kind: str  # video_call, live_stream, voice_call, chat
    start_utc: datetime | None
    end_utc: datetime | None
    direction: Literal["outgoing", "incoming"]
    counterpart_record_id: str
    counterpart_account: str  # PLATFORM:ACCOUNT_ID
    counterpart_subject_id: str | None


@dataclass(frozen=True)
class ReferralLink:
    via: str  # resolve, ip or device
    evidence: str


@dataclass(frozen=True)
class PlatformAccount:
    """A referral subject (a platform account) linked to a payment subject of the case."""

    subject_id: str  # the payment subject it is linked to
    provider: str
    record_id: str  # report_id#subject_ref
    report_id: str
    platform: str
    role: str | None  # suspect_viewer, suspect_facilitator, suspect, other
    account_id: str | None
    screen_name: str | None
    display_name: str | None
    dob: date | None
    country: str | None
    incident_type: str | None
    submitted_at: datetime | None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    links: tuple[ReferralLink, ...] = ()
    ip_events: tuple[IpEvent, ...] = ()
    sessions: tuple[PlatformSession, ...] = ()

    @property
    def key(self) -> str:
        """``PLATFORM:ACCOUNT_ID``, the form `moneytrail pivot --account` takes."""
        return f"{self.platform}:{self.account_id or self.record_id}"

    @property
    def user_name(self) -> str:
        return self.screen_name or self.account_id or self.record_id


@dataclass(frozen=True)
class Party:
    """One side of a transaction, as the provider recorded it."""

    party: str  # sender, receiver, payer, payee, cardholder, merchant, debtor, creditor
    side: str  # from or to
    subject_id: str | None
    name: str | None
    dob: date | None
    phone: str | None
    email: str | None
    address: str | None
    city: str | None
    country: str | None
    account: str | None
    account_kind: str | None
    agent_bic: str | None
    id_type: str | None
    id_number: str | None

    @property
    def is_merchant(self) -> bool:
        return self.party == "merchant" or (self.account_kind or "") in MERCHANT_KINDS


@dataclass(frozen=True)
class AlignedSession:
    """A referral session between the two sides' platform accounts close to the payment."""

    referral_provider: str
    report_id: str
    session_seq: int
    order: str  # payment_first or session_first
    gap_minutes: float
    kind: str | None
    start_utc: datetime | None


@dataclass(frozen=True)
class TransactionEvidence:
    provider: str
    record_id: str
    format: str | None
    txn_type: str | None
    ts_utc: datetime | None
    local_hour: int | None
    amount: Decimal | None
    currency: str | None
    amount_usd: float | None
    fee: Decimal | None
    payout_amount: Decimal | None
    payout_currency: str | None
    payout_method: str | None
    payout_agent_id: str | None
    paid_out_at: datetime | None
    channel: str | None
    mcc: str | None
    merchant_name: str | None
    sender_country: str | None
    receiver_country: str | None
    ip_address: str | None
    device_id: str | None
    score: float
    flagged: bool
    reasons: tuple[str, ...]
    payer: Party | None
    payee: Party | None
    via: tuple[Party, ...] = ()  # other parties of the record: the merchant of a card-funded transfer
    aligned: tuple[AlignedSession, ...] = ()

    @property
    def key(self) -> str:
        """``provider:record_id``: identifies the record everywhere."""
        return f"{self.provider}:{self.record_id}"


@dataclass(frozen=True)
class SubjectEvidence:
    subject_id: str
    role: str
    score: float
    flagged: bool
    reasons: tuple[str, ...]
    role_scores: dict[str, float]  # consumer, facilitator, intermediary
    identifiers: tuple[ProviderIdentifiers, ...]
    indicators: tuple[IndicatorHit, ...]
    platform_accounts: tuple[PlatformAccount, ...]
    anchor: str  # "provider|record_id|party" of its first record: a key that survives reruns
    is_organisation: bool  # every record is a merchant side

    def _merged(self, attr: str) -> tuple[Any, ...]:
        return tuple(dict.fromkeys(v for ids in self.identifiers for v in getattr(ids, attr)))

    @property
    def names(self) -> tuple[str, ...]:
        """Every spelling, the most used first."""
        counts: Counter[str] = Counter()
        for ids in self.identifiers:
            counts.update({n: ids.records for n in ids.names})
        return tuple(n for n, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def name(self) -> str:
        names = self.names
        if names:
            return names[0]
        for acc in self.platform_accounts:
            if acc.display_name:
                return acc.display_name
        return self.subject_id

    @property
    def dobs(self) -> tuple[date, ...]:
        return self._merged("dobs")

    @property
    def phones(self) -> tuple[str, ...]:
        return self._merged("phones")

    @property
    def emails(self) -> tuple[str, ...]:
        return self._merged("emails")

    @property
    def accounts(self) -> tuple[Account, ...]:
        return self._merged("accounts")

    @property
    def id_documents(self) -> tuple[IdDocument, ...]:
        return self._merged("id_documents")

    @property
    def addresses(self) -> tuple[Address, ...]:
        return self._merged("addresses")

    @property
    def cities(self) -> tuple[str, ...]:
        return self._merged("cities")

    @property
    def countries(self) -> tuple[str, ...]:
        return self._merged("countries")

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(ids.provider for ids in self.identifiers)


@dataclass(frozen=True)
class CommunityMember:
    subject_id: str
    role: str
    score: float
    flagged: bool


@dataclass(frozen=True)
class CommunityEvidence:
    community_id: str
    members: tuple[CommunityMember, ...]
    payments: int = 0
    total_usd: float = 0.0
    first: datetime | None = None
    last: datetime | None = None
    score: float = 0.0


@dataclass(frozen=True)
class Evidence:
    subjects: tuple[SubjectEvidence, ...]
    transactions: tuple[TransactionEvidence, ...]
    community: CommunityEvidence | None
    n_transactions_total: int  # before `limit` and the flagged filter cut
    selection: TxnSelection = "all"
    anchors: dict[str, str] = field(default_factory=dict)  # subject id -> anchor, for every side

    @property
    def subject_ids(self) -> tuple[str, ...]:
        return tuple(s.subject_id for s in self.subjects)

    def subject(self, subject_id: str) -> SubjectEvidence:
        for s in self.subjects:
            if s.subject_id == subject_id:
                return s
        raise KeyError(subject_id)

    @property
    def platform_accounts(self) -> tuple[PlatformAccount, ...]:
        return tuple(a for s in self.subjects for a in s.platform_accounts)

    @property
    def flagged_transactions(self) -> tuple[TransactionEvidence, ...]:
        return tuple(t for t in self.transactions if t.flagged)


# --------------------------------------------------------------------------- entry points


@contextmanager
def open_warehouse(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to a run's warehouse (exports never write to it)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"no warehouse at {p}; give the warehouse.duckdb of a `moneytrail run`")
    try:
        con = duckdb.connect(str(p), read_only=True)
    except duckdb.Error as exc:
        raise UserError(f"cannot open the warehouse {p}: {exc}. Is a run writing to it?") from exc
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


def gather(
    ctx: CaseContext, *, transactions: TxnSelection = "all", limit: int | None = None
) -> Evidence:
    """The evidence of a case: its subjects, read from the case's own warehouse."""
    with open_warehouse(ctx.warehouse) as con:
        return gather_subjects(
            con, ctx.subject_ids, community_id=ctx.community_id, transactions=transactions, limit=limit
        )


def flagged_subject_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every subject the run raised for review, in id order."""
    _need(con, ("subject_scores",))
    return [r[0] for r in con.execute(
        "SELECT subject_id FROM subject_scores WHERE flagged = 1 ORDER BY subject_id").fetchall()]


def gather_subjects(
    con: duckdb.DuckDBPyConnection,
    subject_ids: Sequence[str],
    *,
    community_id: str | None = None,
    transactions: TxnSelection = "all",
    limit: int | None = None,
) -> Evidence:
    """The evidence of some subjects of a warehouse.

    ``transactions`` chooses the payments with a subject on either side: ``all`` or only
    the ``flagged`` ones; ``limit`` keeps the highest-scoring (then earliest) ones, and
    ``Evidence.n_transactions_total`` says how many there were before the cut. The
    transactions come back in time order.
    """
    ids = list(dict.fromkeys(str(s) for s in subject_ids))
    if not ids:
        raise UserError("no subjects to gather evidence for; the case lists none")
    if transactions not in ("all", "flagged"):
        raise UserError(f"unknown transaction selection {transactions!r}; use all or flagged")
    _need(con, ("transactions", "parties", "subject_records", "transaction_scores", "subject_scores"))
    known = {r[0] for r in con.execute(
        "SELECT DISTINCT subject_id FROM subject_records WHERE subject_id IN (SELECT unnest(?::VARCHAR[]))",
        [ids]).fetchall()}
    missing = [s for s in ids if s not in known]
    if missing:
        raise UserError(
            f"subjects {', '.join(missing[:5])} are not in this warehouse; "
            "was the case made from another run?"
        )
    txns, total = _transactions(con, ids, transactions, limit)
    side_ids = {p.subject_id for t in txns for p in (t.payer, t.payee) if p and p.subject_id}
    anchors = _anchors(con, sorted(side_ids | set(ids)))
    subjects = _subjects(con, ids, _platform_accounts(con, ids), anchors)
    community = _community(con, community_id) if community_id else None
    return Evidence(
        subjects=tuple(subjects),
        transactions=tuple(txns),
        community=community,
        n_transactions_total=total,
        selection=transactions,
        anchors=anchors,
    )


# --------------------------------------------------------------------------- queries


def _need(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> None:
    missing = [t for t in tables if not table_exists(con, t)]
    if missing:
        raise UserError(
            f"the warehouse has no {', '.join(missing)} yet: "
            "run `moneytrail run BUNDLE --out OUT` on it first"
        )


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _tuple(values: Any) -> tuple[Any, ...]:
    return tuple(v for v in (values or ()) if v is not None and v != "")


_IDENTIFIERS_SQL = """
WITH ids AS (SELECT unnest(?::VARCHAR[]) AS subject_id),
p AS (
  SELECT sr.subject_id, p.*
  FROM subject_records sr JOIN ids USING (subject_id)
  JOIN parties p ON p.provider = sr.provider AND p.record_id = sr.record_id AND p.party = sr.party
)
SELECT subject_id, provider, count(*) AS records,
       list(DISTINCT name ORDER BY name) FILTER (WHERE name IS NOT NULL) AS names,
       list(DISTINCT dob ORDER BY dob) FILTER (WHERE dob IS NOT NULL) AS dobs,
       list(DISTINCT coalesce(phone_e164, phone) ORDER BY coalesce(phone_e164, phone))
            FILTER (WHERE coalesce(phone_e164, phone) IS NOT NULL) AS phones,
       list(DISTINCT email ORDER BY email) FILTER (WHERE email IS NOT NULL) AS emails,
       list(DISTINCT {'account': account, 'kind': account_kind, 'bic': agent_bic}
            ORDER BY {'account': account, 'kind': account_kind, 'bic': agent_bic})
            FILTER (WHERE account IS NOT NULL) AS accounts,
       list(DISTINCT {'id_type': id_type, 'number': id_number, 'country': country}
            ORDER BY {'id_type': id_type, 'number': id_number, 'country': country})
            FILTER (WHERE id_number IS NOT NULL) AS id_documents,
       list(DISTINCT {'address': address, 'city': city, 'country': country}
            ORDER BY {'address': address, 'city': city, 'country': country})
            FILTER (WHERE address IS NOT NULL OR city IS NOT NULL) AS addresses,
       list(DISTINCT city ORDER BY city) FILTER (WHERE city IS NOT NULL) AS cities,
       list(DISTINCT country ORDER BY country) FILTER (WHERE country IS NOT NULL) AS countries,
       bool_and(party = 'merchant' OR coalesce(account_kind, '') = 'merchant') AS all_merchant
FROM p GROUP BY subject_id, provider ORDER BY subject_id, records DESC, provider
"""


def _subjects(
    con: duckdb.DuckDBPyConnection,
    ids: list[str],
    accounts: dict[str, list[PlatformAccount]],
    anchors: dict[str, str],
) -> list[SubjectEvidence]:
    scores = {r["subject_id"]: r for r in _rows(con, """
        SELECT s.* FROM subject_scores s WHERE s.subject_id IN (SELECT unnest(?::VARCHAR[]))""", [ids])}
    idents: dict[str, list[ProviderIdentifiers]] = {}
    merchant: dict[str, bool] = {}
    for r in _rows(con, _IDENTIFIERS_SQL, [ids]):
        sid = r["subject_id"]
        merchant[sid] = merchant.get(sid, True) and bool(r["all_merchant"])
        idents.setdefault(sid, []).append(ProviderIdentifiers(
            provider=r["provider"], records=int(r["records"]),
            names=_tuple(r["names"]), dobs=_tuple(r["dobs"]), phones=_tuple(r["phones"]),
            emails=_tuple(r["emails"]),
            accounts=tuple(Account(r["provider"], a["account"], a["kind"], a["bic"]) for a in r["accounts"] or ()),
            id_documents=tuple(IdDocument(d["id_type"] or "other", d["number"], d["country"])
                               for d in r["id_documents"] or ()),
            addresses=tuple(Address(a["address"], a["city"], a["country"]) for a in r["addresses"] or ()),
            cities=_tuple(r["cities"]), countries=_tuple(r["countries"]),
        ))
    hits = _indicators(con, ids, scores)
    out = []
    for sid in ids:
        sc = scores.get(sid, {})
        out.append(SubjectEvidence(
            subject_id=sid,
            role=str(sc.get("role") or "none"),
            score=float(sc.get("score") or 0.0),
            flagged=bool(sc.get("flagged")),
            reasons=_split(sc.get("reasons")),
            role_scores={r: float(sc[f"score_{r}"]) for r in ("consumer", "facilitator", "intermediary")
                         if sc.get(f"score_{r}") is not None},
            identifiers=tuple(idents.get(sid, ())),
            indicators=tuple(hits.get(sid, ())),
            platform_accounts=tuple(accounts.get(sid, ())),
            anchor=anchors.get(sid, sid),
            is_organisation=merchant.get(sid, False),
        ))
    return out


def _split(reasons: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.strip() for r in (reasons or "").split(";") if r.strip()))


def _indicators(
    con: duckdb.DuckDBPyConnection, ids: list[str], scores: dict[str, dict[str, Any]]
) -> dict[str, list[IndicatorHit]]:
    from moneytrail.indicators import load_catalogue

    cat = load_catalogue()
    values: dict[tuple[str, str], tuple[str, str]] = {}
    if table_exists(con, "subject_indicators"):
        for sid, ind, value, thr in con.execute(
            "SELECT subject_id, indicator_id, value, threshold FROM subject_indicators "
            "WHERE subject_id IN (SELECT unnest(?::VARCHAR[]))", [ids]).fetchall():
            values[(sid, ind)] = (str(value or ""), str(thr or ""))
    # how many of the subject's own payments (on its side) each reason fired on
    counts: dict[tuple[str, str], int] = {}
    for sid, reason, n in con.execute("""
        WITH ids AS (SELECT unnest(?::VARCHAR[]) AS subject_id),
        mine AS (SELECT DISTINCT sr.subject_id, sr.provider, sr.record_id
                 FROM subject_records sr JOIN ids USING (subject_id))
        SELECT m.subject_id, trim(r.reason) AS reason, count(*)
        FROM mine m JOIN transaction_scores s USING (provider, record_id),
             unnest(string_split(s.reasons, ';')) AS r(reason)
        WHERE trim(r.reason) <> '' GROUP BY ALL""", [ids]).fetchall():
        counts[(sid, reason)] = int(n)
    out: dict[str, list[IndicatorHit]] = {}
    for sid in ids:
        for rid in _split(scores.get(sid, {}).get("reasons")):
            value, thr = values.get((sid, rid), ("", ""))
            ind = cat.get(rid) if rid.startswith("MT") else None
            if ind is not None:
                hit = IndicatorHit(rid, ind.title, "indicator", ind.role, ind.level, value,
                                   thr or ind.threshold, ind.cite(), ind.definition,
                                   counts.get((sid, rid), 0))
            else:
                title, role = NETWORK_REASONS.get(rid, (rid, "none"))
                hit = IndicatorHit(rid, title, "network", role, "network", value, thr,
                                   NETWORK_SOURCE, "", counts.get((sid, rid), 0))
            out.setdefault(sid, []).append(hit)
    return out


def _anchors(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    return {sid: anchor for sid, anchor in con.execute("""
        SELECT subject_id, min(provider || '|' || record_id || '|' || party)
        FROM subject_records WHERE subject_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1""",
        [ids]).fetchall()}


_TXN_SQL = """
WITH ids AS (SELECT unnest(?::VARCHAR[]) AS subject_id),
mine AS (SELECT DISTINCT sr.provider, sr.record_id FROM subject_records sr JOIN ids USING (subject_id)),
sides AS (
  SELECT p.*, sr.subject_id FROM parties p
  JOIN mine m ON m.provider = p.provider AND m.record_id = p.record_id
  LEFT JOIN subject_records sr ON sr.provider = p.provider AND sr.record_id = p.record_id
   AND sr.party = p.party
),
picked AS (
  SELECT t.provider, t.record_id, coalesce(s.score, 0.0) AS score, coalesce(s.flagged, 0) AS flagged,
         s.reasons, count(*) OVER () AS n_total
  FROM mine m JOIN transactions t USING (provider, record_id)
  LEFT JOIN transaction_scores s USING (provider, record_id)
  WHERE {where}
  ORDER BY score DESC, t.ts_utc, t.provider, t.record_id
  {limit}
)
SELECT t.provider, t.record_id, t.format, t.txn_type, t.ts_utc, t.local_hour, t.amount, t.currency,
       t.amount_usd, t.fee, t.payout_amount, t.payout_currency, t.payout_method, t.payout_agent_id,
       t.paid_out_at, t.channel, t.mcc, t.merchant_name, t.sender_country, t.receiver_country,
       t.ip_address, t.device_id, k.score, k.flagged, k.reasons, k.n_total,
       (SELECT list(struct_pack(party := f.party, side := f.side, subject_id := f.subject_id, name := f.name,
               dob := f.dob, phone := coalesce(f.phone_e164, f.phone), email := f.email,
               address := f.address, city := f.city, country := f.country, account := f.account,
               account_kind := f.account_kind, agent_bic := f.agent_bic, id_type := f.id_type,
               id_number := f.id_number)
               ORDER BY f.side, f.party = 'merchant' OR coalesce(f.account_kind, '') = 'merchant', f.party)
          FROM sides f WHERE f.provider = t.provider AND f.record_id = t.record_id) AS sides
       {aligned}
FROM picked k JOIN transactions t USING (provider, record_id)
ORDER BY t.ts_utc, t.provider, t.record_id
"""

_ALIGNED_SQL = """,
       (SELECT list({'referral_provider': a.referral_provider, 'report_id': a.report_id,
                     'session_seq': a.session_seq, 'order': a."order", 'gap_minutes': a.gap_minutes,
                     'kind': rs.kind, 'start_utc': rs.start_utc} ORDER BY a.report_id, a.session_seq)
          FROM aligned_payments a
          LEFT JOIN referral_sessions rs ON rs.provider = a.referral_provider
           AND rs.report_id = a.report_id AND rs.seq = a.session_seq
         WHERE a.provider = t.provider AND a.record_id = t.record_id) AS aligned"""


def _transactions(
    con: duckdb.DuckDBPyConnection, ids: list[str], selection: TxnSelection, limit: int | None
) -> tuple[list[TransactionEvidence], int]:
    where = "coalesce(s.flagged, 0) = 1" if selection == "flagged" else "TRUE"
    lim = f"LIMIT {int(limit)}" if limit is not None else ""
    has_aligned = table_exists(con, "aligned_payments") and table_exists(con, "referral_sessions")
    sql = _TXN_SQL.format(where=where, limit=lim, aligned=_ALIGNED_SQL if has_aligned else "")
    rows = _rows(con, sql, [ids])
    total = int(rows[0]["n_total"]) if rows else 0
    if not rows and selection == "flagged":
        total = 0
    out = []
    for r in rows:
        out.append(TransactionEvidence(
            provider=r["provider"], record_id=r["record_id"], format=r["format"], txn_type=r["txn_type"],
            ts_utc=r["ts_utc"], local_hour=r["local_hour"], amount=r["amount"], currency=r["currency"],
            amount_usd=r["amount_usd"], fee=r["fee"], payout_amount=r["payout_amount"],
            payout_currency=r["payout_currency"], payout_method=r["payout_method"],
            payout_agent_id=r["payout_agent_id"], paid_out_at=r["paid_out_at"], channel=r["channel"],
            mcc=r["mcc"], merchant_name=r["merchant_name"], sender_country=r["sender_country"],
            receiver_country=r["receiver_country"], ip_address=r["ip_address"], device_id=r["device_id"],
            score=float(r["score"]), flagged=bool(r["flagged"]), reasons=_split(r["reasons"]),
            **_pick_sides(r["sides"]),
            aligned=tuple(AlignedSession(**a) for a in (r.get("aligned") or ())),
        ))
    return out, total


_RESOLVED_INTO = "resolved into the subject"


def _pick_sides(rows: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Payer and payee; a merchant only when nobody else is paid (a card-funded transfer's
    payee is its beneficiary, the merchant it went through is kept as ``via``)."""
    parties = [Party(**r) for r in rows or ()]
    payer = next((p for p in parties if p.side == "from"), None)
    payee = next((p for p in parties if p.side == "to"), None)
    via = tuple(p for p in parties if p is not payer and p is not payee)
    return {"payer": payer, "payee": payee, "via": via}


def _platform_accounts(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, list[PlatformAccount]]:
    """Referral subjects linked to the subjects: through referral_links, or resolved into them."""
    if not table_exists(con, "referral_subjects"):
        return {}
    links_sql = ""
    if table_exists(con, "referral_links"):
        links_sql = """
          UNION ALL
          SELECT l.subject_id, l.referral_provider AS provider, l.referral_record_id AS record_id,
                 l.via, l.evidence
          FROM referral_links l JOIN ids USING (subject_id)"""
    rows = _rows(con, f"""
        WITH ids AS (SELECT unnest(?::VARCHAR[]) AS subject_id),
        linked AS (
          SELECT sr.subject_id, sr.provider, sr.record_id, 'resolve' AS via,
                 '{_RESOLVED_INTO}' AS evidence
          FROM subject_records sr JOIN ids USING (subject_id)
          JOIN referral_subjects s ON s.provider = sr.provider AND s.record_id = sr.record_id
           AND s.subject_ref = sr.party
          {links_sql}
        )
        SELECT l.subject_id, s.provider, s.record_id, s.report_id, s.platform, s.role, s.account_id,
               s.screen_name, s.display_name, s.dob, s.country, f.incident_type, f.submitted_at,
               list(DISTINCT {{'via': l.via, 'evidence': l.evidence}}
                    ORDER BY {{'via': l.via, 'evidence': l.evidence}}) AS links
        FROM linked l JOIN referral_subjects s ON s.provider = l.provider AND s.record_id = l.record_id
        LEFT JOIN referrals f ON f.provider = s.provider AND f.record_id = s.report_id
        GROUP BY ALL ORDER BY l.subject_id, s.provider, s.record_id""", [ids])
    if not rows:
        return {}
    keys = sorted({(r["provider"], r["record_id"]) for r in rows})
    prov = [k[0] for k in keys]
    recs = [k[1] for k in keys]
    key_cte = "WITH k AS (SELECT unnest(?::VARCHAR[]) AS provider, unnest(?::VARCHAR[]) AS record_id)"
    idents: dict[tuple[str, str], dict[str, list[str]]] = {}
    if table_exists(con, "referral_identifiers"):
        for p, rec, kind, value in con.execute(f"""{key_cte}
            SELECT i.provider, i.record_id, i.kind, coalesce(i.value_norm, i.value)
            FROM referral_identifiers i JOIN k USING (provider, record_id)
            ORDER BY 1, 2, 3, 4""", [prov, recs]).fetchall():
            idents.setdefault((p, rec), {}).setdefault(kind, []).append(value)
    events: dict[tuple[str, str], list[IpEvent]] = {}
    if table_exists(con, "referral_ip_events"):
        for p, rec, ip, at, ev, ctry in con.execute(f"""{key_cte}
            SELECT e.provider, e.record_id, e.ip, e.at_utc, e.event, e.country
            FROM referral_ip_events e JOIN k USING (provider, record_id)
            WHERE e.ip IS NOT NULL ORDER BY 1, 2, e.at_utc, e.seq""", [prov, recs]).fetchall():
            events.setdefault((p, rec), []).append(IpEvent(ip, at, ev, ctry))
    sessions: dict[tuple[str, str], list[PlatformSession]] = {}
    if table_exists(con, "referral_sessions"):
        link_other = ("(SELECT min(l.subject_id) FROM referral_links l WHERE l.referral_provider = x.provider "
                      "AND l.referral_record_id = x.other)") if table_exists(con, "referral_links") else "NULL"
        for r in _rows(con, f"""{key_cte},
            x AS (
              SELECT k.provider, k.record_id, s.report_id, s.seq, s.kind, s.start_utc, s.end_utc,
                     CASE WHEN s.from_record_id = k.record_id THEN 'outgoing' ELSE 'incoming' END AS direction,
                     CASE WHEN s.from_record_id = k.record_id THEN s.to_record_id ELSE s.from_record_id END AS other
              FROM referral_sessions s JOIN k ON s.provider = k.provider
               AND (s.from_record_id = k.record_id OR s.to_record_id = k.record_id)
            )
            SELECT x.*, coalesce(o.platform, x.provider) || ':' || coalesce(o.account_id, x.other) AS other_account,
                   {link_other} AS other_subject
            FROM x LEFT JOIN referral_subjects o ON o.provider = x.provider AND o.record_id = x.other
            ORDER BY x.provider, x.record_id, x.start_utc, x.report_id, x.seq""", [prov, recs]):
            sessions.setdefault((r["provider"], r["record_id"]), []).append(PlatformSession(
                report_id=r["report_id"], seq=int(r["seq"]), kind=r["kind"], start_utc=r["start_utc"],
                end_utc=r["end_utc"], direction=r["direction"], counterpart_record_id=r["other"],
                counterpart_account=r["other_account"], counterpart_subject_id=r["other_subject"]))
    out: dict[str, list[PlatformAccount]] = {}
    for r in rows:
        key = (r["provider"], r["record_id"])
        ids_of = idents.get(key, {})
        out.setdefault(r["subject_id"], []).append(PlatformAccount(
            subject_id=r["subject_id"], provider=r["provider"], record_id=r["record_id"],
            report_id=r["report_id"], platform=r["platform"] or r["provider"], role=r["role"],
            account_id=r["account_id"], screen_name=r["screen_name"], display_name=r["display_name"],
            dob=r["dob"], country=r["country"], incident_type=r["incident_type"],
            submitted_at=r["submitted_at"], emails=tuple(ids_of.get("email", ())),
            phones=tuple(ids_of.get("phone", ())),
            links=_links(r["links"]),
            ip_events=tuple(events.get(key, ())), sessions=tuple(sessions.get(key, ())),
        ))
    return out


def _links(rows: list[dict[str, Any]] | None) -> tuple[ReferralLink, ...]:
    links = [ReferralLink(lk["via"], lk["evidence"] or "") for lk in rows or ()]
    # the subject_records path only says what referral_links already explains, when it does
    if sum(lk.via == "resolve" for lk in links) > 1:
        links = [lk for lk in links if lk.evidence != _RESOLVED_INTO]
    return tuple(links)


def _community(con: duckdb.DuckDBPyConnection, community_id: str) -> CommunityEvidence | None:
    if not table_exists(con, "communities"):
        return None
    members = [CommunityMember(sid, str(role or "none"), float(score or 0.0), bool(flagged))
               for sid, role, score, flagged in con.execute("""
        SELECT c.subject_id, s.role, s.score, s.flagged FROM communities c
        LEFT JOIN subject_scores s USING (subject_id)
        WHERE c.community_id = ? ORDER BY s.score DESC NULLS LAST, c.subject_id""",
        [community_id]).fetchall()]
    if not members:
        return None
    summary: dict[str, Any] = {}
    if table_exists(con, "community_summary"):
        rows = _rows(con, "SELECT * FROM community_summary WHERE community_id = ?", [community_id])
        summary = rows[0] if rows else {}
    return CommunityEvidence(
        community_id=community_id, members=tuple(members),
        payments=int(summary.get("payments") or 0), total_usd=float(summary.get("total_usd") or 0.0),
        first=summary.get("first"), last=summary.get("last"), score=float(summary.get("score") or 0.0),
    )
