"""A case as a goAML v5 suspicious transaction report (STR), valid against the FIU's XSD.

``write_goaml(ctx, out, profile=...)`` gathers the case's evidence, writes one
transaction-based report and validates it before the file appears:

- the reporting entity, report code and code lists come from the FIU's profile
  (``goaml_profile``); the reason is a narrative of the indicators that fired, with
  their published sources; the action comes from the profile;
- each reported payment has both sides (``t_from``/``t_to``): an account with its holder
  as signatory, a person, or a merchant entity, with the side's country;
- people of the case carry every identifier the providers recorded (names, birth date,
  phones, e-mails, addresses, identity documents), their linked platform accounts as
  ``social_media/social_account`` and the IP addresses of their platform logins and
  web/app payments as ``network_devices/network_device`` (goAML 5.2; described in
  comments for older deployments); counterparties carry what their own record says.

A case without payments becomes an activity report of its people. Payment memos and
message content are never written.
"""

from __future__ import annotations

import hashlib
import os
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
from lxml import etree

from moneytrail.errors import UserError
from moneytrail.report.context import CaseContext
from moneytrail.report.evidence import (
    Address,
    Evidence,
    IdDocument,
    Party,
    PlatformAccount,
    SubjectEvidence,
    TransactionEvidence,
    gather_subjects,
    open_warehouse,
)
from moneytrail.report.goaml_fields import (
    clip,
    ip_version,
    money,
    split_name,
    split_phone,
    sql_date,
)
from moneytrail.report.goaml_profile import LoadedProfile, load_profile

COMMENTS_MAX = 8000


@dataclass(frozen=True)
class GoamlResult:
    path: Path
    transactions: int  # written
    transactions_total: int  # the case's candidates before max_transactions
    subjects: int
    platform_accounts: int
    ip_addresses: int
    sha256: str
    xsd: Path


