"""goAML STR export: valid against the 5.0.1 XSD for several cases, with the evidence in it."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import phonenumbers
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from moneytrail.errors import UserError
from moneytrail.report.context import CaseContext
from moneytrail.report.evidence import gather, open_warehouse
from moneytrail.report.goaml import LocalCurrency, build_report, validate, write_goaml
from moneytrail.report.goaml_fields import (
    clip,
    ip_version,
    money,
    split_name,
    split_phone,
    sql_date,
)
from moneytrail.report.goaml_profile import (
    SUPPORTED_IN,
    default_xsd,
    example_profile_path,
    load_profile,
)

XSD = default_xsd()

NOW = datetime(2026, 2, 1, 9, 30, tzinfo=UTC)


def _profile(tmp_path: Path, **changes: object) -> Path:
    """The example profile with some keys changed (dotted paths; None deletes)."""
    data = yaml.safe_load(example_profile_path().read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for key in parents:
            node = node[key]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _write(ctx: CaseContext, tmp_path: Path, profile: Path | None = None) -> etree._Element:
    out = tmp_path / f"{ctx.case_id}.xml"
    result = write_goaml(ctx, out, profile=profile, now=NOW)
    assert result.path == out and out.is_file()
    doc = etree.parse(str(out)).getroot()
    lp = load_profile(profile)
    assert validate(etree.tostring(doc), lp) == []
    assert lp.schema.is_valid(str(out))  # and xmlschema agrees reading the file itself
    return doc


def _texts(doc: etree._Element, xpath: str) -> list[str]:
    return [str(x) for x in doc.xpath(xpath)]


@pytest.mark.parametrize("name", ["consumer", "facilitator", "network", "livestream"])
def test_every_case_validates_with_both_sides_of_its_payments(name: str, cases: dict[str, CaseContext],
                                                              tmp_path: Path) -> None:
    ctx = cases[name]
    doc = _write(ctx, tmp_path)
    ev = gather(ctx)
    assert _texts(doc, "/report/report_code/text()") == ["STR"]
    assert _texts(doc, "/report/entity_reference/text()") == [ctx.case_id]
    assert _texts(doc, "/report/rentity_id/text()") == ["1001"]
    flagged = [t for t in ev.transactions if t.flagged or t.aligned] or list(ev.transactions)
    txs = doc.findall("transaction")
    assert len(txs) == min(len(flagged), load_profile().profile.max_transactions)
    by_key = {t.key: t for t in ev.transactions}
    for tx in txs:
        t = by_key[tx.findtext("internal_ref_number")]
        assert t.flagged or t.aligned or not any(x.flagged or x.aligned for x in ev.transactions)
        assert tx.findtext("transactionnumber") == t.record_id
        assert Decimal(tx.findtext("amount_local")) == Decimal(money(t.amount_usd))  # USD profile
        assert tx.findtext("date_transaction") == sql_date(t.ts_utc)
        frm, to = tx.find("t_from"), tx.find("t_to")
        assert frm is not None and to is not None
        assert frm.findtext("from_country") == (t.payer.country or t.sender_country)
        assert to.findtext("to_country") == (t.payee.country or t.receiver_country)
        holder = frm.find("from_account/signatory/t_person")
        holder = holder if holder is not None else frm.find("from_person")
        if t.payer.account:
            assert frm.findtext("from_account/account") == t.payer.account
        assert holder is not None and holder.findtext("last_name")
    # the reason names every indicator of every subject: the first subjects in full, with
    # titles and sources, as many as 8,000 characters hold; the rest by indicator ids
    reason = doc.findtext("reason")
    assert reason and len(reason) <= 8000
    heads = [next(x for x in reason.splitlines() if x.startswith(f"Subject {s.subject_id} {s.name!r}"))
             for s in ev.subjects]
    n_full = next((i for i, x in enumerate(heads) if "; indicators " in x), len(heads))
    assert n_full >= 1
    for s in ev.subjects[:n_full]:
        assert all(f"{h.id} {h.title}" in reason and h.sources in reason for h in s.indicators)
    for s, line in zip(ev.subjects[n_full:], heads[n_full:], strict=True):
        assert all(h.id in line for h in s.indicators)
    assert _texts(doc, "/report/report_indicators/indicator/text()") == ["-"]


def test_case_subjects_carry_their_identifiers(cases: dict[str, CaseContext], tmp_path: Path) -> None:
    ctx = cases["consumer"]
    doc = _write(ctx, tmp_path)
    s = gather(ctx).subjects[0]
    comment = f"moneytrail subject {s.subject_id}:"
    people = [p for p in doc.iter("t_person", "from_person", "to_person") if comment in (p.findtext("comments") or "")]
    assert people, "the subject appears on its payments"
    p = people[0]
    phones = {"+" + ph.findtext("tph_country_prefix") + ph.findtext("tph_number") for ph in p.iter("phone")}
    assert phones == {x for x in s.phones if split_phone(x)}
    assert set(_texts(p, "email/text()")) == set(list(s.emails)[:5])
    assert set(_texts(p, "identification/number/text()")) == {d.number for d in s.id_documents}
    if s.dobs:
        assert p.findtext("birthdate") == sql_date(s.dobs[0])
    cities = {a.city.casefold() for a in s.addresses if a.city}
    assert {c.casefold() for c in _texts(p, "addresses/address/city/text()")} == cities


def test_livestream_case_has_social_accounts_and_network_devices(cases: dict[str, CaseContext],
                                                                 tmp_path: Path) -> None:
    ctx = cases["livestream"]
    doc = _write(ctx, tmp_path)
    ev = gather(ctx)
    accounts = ev.platform_accounts
    assert accounts and any(a.ip_events for a in accounts)
    socials = {(sa.findtext("platform"), sa.findtext("user_name")) for sa in doc.iter("social_account")}
    assert {(a.platform, a.user_name) for a in accounts} <= socials
    for sa in doc.iter("social_account"):
        assert sa.getparent().tag == "social_media" and sa.getparent().getparent().tag in ("t_person", "to_person", "from_person")
    ips = {ip.findtext("ipv4") or ip.findtext("ipv6") for ip in doc.iter("ip_address")}
    wanted = {v[1] for a in accounts for e in a.ip_events if (v := ip_version(e.ip))}
    assert wanted and wanted <= ips
    for dev in doc.iter("network_device"):
        assert dev.getparent().tag in ("network_devices", "from_transaction_additional_info")
    # the payment made just before a session between the two accounts is reported as such
    aligned = [t for t in ev.transactions if t.aligned]
    assert aligned
    tx = {tx.findtext("internal_ref_number"): tx for tx in doc.iter("transaction")}
    for t in aligned:  # reported even when not flagged
        assert f"referral {t.aligned[0].report_id}" in tx[t.key].findtext("transaction_description")
    assert "strongest evidence" in (doc.findtext("reason") or "")


@pytest.mark.parametrize(("version", "absent", "present"), [
    ("5.0", ("social_media", "network_devices", "from_transaction_additional_info", "transaction_is_suspicious",
             "from_is_suspected", "to_is_suspected"), ()),
    ("5.1", ("social_media", "network_devices"), ("from_transaction_additional_info", "transaction_is_suspicious")),
])
def test_older_goaml_gets_platform_data_in_comments(version: str, absent: tuple[str, ...], present: tuple[str, ...],
                                                    cases: dict[str, CaseContext], tmp_path: Path) -> None:
    profile = _profile(tmp_path, schema_version=version)
    doc = _write(cases["livestream"], tmp_path, profile)
    for tag in absent:
        assert not list(doc.iter(tag)), tag
    for tag in present:
        assert list(doc.iter(tag)), tag
    accounts = gather(cases["livestream"]).platform_accounts
    comments = " ".join(c.text or "" for c in doc.iter("comments"))
    assert all(f"{a.platform} {a.user_name}" in comments for a in accounts)
    assert "IP addresses: " in comments


def test_local_currency_other_than_usd(cases: dict[str, CaseContext], tmp_path: Path) -> None:
    ctx = cases["consumer"]
    profile = _profile(tmp_path, reporting_entity__currency_code_local="AUD")
    doc = _write(ctx, tmp_path, profile)
    ev = gather(ctx)
    with open_warehouse(ctx.warehouse) as con:
        fx = LocalCurrency.load(con, "AUD")
    by_key = {t.key: t for t in ev.transactions}
    for tx in doc.iter("transaction"):
        t = by_key[tx.findtext("internal_ref_number")]
        expected = Decimal(t.amount) if t.currency == "AUD" else Decimal(str(t.amount_usd / fx.rate(t.ts_utc.date())))
        assert Decimal(tx.findtext("amount_local")) == Decimal(money(expected))
        fc = tx.find("t_from/from_foreign_currency")
        assert (fc is None) == (t.currency == "AUD")
        if fc is not None:
            assert fc.findtext("foreign_currency_code") == t.currency
            assert Decimal(fc.findtext("foreign_amount")) == Decimal(money(t.amount))


def test_max_transactions_keeps_the_highest_scores(cases: dict[str, CaseContext], tmp_path: Path) -> None:
    ctx = cases["facilitator"]
    doc = _write(ctx, tmp_path, _profile(tmp_path, max_transactions=3))
    ev = gather(ctx)
    pool = [t for t in ev.transactions if t.flagged or t.aligned] or list(ev.transactions)
    assert len(pool) > 3
    kept = {tx.findtext("internal_ref_number") for tx in doc.iter("transaction")}
    assert len(kept) == 3
    cutoff = sorted((t.score for t in pool), reverse=True)[2]
    assert all(t.score >= cutoff for t in pool if t.key in kept)
    assert f"{len(pool) - 3} lower-scoring ones are left out" in (doc.findtext("reason") or "")


def test_profile_codes_reach_the_report(cases: dict[str, CaseContext], tmp_path: Path) -> None:
    profile = _profile(tmp_path, codes__indicators={"MT40": "-", "default": "-"},
                       codes__funds={"cash": "K", "online": "L", "wallet": "M", "card": "N", "bank": "O",
                                     "default": "P"}, reporting_entity__rentity_id=77)
    doc = _write(cases["facilitator"], tmp_path, profile)
    assert _texts(doc, "/report/rentity_id/text()") == ["77"]
    assert set(_texts(doc, "//from_funds_code/text()") + _texts(doc, "//to_funds_code/text()")) <= set("KLMNOP")


def test_a_case_without_payments_becomes_an_activity_report(cases: dict[str, CaseContext]) -> None:
    ctx = cases["livestream"]
    lp = load_profile()
    ev = dataclasses.replace(gather(ctx), transactions=())
    with open_warehouse(ctx.warehouse) as con:
        fx = LocalCurrency.load(con, "USD")
    doc = build_report(ctx, ev, lp, fx, now=NOW)
    assert validate(etree.tostring(doc), lp) == []
    assert doc.find("transaction") is None
    assert len(doc.findall("activity/report_parties/report_party")) == len(ctx.subject_ids)


def test_a_report_that_does_not_validate_is_not_written(cases: dict[str, CaseContext], tmp_path: Path) -> None:
    assert XSD is not None
    strict = XSD.read_text(encoding="utf-8")
    strict, n = re.subn(r'(<xs:element name="transaction_location">\s*<xs:simpleType>\s*<xs:restriction base="xs:string">'
                        r'\s*<xs:minLength value="0" />\s*<xs:maxLength value=")255(" />)', r"\g<1>3\g<2>", strict)
    assert n == 1
    xsd = tmp_path / "strict.xsd"
    xsd.write_text(strict, encoding="utf-8")
    out = tmp_path / "bad.xml"
    with pytest.raises(UserError, match=r"does not validate.*transaction_location"):
        write_goaml(cases["consumer"], out, xsd=xsd, now=NOW)
    assert not out.exists() and not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize(("changes", "message"), [
    ({"codes__funds__cash": "ZZ"}, r"codes\.funds\.cash is 'ZZ'.*funds_type"),
    ({"codes__transmode__default": None}, r"codes\.transmode needs a 'default'"),
    ({"reporting_entity__rentity_id": 0}, r"reporting_entity\.rentity_id"),
    ({"reporting_entity__currency_code_local": "XYZ"}, r"currency_code_local is 'XYZ'"),
    ({"reporting_entity__report_code": "NOPE"}, r"report_code is 'NOPE'"),
    ({"reporting_entity__reporting_user_code": "ABCD1234"}, r"reporting_person or reporting_user_code"),
    ({"reporting_entity__reporting_person": None}, r"reporting_person or reporting_user_code"),
    ({"surprise": 1}, r"surprise: Extra inputs are not permitted"),
    ({"schema_version": "4.0"}, r"schema_version"),
    ({"xsd": "nowhere.xsd"}, r"XSD given by the profile's xsd does not exist"),
])
def test_bad_profiles_are_refused_with_the_key_to_fix(tmp_path: Path, changes: dict[str, object],
                                                      message: str) -> None:
    with pytest.raises(UserError, match=message):
        load_profile(_profile(tmp_path, **changes))


def test_missing_and_unreadable_profiles(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no goAML profile"):
        load_profile(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("fiu: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_profile(bad)
    bad.write_text("- a list\n")
    with pytest.raises(UserError, match="YAML mapping"):
        load_profile(bad)
    user_code = _profile(tmp_path, reporting_entity__reporting_person=None, schema_version="5.0",
                         reporting_entity__reporting_user_code="ABCD1234")
    with pytest.raises(UserError, match=r"reporting_user_code needs schema_version 5\.1"):
        load_profile(user_code)


def test_codes_outside_the_xsd_lists_need_a_mapping(tmp_path: Path) -> None:
    lp = load_profile()
    with pytest.raises(UserError, match=r"currency 'VES'.*codes\.currency"):
        lp.currency("VES", "payment x:1")
    assert load_profile(_profile(tmp_path, codes__currency={"VES": "VEF"})).currency("VES", "x") == "VEF"
    assert lp.country(None, "x") == "-"
    with pytest.raises(UserError, match=r"no code for 'nothing' in codes\.account_type"):
        load_profile(_profile(tmp_path, codes__account_type={"wallet": "B"})).code("account_type", "nothing")


def test_supported_in_matches_the_xsd() -> None:
    assert XSD is not None
    tree = etree.parse(str(XSD))
    ns = {"xs": "http://www.w3.org/2001/XMLSchema"}
    attr = "{http://www.unodc.org/goaml}supportedIn"
    for name, version in SUPPORTED_IN.items():
        found = {el.get(attr) for el in tree.iterfind(f".//xs:element[@name='{name}']", ns)}
        assert found == {version}, name


# --------------------------------------------------------------------------- field helpers

IPV4 = re.compile(r"((1?[0-9]?[0-9]|2[0-4][0-9]|25[0-5])\.){3}(1?[0-9]?[0-9]|2[0-4][0-9]|25[0-5])")
IPV6 = re.compile(r"([A-Fa-f0-9]{1,4}:){7}[A-Fa-f0-9]{1,4}")  # the XSD's patterns, anchored by fullmatch


@given(st.ip_addresses())
def test_ip_addresses_match_the_xsd_patterns(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    got = ip_version(str(ip))
    assert got is not None
    kind, text = got
    assert (IPV4 if kind == "ipv4" else IPV6).fullmatch(text)
    assert ipaddress.ip_address(text) == (ip.ipv4_mapped or ip if isinstance(ip, ipaddress.IPv6Address) else ip)


@given(st.text(max_size=300))
def test_split_name_never_gives_an_empty_or_overlong_part(name: str) -> None:
    first, last = split_name(name)
    assert 1 <= len(first) <= 100 and 1 <= len(last) <= 100


@given(st.lists(st.from_regex(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'\-]{0,12}", fullmatch=True), min_size=2, max_size=5))
def test_split_name_keeps_every_word(words: list[str]) -> None:
    first, last = split_name(" ".join(words))
    assert sorted((first + " " + last).split()) == sorted(words)


def test_split_name_reads_the_usual_orders() -> None:
    assert split_name("SANTOS Maria Luisa") == ("Maria Luisa", "SANTOS")
    assert split_name("Santos, Maria") == ("Maria", "Santos")
    assert split_name("Maria de la Cruz") == ("Maria de la", "Cruz")
    assert split_name("Madonna") == ("UNKNOWN", "Madonna")


@given(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
def test_split_phone_gives_back_the_number(region: str) -> None:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE) \
        or phonenumbers.example_number(region)
    if example is None:
        return
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    got = split_phone(e164)
    assert got is not None
    prefix, number, _kind = got
    assert 1 <= len(prefix) <= 4 and 1 <= len(number) <= 50
    assert phonenumbers.parse("+" + prefix + number) == phonenumbers.parse(e164)


@given(st.text(), st.integers(min_value=2, max_value=300))
def test_clip_respects_lengths_and_xml(text: str, n: int) -> None:
    out = clip(text, n)
    assert len(out) <= n
    el = etree.Element("x")
    el.text = out  # lxml refuses characters XML 1.0 cannot carry
    assert (etree.fromstring(etree.tostring(el)).text or "") == out


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_sql_date_is_an_xsd_datetime_from_1753(dt: datetime) -> None:
    got = sql_date(dt)
    if dt < datetime(1753, 1, 1):
        assert got is None
    else:
        assert got is not None and datetime.fromisoformat(got) == dt.replace(microsecond=0)
