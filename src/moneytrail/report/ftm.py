"""Subjects, accounts, platform accounts and payments as FollowTheMoney entities.

FollowTheMoney (FtM) is the entity model of Aleph/OpenAleph, OpenSanctions and the
``ftm`` tools; a stream of entities, one JSON object a line, loads into any of them
(``ftm store``, ``ftm export-excel``, ``ftm export-gexf``...). ``export_entities`` turns
an :class:`~moneytrail.report.evidence.Evidence` into:

- ``Person`` (``Company`` for merchants) for each subject, with names, birth dates,
  phones, e-mails, countries, addresses (also as ``Address`` entities) and identity
  documents (``Identification``/``Passport``); counterparties outside the export get
  a ``Person``/``Company`` with what their own record says (name, country, city);
- ``BankAccount`` for accounts, wallets, IBANs and card tokens, tied to their holders by
  ``Ownership``;
- ``UserAccount`` for each platform account linked to a subject (owner, service,
  username, e-mails, phones, IP addresses);
- ``Payment`` for each transaction (payer, beneficiary, their accounts, amount, currency,
  USD amount, date, the record id), with moneytrail's score and indicators.

Ids are stable: ``make_id`` over moneytrail's keys (a subject's first source record,
``provider:record_id``, the provider's account id, the platform account), so a rerun
on the same data gives the same ids and ``ftm aggregate`` merges repeated exports.
Payment memos and message content are never exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from followthemoney import model
from followthemoney.proxy import EntityProxy

from moneytrail.report.evidence import (
    Address,
    Evidence,
    Party,
    PlatformAccount,
    SubjectEvidence,
    TransactionEvidence,
)

PREFIX = "moneytrail"


@dataclass(frozen=True)
class FtmResult:
    path: Path
    entities: int
    by_schema: dict[str, int]


class _Entities:
    """Entities by id; adding to an id that exists merges the new values into it."""

    def __init__(self) -> None:
        self.by_id: dict[str, EntityProxy] = {}

    def make(self, schema: str, *key: object) -> EntityProxy:
        proxy = model.make_entity(schema)
        proxy.make_id(PREFIX, schema if schema not in ("Person", "Company") else "party", *key)
        assert proxy.id is not None
        existing = self.by_id.get(proxy.id)
        if existing is not None:
            return existing
        self.by_id[proxy.id] = proxy
        return proxy


def _add(proxy: EntityProxy, prop: str, values: object) -> None:
    if values is None:
        return
    items = values if isinstance(values, list | tuple | set) else [values]
    for v in items:
        if v is not None and v != "":
            proxy.add(prop, str(v), quiet=True)


def export_entities(ev: Evidence) -> list[EntityProxy]:
    """The evidence as FtM entities, each id once, in a stable order."""
    ents = _Entities()
    people: dict[str, EntityProxy] = {}
    for s in ev.subjects:
        people[s.subject_id] = _subject(ents, s)
    for t in ev.transactions:
        _payment(ents, ev, people, t)
    return sorted(ents.by_id.values(), key=lambda e: (e.schema.name, e.id or ""))


def write_ftm(ev: Evidence, out: Path) -> FtmResult:
    """Write the entities as line-delimited JSON (what ``ftm`` and Aleph read)."""
    entities = export_entities(ev)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("wb") as fh:
        for line in entity_lines(entities):
            fh.write(line)
    tmp.replace(out)
    counts: dict[str, int] = {}
    for e in entities:
        counts[e.schema.name] = counts.get(e.schema.name, 0) + 1
    return FtmResult(out, len(entities), dict(sorted(counts.items())))


def entity_lines(entities: Iterable[EntityProxy]) -> Iterator[bytes]:
    for e in entities:
        data = e.to_dict()
        line = json.dumps({"id": data.pop("id"), **data}, ensure_ascii=False, separators=(",", ":"))
        yield (line + "\n").encode("utf-8")


# --------------------------------------------------------------------------- builders


def _subject(ents: _Entities, s: SubjectEvidence) -> EntityProxy:
    p = ents.make("Company" if s.is_organisation else "Person", s.anchor)
    _add(p, "name", list(s.names) or [s.name])
    _add(p, "country", [c.lower() for c in s.countries])
    _add(p, "phone", s.phones)
    _add(p, "email", s.emails)
    _add(p, "summary", f"moneytrail subject {s.subject_id}: {s.role}, score {s.score:.3f}"
         + (", flagged for review" if s.flagged else ""))
    _add(p, "keywords", list(s.reasons))
    _add(p, "notes", [f"{h.id} {h.title}" + (f": {h.value}" if h.value else "") + f" ({h.sources})"
                      for h in s.indicators])
    if not s.is_organisation:
        _add(p, "birthDate", [d.isoformat() for d in s.dobs])
    for a in s.addresses:
        _address(ents, p, a)
    for doc in s.id_documents:
        is_passport = doc.id_type.lower() == "passport"
        if not s.is_organisation:
            _add(p, "passportNumber" if is_passport else "idNumber", doc.number)
        ident = ents.make("Passport" if is_passport else "Identification", doc.id_type, doc.number, doc.country)
        _add(ident, "holder", p.id)
        _add(ident, "number", doc.number)
        _add(ident, "type", doc.id_type)
        _add(ident, "country", (doc.country or "").lower())
    for acc in s.accounts:
        if acc.kind != "merchant":
            _owned_account(ents, p, acc.provider, acc.account, acc.kind, acc.bic)
    for pa in s.platform_accounts:
        _platform_account(ents, p, pa)
    return p


def _address(ents: _Entities, owner: EntityProxy, a: Address) -> None:
    text = a.text()
    if not text:
        return
    addr = ents.make("Address", text.casefold())
    _add(addr, "full", text)
    _add(addr, "street", a.address)
    _add(addr, "city", a.city)
    _add(addr, "country", (a.country or "").lower())
    _add(owner, "addressEntity", addr.id)
    _add(owner, "address", text)


def _account_id(provider: str, account: str, kind: str | None) -> tuple[str, ...]:
    # an IBAN is the same account whoever reports it; other ids are the provider's own
    return ("iban", account) if kind == "iban" else (provider, kind or "account", account)


def _owned_account(
    ents: _Entities, owner: EntityProxy, provider: str, account: str, kind: str | None, bic: str | None
) -> EntityProxy:
    acc = ents.make("BankAccount", *_account_id(provider, account, kind))
    _add(acc, "accountNumber", account)
    if kind == "iban":
        _add(acc, "iban", account)
    _add(acc, "bic", bic)
    _add(acc, "bankName", provider)
    _add(acc, "accountType", {"card": "card token", "customer": "customer number"}.get(kind or "", kind))
    own = ents.make("Ownership", owner.id, acc.id)
    _add(own, "owner", owner.id)
    _add(own, "asset", acc.id)
    return acc


def _platform_account(ents: _Entities, owner: EntityProxy, pa: PlatformAccount) -> None:
    ua = ents.make("UserAccount", pa.platform, pa.account_id or pa.record_id)
    _add(ua, "username", pa.user_name)
    _add(ua, "service", pa.platform)
    _add(ua, "owner", owner.id)
    _add(ua, "name", pa.display_name)
    _add(ua, "email", pa.emails)
    _add(ua, "phone", pa.phones)
    _add(ua, "ipAddress", sorted({e.ip for e in pa.ip_events}))
    _add(ua, "country", (pa.country or "").lower())
    _add(ua, "summary", f"{pa.role or 'subject'} in platform referral {pa.report_id}"
         + (f" ({pa.incident_type})" if pa.incident_type else ""))
    _add(ua, "notes", [f"linked to {pa.subject_id} by {lk.via}: {lk.evidence}" for lk in pa.links])
    if pa.sessions:
        _add(ua, "notes", f"{len(pa.sessions)} session(s) with "
             + ", ".join(sorted({s.counterpart_account for s in pa.sessions})))


def _party(ents: _Entities, ev: Evidence, people: dict[str, EntityProxy], t: TransactionEvidence,
           p: Party | None, side: str) -> EntityProxy:
    if p is not None and p.subject_id in people:
        return people[p.subject_id]
    schema = "Company" if p is not None and p.is_merchant else "Person"
    if p is not None and p.subject_id:
        key: tuple[str, ...] = (ev.anchors.get(p.subject_id, p.subject_id),)
    else:
        key = (t.provider, t.record_id, p.party if p else side)
    ent = ents.make(schema, *key)
    name = (p.name if p else None) or (t.merchant_name if schema == "Company" else None) or "unknown"
    _add(ent, "name", name)
    if p is not None:
        _add(ent, "country", (p.country or "").lower())
        if p.city:
            _add(ent, "address", ", ".join(x for x in (p.city, p.country) if x))
        if p.subject_id:
            _add(ent, "summary", f"moneytrail subject {p.subject_id} (counterparty)")
    return ent


def _payment(ents: _Entities, ev: Evidence, people: dict[str, EntityProxy], t: TransactionEvidence) -> None:
    payer = _party(ents, ev, people, t, t.payer, "from")
    payee = _party(ents, ev, people, t, t.payee, "to")
    pay = ents.make("Payment", t.provider, t.record_id)
    _add(pay, "payer", payer.id)
    _add(pay, "beneficiary", payee.id)
    for prop, party, holder in (("payerAccount", t.payer, payer), ("beneficiaryAccount", t.payee, payee)):
        if party is not None and party.account and not party.is_merchant:
            acc = _owned_account(ents, holder, t.provider, party.account, party.account_kind, party.agent_bic)
            _add(pay, prop, acc.id)
    if t.amount is not None:
        _add(pay, "amount", f"{t.amount:.2f}")
    _add(pay, "currency", t.currency)
    if t.amount_usd is not None:
        _add(pay, "amountUsd", f"{t.amount_usd:.2f}")
    if t.ts_utc is not None:
        _add(pay, "date", t.ts_utc.isoformat(timespec="seconds"))
    _add(pay, "transactionNumber", t.record_id)
    _add(pay, "recordId", t.key)
    _add(pay, "summary", " ".join(x for x in (t.txn_type or "payment", "via " + t.channel if t.channel else "",
                                              "at " + t.provider) if x))
    desc = [f"moneytrail score {t.score:.3f}" + (", flagged for review" if t.flagged else "")]
    desc += [f"through {v.party} {v.name or v.account or ''}" for v in t.via]
    if t.reasons:
        desc.append("indicators " + ", ".join(t.reasons))
    for a in t.aligned:
        when = "before" if a.order == "payment_first" else "after"
        desc.append(f"{a.gap_minutes:.0f} min {when} a {a.kind or 'session'} between the parties' platform "
                    f"accounts (referral {a.report_id})")
    _add(pay, "description", "; ".join(desc))