def write_goaml(
    ctx: CaseContext,
    out: Path,
    *,
    profile: Path | None = None,
    xsd: Path | None = None,
    now: datetime | None = None,
) -> GoamlResult:
    """Write the case's STR to ``out``, validated against the FIU's XSD (UserError when not)."""
    lp = load_profile(profile, xsd)
    with open_warehouse(ctx.warehouse) as con:
        ev = gather_subjects(con, ctx.subject_ids, community_id=ctx.community_id)
        fx = LocalCurrency.load(con, lp.profile.reporting_entity.currency_code_local)
    doc = build_report(ctx, ev, lp, fx, now=now)
    data = etree.tostring(doc, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    problems = validate(data, lp)
    if problems:
        raise UserError(
            f"the goAML report for {ctx.case_id} does not validate against {lp.xsd_path.name}: "
            + "; ".join(problems[:3]) + " (nothing written; check the profile's codes)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    chosen, total = select_transactions(ev, lp.profile.max_transactions)
    return GoamlResult(
        path=out,
        transactions=len(chosen),
        transactions_total=total,
        subjects=len(ev.subjects),
        platform_accounts=len(ev.platform_accounts),
        ip_addresses=len({e.ip for a in ev.platform_accounts for e in a.ip_events}),
        sha256=hashlib.sha256(data).hexdigest(),
        xsd=lp.xsd_path,
    )


def validate(data: bytes | etree._Element, lp: LoadedProfile) -> list[str]:
    """The XSD's complaints about a report, one line each (empty when valid)."""
    root = etree.fromstring(data) if isinstance(data, bytes) else data
    return [f"{e.path}: {e.reason}" for e in lp.schema.iter_errors(root)]


def select_transactions(ev: Evidence, limit: int) -> tuple[list[TransactionEvidence], int]:
    """The flagged payments and those aligned with a platform session (all payments when there
    are none), the highest-scoring ``limit`` of them, in time order."""
    pool = [t for t in ev.transactions if t.flagged or t.aligned] or list(ev.transactions)
    top = sorted(pool, key=lambda t: (-t.score, t.ts_utc or datetime.min, t.key))[:limit]
    return sorted(top, key=lambda t: (t.ts_utc or datetime.min, t.key)), len(pool)


# --------------------------------------------------------------------------- currency


@dataclass
class LocalCurrency:
    """Converts amounts to the reporting entity's currency with the warehouse's rates."""

    code: str
    dates: list[date] = field(default_factory=list)
    usd_per_unit: list[float] = field(default_factory=list)

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, code: str) -> LocalCurrency:
        lc = cls(code)
        if code == "USD":
            return lc
        rows = con.execute(
            """SELECT date, arg_max(usd_per_unit, source <> 'builtin') FROM fx_rates
               WHERE currency = ? AND usd_per_unit > 0 GROUP BY date ORDER BY date""", [code]).fetchall()
        lc.dates = [r[0] for r in rows]
        lc.usd_per_unit = [float(r[1]) for r in rows]
        return lc

    def rate(self, day: date | None) -> float:
        """US dollars per unit of the local currency on ``day`` (the latest rate on or before it)."""
        if self.code == "USD":
            return 1.0
        if not self.dates:
            raise UserError(
                f"the warehouse has no exchange rate for {self.code}, the profile's currency_code_local; "
                "add it to the bundle's fx_rates.csv or report in USD"
            )
        i = bisect_right(self.dates, day or self.dates[-1]) - 1
        return self.usd_per_unit[max(i, 0)]

    def amount(self, t: TransactionEvidence) -> Decimal:
        if t.currency == self.code and t.amount is not None:
            return Decimal(t.amount)
        if t.amount_usd is None:
            raise UserError(f"payment {t.key} has no USD value to convert to {self.code}; rerun the pipeline")
        day = t.ts_utc.date() if t.ts_utc else None
        return Decimal(str(t.amount_usd / self.rate(day)))


# --------------------------------------------------------------------------- building


def _sub(parent: etree._Element, tag: str, text: object | None = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _opt(parent: etree._Element, tag: str, text: object | None, max_len: int | None = None) -> None:
    """A child only when there is a value (clipped to the XSD's length)."""
    if text is None or text == "":
        return
    value = clip(text, max_len) if max_len else text
    if value != "":
        _sub(parent, tag, value)


@dataclass
class _Device:
    ip: str
    first: datetime | None = None
    last: datetime | None = None
    country: str | None = None
    device_number: str | None = None
    notes: list[str] = field(default_factory=list)

    def seen(self, at: datetime | None) -> None:
        if at is None:
            return
        self.first = at if self.first is None or at < self.first else self.first
        self.last = at if self.last is None or at > self.last else self.last


@dataclass
class _PersonFacts:
    first: str
    last: str
    birthdate: str | None = None
    passport: IdDocument | None = None
    phones: list[str] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    devices: list[_Device] = field(default_factory=list)
    socials: list[PlatformAccount] = field(default_factory=list)
    id_docs: list[IdDocument] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


class _Builder:
    def __init__(self, ctx: CaseContext, ev: Evidence, lp: LoadedProfile, fx: LocalCurrency):
        self.ctx, self.ev, self.lp, self.fx = ctx, ev, lp, fx
        self.prof = lp.profile
        self.unknown = self.prof.placeholders.text
        self.in_case = {s.subject_id: s for s in ev.subjects}
        self._facts: dict[str, _PersonFacts] = {}
        self._payment_devices = self._collect_payment_devices()

    # -- people -----------------------------------------------------------------------

    def _collect_payment_devices(self) -> dict[str, dict[str, _Device]]:
        """The IP addresses (and devices) of each case subject's own web/app payments."""
        found: dict[str, dict[str, _Device]] = defaultdict(dict)
        for t in self.ev.transactions:
            payer = t.payer
            if not (payer and payer.subject_id in self.in_case and t.ip_address):
                continue
            dev = found[payer.subject_id].setdefault(t.ip_address, _Device(t.ip_address))
            dev.seen(t.ts_utc)
            dev.notes.append(t.key)
            if t.device_id and t.device_id not in (dev.device_number or "").split(","):
                dev.device_number = ",".join(x for x in (dev.device_number, t.device_id) if x)
        return found

    def subject_facts(self, s: SubjectEvidence) -> _PersonFacts:
        if s.subject_id in self._facts:
            return self._facts[s.subject_id]
        first, last = split_name(s.name, self.unknown)
        dobs = list(s.dobs) or list(dict.fromkeys(a.dob for a in s.platform_accounts if a.dob))
        passports = [d for d in s.id_documents if d.id_type.lower() == "passport"]
        facts = _PersonFacts(
            first=first,
            last=last,
            birthdate=sql_date(dobs[0]) if dobs else None,
            passport=passports[0] if passports else None,
            phones=list(dict.fromkeys([*s.phones, *(p for a in s.platform_accounts for p in a.phones)])),
            addresses=_unique_addresses(s.addresses),
            emails=list(dict.fromkeys([*s.emails, *(e for a in s.platform_accounts for e in a.emails)])),
            devices=self._platform_devices(s),
            socials=list(s.platform_accounts),
            id_docs=list(s.id_documents),
        )
        note = [f"moneytrail subject {s.subject_id}: role {s.role}, score {s.score:.3f}"
                + (", flagged for review" if s.flagged else "")
                + (f"; indicators {', '.join(s.reasons)}" if s.reasons else "")]
        if len(s.names) > 1:
            note.append("also written as " + "; ".join(s.names[1:8]))
        if len(dobs) > 1:
            note.append("other dates of birth recorded: " + ", ".join(str(d) for d in dobs[1:4]))
        if s.accounts:
            note.append("accounts: " + "; ".join(f"{a.provider} {a.kind or 'account'} {a.account}"
                                                 for a in s.accounts[:20]))
        facts.comments = note
        self._facts[s.subject_id] = facts
        return facts

    def _platform_devices(self, s: SubjectEvidence) -> list[_Device]:
        devs: dict[str, _Device] = {}
        for acc in s.platform_accounts:
            per_ip: dict[str, int] = defaultdict(int)
            for e in acc.ip_events:
                dev = devs.setdefault(e.ip, _Device(e.ip))
                dev.seen(e.at_utc)
                dev.country = dev.country or e.country
                per_ip[e.ip] += 1
            for ip, n in per_ip.items():
                devs[ip].notes.append(f"{n} event(s) of {acc.key} in platform referral {acc.report_id}")
        paid = self._payment_devices.get(s.subject_id, {})
        for ip, dev in devs.items():
            if ip in paid:  # the link between the platform account and the payments
                used = paid[ip]
                dev.notes.append(f"also the IP address of {len(used.notes)} of the subject's web/app "
                                 f"payment(s), e.g. {used.notes[0]}")
                numbers = (used.device_number or "").split(",")
                if len(numbers) == 1 and numbers[0]:
                    dev.device_number = numbers[0]
                elif len(numbers) > 1:
                    dev.notes.append("devices " + ", ".join(numbers[:10]))
        return list(devs.values())

    def party_facts(self, p: Party, t: TransactionEvidence) -> _PersonFacts:
        if p.subject_id in self.in_case:
            return self.subject_facts(self.in_case[p.subject_id])
        first, last = split_name(p.name or "", self.unknown)
        doc = IdDocument(p.id_type or "other", p.id_number, p.country) if p.id_number else None
        facts = _PersonFacts(
            first=first,
            last=last,
            birthdate=sql_date(p.dob),
            passport=doc if doc and doc.id_type.lower() == "passport" else None,
            phones=[p.phone] if p.phone else [],
            addresses=_unique_addresses([Address(p.address, p.city, p.country)]),
            emails=[p.email] if p.email else [],
            id_docs=[doc] if doc else [],
        )
        facts.comments = [f"as recorded by {t.provider} for {p.party} of {t.record_id}"
                          + (f"; moneytrail subject {p.subject_id}" if p.subject_id else "")]
        return facts

    def person(self, parent: etree._Element, tag: str, f: _PersonFacts) -> None:
        """A t_person, its children in the XSD's order."""
        el = _sub(parent, tag)
        _sub(el, "first_name", clip(f.first, 100))
        _sub(el, "last_name", clip(f.last, 100))
        _opt(el, "birthdate", f.birthdate)
        if f.passport is not None:
            _sub(el, "passport_number", clip(f.passport.number, 255))
            if f.passport.country:
                _sub(el, "passport_country", self.lp.country(f.passport.country, "a passport"))
        phones = [ph for ph in (split_phone(p) for p in f.phones) if ph]
        comments = list(f.comments)
        unread = [p for p in f.phones if not split_phone(p)]
        if unread:
            comments.append("phones as written: " + ", ".join(unread))
        if phones:
            box = _sub(el, "phones")
            for prefix, number, kind in phones:
                self._phone(box, prefix, number, kind)
        addrs = [a for a in f.addresses if a.address or a.city]
        if addrs:
            box = _sub(el, "addresses")
            for a in addrs:
                self.address(box, "address", a)
        if f.devices and self.prof.supports("network_devices"):
            devices = [(d, v) for d in f.devices if (v := ip_version(d.ip))]
            if devices:
                box = _sub(el, "network_devices")
                for d, v in devices:
                    self._device(box, d, v)
        elif f.devices:
            comments.append("IP addresses: " + "; ".join(_device_text(d) for d in f.devices))
        emails = [clip(e, 255) for e in f.emails]
        if emails and self.prof.supports("social_media") and len(emails) > 5:
            box = _sub(el, "emails")
            for e in emails:
                _sub(box, "email", e)
        else:
            for e in emails[:5]:
                _sub(el, "email", e)
            if len(emails) > 5:
                comments.append("more e-mail addresses: " + ", ".join(emails[5:]))
        if f.socials and self.prof.supports("social_media"):
            box = _sub(el, "social_media")
            for acc in f.socials:
                sa = _sub(box, "social_account")
                _sub(sa, "platform", clip(acc.platform, 255))
                _sub(sa, "user_name", clip(acc.user_name, 255))
                _sub(sa, "comments", clip(_social_text(acc), COMMENTS_MAX))
        elif f.socials:
            comments.append("platform accounts: " + " | ".join(
                f"{a.platform} {a.user_name}: {_social_text(a)}" for a in f.socials))
        for doc in f.id_docs:
            ident = _sub(el, "identification")
            _sub(ident, "type", self.lp.code("identifier_type", doc.id_type, doc.id_type.lower()))
            _sub(ident, "number", clip(doc.number, 255))
            _sub(ident, "issue_country", self.lp.country(doc.country, "an identity document"))
            _sub(ident, "comments", "issuing country not recorded: the country of the customer's record")
        if comments:
            _sub(el, "comments", clip("\n".join(comments), COMMENTS_MAX))

    def _phone(self, parent: etree._Element, prefix: str, number: str, kind: str) -> None:
        ph = _sub(parent, "phone")
        _sub(ph, "tph_contact_type", self.lp.code("contact_type", "phone"))
        _sub(ph, "tph_communication_type", self.lp.code("communication_type", kind))
        _sub(ph, "tph_country_prefix", prefix)
        _sub(ph, "tph_number", number)

    def address(self, parent: etree._Element, tag: str, a: Address) -> None:
        el = _sub(parent, tag)
        _sub(el, "address_type", self.lp.code("contact_type", "address"))
        _sub(el, "address", clip(a.address or a.city or self.unknown, 100))
        _sub(el, "city", clip(a.city or self.unknown, 255))
        _sub(el, "country_code", self.lp.country(a.country, "an address"))

    def _device(self, parent: etree._Element, d: _Device, version: tuple[str, str]) -> None:
        el = _sub(parent, "network_device")
        _opt(el, "device_number", d.device_number, 50)
        ip = _sub(el, "ip_address")
        _sub(ip, version[0], version[1])
        _opt(ip, "first_seen_date", sql_date(d.first))
        _opt(ip, "last_seen_date", sql_date(d.last))
        if d.country:
            _sub(ip, "country", self.lp.country(d.country, f"IP {d.ip}"))
        _opt(ip, "comments", "; ".join(d.notes), COMMENTS_MAX)

    # -- sides --------------------------------------------------------------------------

    def side(self, tx: etree._Element, direction: str, t: TransactionEvidence, p: Party | None) -> None:
        d = direction
        box = _sub(tx, "t_from" if d == "from" else "t_to")
        kind = _funds_kind(t, d)
        _sub(box, f"{d}_funds_code", self.lp.code("funds", kind))
        _opt(box, f"{d}_funds_comment", _funds_comment(t, d), 255)
        if d == "from" and t.ip_address and self.prof.supports("from_transaction_additional_info"):
            v = ip_version(t.ip_address)
            if v:
                info = _sub(box, "from_transaction_additional_info")
                self._device(info, _Device(t.ip_address, t.ts_utc, t.ts_utc, device_number=t.device_id,
                                           notes=["the payment's own IP address"]), v)
        self._foreign(box, d, t)
        if p is not None and p.subject_id in self.in_case and self.prof.supports(f"{d}_is_suspected"):
            _sub(box, f"{d}_is_suspected", "true" if self.in_case[p.subject_id].flagged else "false")
        country_code = (p.country if p else None) or (t.sender_country if d == "from" else t.receiver_country)
        if p is not None and p.is_merchant:
            self._entity(box, f"{d}_entity", t, p)
        elif p is not None and p.account:
            self._account(box, f"{d}_account", t, p)
        else:
            facts = self.party_facts(p, t) if p else _PersonFacts(self.unknown, self.unknown)
            self.person(box, f"{d}_person", facts)
        _sub(box, f"{d}_country", self.lp.country(country_code, f"payment {t.key}"))

    def _foreign(self, box: etree._Element, d: str, t: TransactionEvidence) -> None:
        local = self.fx.amount(t)
        if d == "from":
            code, amount = t.currency, t.amount
        else:
            code, amount = t.payout_currency or t.currency, t.payout_amount if t.payout_currency else t.amount
        if not code or code == self.fx.code or amount is None or Decimal(amount) == 0:
            return
        fc = _sub(box, f"{d}_foreign_currency")
        _sub(fc, "foreign_currency_code", self.lp.currency(code, f"payment {t.key}"))
        _sub(fc, "foreign_amount", money(amount))
        _sub(fc, "foreign_exchange_rate", money(local / Decimal(amount), 8))

    def _account(self, box: etree._Element, tag: str, t: TransactionEvidence, p: Party) -> None:
        el = _sub(box, tag)
        inst = self.prof.institutions.get(t.provider)
        _sub(el, "institution_name", clip(inst.name if inst else (f"BIC {p.agent_bic}" if p.agent_bic
                                                                    else t.provider), 255))
        if p.agent_bic:
            _sub(el, "swift", clip(p.agent_bic, 11))
        elif inst and inst.swift:
            _sub(el, "swift", inst.swift)
        else:
            _sub(el, "institution_code", clip(inst.code if inst and inst.code else t.provider, 50))
        if t.format in ("remittance-csv", "wallet-csv"):
            _sub(el, "non_bank_institution", "true")
        elif t.format == "pacs008":
            _sub(el, "non_bank_institution", "false")
        _sub(el, "account", clip(p.account, 255))
        _opt(el, "account_name", p.name, 255)
        if p.account_kind == "iban" and p.account and len(p.account) <= 34:
            _sub(el, "iban", p.account)
        if p.account_kind == "customer" and p.account:
            _sub(el, "client_number", clip(p.account, 30))
        _sub(el, "personal_account_type", self.lp.code("account_type", p.account_kind))
        sig = _sub(el, "signatory")
        self.person(sig, "t_person", self.party_facts(p, t))
        note = {"card": "a card token issued for the card number (never the number itself)",
                "customer": "the provider's customer number"}.get(p.account_kind or "")
        _opt(el, "comments", note)

    def _entity(self, box: etree._Element, tag: str, t: TransactionEvidence, p: Party) -> None:
        el = _sub(box, tag)
        _sub(el, "name", clip(p.name or t.merchant_name or self.unknown, 255))
        _opt(el, "business", f"merchant category code {t.mcc}" if t.mcc else None, 255)
        if p.country:
            _sub(el, "incorporation_country_code", self.lp.country(p.country, f"merchant of {t.key}"))
        _opt(el, "comments", f"merchant id {p.account}" if p.account else None, COMMENTS_MAX)

    # -- report --------------------------------------------------------------------------

    def transaction(self, root: etree._Element, t: TransactionEvidence) -> None:
        tx = _sub(root, "transaction")
        _sub(tx, "transactionnumber", clip(t.record_id, 100))
        if self.prof.supports("transaction_is_suspicious"):
            _sub(tx, "transaction_is_suspicious", "true" if t.flagged else "false")
        _sub(tx, "internal_ref_number", clip(t.key, 100))
        _sub(tx, "transaction_location", clip(self._location(t), 255))
        _sub(tx, "transaction_description", clip(self._description(t), COMMENTS_MAX))
        _sub(tx, "date_transaction", sql_date(t.ts_utc) or self.unknown)
        _opt(tx, "value_date", sql_date(t.paid_out_at))
        _sub(tx, "transmode_code", self.lp.code(
            "transmode", f"{t.format}:{t.channel}", f"{t.format}:{t.txn_type}", t.format))
        _opt(tx, "transmode_comment", " ".join(x for x in (t.txn_type, t.channel) if x), 50)
        _sub(tx, "amount_local", money(self.fx.amount(t)))
        self.side(tx, "from", t, t.payer)
        self.side(tx, "to", t, t.payee)
        if t.ip_address and not self.prof.supports("from_transaction_additional_info"):
            _sub(tx, "comments", clip(f"made from IP address {t.ip_address}"
                                      + (f", device {t.device_id}" if t.device_id else ""), COMMENTS_MAX))

    def _location(self, t: TransactionEvidence) -> str:
        inst = self.prof.institutions.get(t.provider)
        parts = [inst.name if inst else t.provider, t.channel or ""]
        if t.payout_agent_id:
            parts.append(f"paid out by agent {t.payout_agent_id}")
        return ", ".join(p for p in parts if p)

    def _description(self, t: TransactionEvidence) -> str:
        from moneytrail.indicators import load_catalogue

        cat = load_catalogue()
        who = " to ".join(
            f"{(p.name or 'unknown')} ({p.country or '?'})" if p else "unknown" for p in (t.payer, t.payee))
        usd = f" (USD {t.amount_usd:,.2f})" if t.amount_usd is not None and t.currency != "USD" else ""
        amount = money(t.amount) if t.amount is not None else "?"
        text = [f"{t.txn_type or 'payment'} of {amount} {t.currency}{usd} from {who}"
                + (f" via {t.channel}" if t.channel else "") + "."]
        if t.payout_amount is not None and t.payout_currency:
            text.append(f"Paid out {money(t.payout_amount)} {t.payout_currency}"
                        + (f" as {t.payout_method}" if t.payout_method else "")
                        + (f" at {t.paid_out_at:%Y-%m-%d %H:%M} UTC" if t.paid_out_at else "") + ".")
        for v in t.via:
            text.append(f"Through {v.party} {v.name or v.account or ''} ({v.country or '?'}).")
        text.append(f"moneytrail score {t.score:.3f}" + (", flagged for review." if t.flagged else "."))
        if t.reasons:
            names = []
            for rid in t.reasons:
                ind = cat.get(rid) if rid.startswith("MT") else None
                names.append(f"{rid} {ind.title}" if ind else rid)
            text.append("Indicators: " + "; ".join(names) + ".")
        for a in t.aligned:
            when = "before" if a.order == "payment_first" else "after"
            text.append(f"Made {a.gap_minutes:.0f} min {when} a {a.kind or 'session'} between the two sides' "
                        f"platform accounts (referral {a.report_id}).")
        return " ".join(text)

    def reason(self, chosen: Sequence[TransactionEvidence], total: int) -> str:
        ctx, ev = self.ctx, self.ev
        lines = [f"moneytrail case {ctx.case_id}: {ctx.title}. A {ctx.kind} case in state {ctx.state} "
                 f"with {len(ev.subjects)} subject(s)."]
        if chosen:
            usd = sum(t.amount_usd or 0.0 for t in chosen)
            first, last = chosen[0].ts_utc, chosen[-1].ts_utc
            lines.append(
                f"{len(chosen)} payment(s) reported ({sum(t.flagged for t in chosen)} flagged by moneytrail), "
                f"{first:%Y-%m-%d} to {last:%Y-%m-%d}, USD {usd:,.2f} in all"
                + (f"; {total - len(chosen)} lower-scoring ones are left out" if total > len(chosen) else "")
                + ".")
        if ev.community:
            c = ev.community
            roles: dict[str, int] = defaultdict(int)
            for m in c.members:
                roles[m.role] += 1
            lines.append(f"Payment network {c.community_id}: {len(c.members)} members ("
                         + ", ".join(f"{n} {r}" for r, n in sorted(roles.items()))
                         + f"), {c.payments} payments worth USD {c.total_usd:,.2f}.")
        # each indicator's source once, before the subjects; when the whole would pass
        # 8,000 characters, the lowest subjects shrink to one line each (ids only) first
        blocks: list[tuple[list[str], list[str], dict[str, str]]] = []
        for s in ev.subjects:
            head = (f"Subject {s.subject_id} {s.name!r}: {s.role}, score {s.score:.3f}"
                    + (", flagged" if s.flagged else "")
                    + (f"; countries {', '.join(s.countries)}" if s.countries else "")
                    + (f"; providers {', '.join(s.providers)}" if s.providers else ""))
            full = ["", head + "."]
            for h in s.indicators:
                val = f": {h.value}" if h.value else ""
                thr = f" (threshold {h.threshold})" if h.threshold else ""
                n = f"; fired on {h.n_transactions} of its payments" if h.n_transactions else ""
                full.append(f"- {h.id} {h.title}{val}{thr}{n}.")
            for a in s.platform_accounts:  # in full in the social_account block
                full.append(f"- Platform account {a.key}" + (f" ({a.display_name})" if a.display_name else "")
                            + f": {a.role or 'subject'} in referral {a.report_id}.")
            ids = ", ".join(h.id for h in s.indicators)
            blocks.append((full, ["", head + (f"; indicators {ids}." if ids else ".")],
                           {h.id: h.sources for h in s.indicators}))
        tail: list[str] = []
        aligned = [(t, a) for t in chosen for a in t.aligned]
        if aligned:
            tail.append("")
            tail.append(f"{len(aligned)} payment(s) fall within hours of a video call or stream between the "
                        "payer's and the payee's platform accounts (the strongest evidence there is):")
            for t, al in aligned[:20]:
                when = "before" if al.order == "payment_first" else "after"
                tail.append(f"- {t.key} {al.gap_minutes:.0f} min {when} a {al.kind or 'session'} "
                            f"(referral {al.report_id}).")
        full_n = len(blocks)  # the first full_n subjects are written in full

        def compose() -> list[str]:
            sources = {k: v for _, _, src in blocks[:full_n] for k, v in src.items()}
            cited = ["Indicators cited below, with their sources: "
                     + "; ".join(f"{rid} {src}" for rid, src in sorted(sources.items())) + "."] if sources else []
            body = [x for full, _, _ in blocks[:full_n] for x in full]
            body += [x for _, short, _ in blocks[full_n:] for x in short]
            return lines + cited + body + tail

        while full_n > 0 and len("\n".join(compose())) > COMMENTS_MAX:
            full_n -= 1
        lines = compose()
        return clip_lines(lines, COMMENTS_MAX)

    def action(self) -> str:
        c = self.ctx
        try:
            text = self.prof.action.format(case_id=c.case_id, title=c.title, state=c.state,
                                           assignee=c.assignee or "nobody", prepared_by=c.prepared_by or "moneytrail")
        except (KeyError, IndexError, ValueError) as exc:
            raise UserError(
                f"the goAML profile {self.lp.path}: action uses {exc}; the fields are "
                "{case_id}, {title}, {state}, {assignee} and {prepared_by}"
            ) from exc
        return clip(text, COMMENTS_MAX)

    def indicators(self, chosen: Iterable[TransactionEvidence]) -> list[str]:
        ids = [r for s in self.ev.subjects for r in s.reasons] + [r for t in chosen for r in t.reasons]
        codes = [self.lp.code("indicators", rid) for rid in dict.fromkeys(ids)]
        return list(dict.fromkeys(codes)) or [self.lp.code("indicators", "default")]

    def activity(self, root: etree._Element) -> None:
        act = _sub(root, "activity")
        parties = _sub(act, "report_parties")
        for s in self.ev.subjects:
            rp = _sub(parties, "report_party")
            self.person(rp, "person", self.subject_facts(s))
            _sub(rp, "reason", clip(f"{s.role}, score {s.score:.3f}; indicators {', '.join(s.reasons) or 'none'}",
                                    COMMENTS_MAX))


def build_report(
    ctx: CaseContext, ev: Evidence, lp: LoadedProfile, fx: LocalCurrency, *, now: datetime | None = None
) -> etree._Element:
    """The report element, children in the XSD's order (validate it with ``validate``)."""
    b = _Builder(ctx, ev, lp, fx)
    ent = lp.profile.reporting_entity
    root = etree.Element("report")
    _sub(root, "rentity_id", ent.rentity_id)
    _sub(root, "rentity_branch", clip(ent.rentity_branch, 255))
    _sub(root, "submission_code", ent.submission_code)
    _sub(root, "report_code", ent.report_code)
    _sub(root, "entity_reference", clip(ctx.case_id, 255))
    _sub(root, "report_date", sql_date(now or datetime.now(UTC)))
    _sub(root, "currency_code_local", ent.currency_code_local)
    if ent.reporting_person is not None:
        rp = ent.reporting_person
        el = _sub(root, "reporting_person")
        _opt(el, "title", rp.title, 30)
        _sub(el, "first_name", rp.first_name)
        _sub(el, "last_name", rp.last_name)
        phone = split_phone(rp.phone) if rp.phone else None
        if phone:
            b._phone(_sub(el, "phones"), *phone)
        _opt(el, "email", rp.email, 255)
        _opt(el, "occupation", rp.occupation, 255)
    else:
        _sub(root, "reporting_user_code", ent.reporting_user_code)
    loc = ent.location
    el = _sub(root, "location")
    _sub(el, "address_type", loc.address_type)
    _sub(el, "address", loc.address)
    _opt(el, "town", loc.town, 255)
    _sub(el, "city", loc.city)
    _opt(el, "zip", loc.zip, 10)
    _sub(el, "country_code", loc.country_code)
    _opt(el, "state", loc.state, 255)
    chosen, total = select_transactions(ev, lp.profile.max_transactions)
    _sub(root, "reason", b.reason(chosen, total))
    _opt(root, "action", b.action())
    if chosen:
        for t in chosen:
            b.transaction(root, t)
    else:
        b.activity(root)
    ind = _sub(root, "report_indicators")
    for code in b.indicators(chosen):
        _sub(ind, "indicator", code)
    return root


# --------------------------------------------------------------------------- helpers


def clip_lines(lines: list[str], max_len: int) -> str:
    text = "\n".join(lines)
    if len(text) <= max_len:
        return text
    note = "\n(cut here: the case report has the rest)"
    return text[: max_len - len(note)].rstrip() + note


def _unique_addresses(addresses: Iterable[Address]) -> list[Address]:
    seen: dict[tuple[str, str, str], Address] = {}
    for a in addresses:
        if not (a.address or a.city):
            continue
        key = tuple((x or "").casefold().strip() for x in (a.address, a.city, a.country))
        seen.setdefault(key, a)  # type: ignore[arg-type]
    return list(seen.values())


def _funds_kind(t: TransactionEvidence, d: str) -> str:
    fmt = t.format or ""
    if fmt == "card-csv":
        return "card"
    if fmt == "pacs008":
        return "bank"
    if fmt == "wallet-csv":
        return "wallet"
    if fmt == "remittance-csv":
        if d == "from":
            return "cash" if t.channel == "agent" else "online"
        return t.payout_method or "default"
    return "default"


def _funds_comment(t: TransactionEvidence, d: str) -> str:
    if d == "from":
        return " ".join(x for x in (t.txn_type, "via", t.channel) if x) if t.channel else (t.txn_type or "")
    if t.payout_method:
        return f"paid out as {t.payout_method}" + (f" by agent {t.payout_agent_id}" if t.payout_agent_id else "")
    return ""


def _social_text(a: PlatformAccount) -> str:
    parts = [f"account id {a.account_id}" if a.account_id else f"referral subject {a.record_id}"]
    if a.screen_name:
        parts.append(f"screen name {a.screen_name}")
    if a.display_name:
        parts.append(f"display name {a.display_name}")
    parts.append(f"{a.role or 'subject'} in referral {a.report_id}"
                 + (f" ({a.incident_type}" if a.incident_type else " (")
                 + (f", {a.submitted_at:%Y-%m-%d})" if a.submitted_at else ")"))
    if a.links:
        parts.append("linked by " + "; ".join(f"{lk.via}: {lk.evidence}" for lk in a.links[:4]))
    if a.sessions:
        kinds: dict[str, int] = defaultdict(int)
        for s in a.sessions:
            kinds[s.kind] += 1
        others = sorted({s.counterpart_account for s in a.sessions})
        parts.append(f"{len(a.sessions)} session(s) (" + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                     + ") with " + ", ".join(others[:5]))
    return "; ".join(parts)


def _device_text(d: _Device) -> str:
    span = f" {sql_date(d.first)} to {sql_date(d.last)}" if d.first else ""
    return f"{d.ip}{span} ({'; '.join(d.notes)})"
