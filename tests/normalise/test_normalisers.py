"""Property tests for the normalisers: total, idempotent, and right on known cases."""

from __future__ import annotations

import csv
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moneytrail.normalise import (
    country_code,
    currency_code,
    name_tokens,
    normalise_email,
    normalise_name,
    normalise_phone,
)
from moneytrail.normalise.countries import all_country_codes
from moneytrail.normalise.currencies import all_currency_codes
from moneytrail.normalise.phones import _parse_e164, fast_e164


@given(st.text())
def test_name_normalisation_is_total_idempotent_and_ascii(text: str) -> None:
    norm = normalise_name(text)
    if norm is None:
        return
    assert norm == normalise_name(norm)
    assert norm.isascii() and norm == norm.lower() and norm.strip() == norm
    assert "  " not in norm
    assert all(ch.isalnum() or ch == " " for ch in norm)


@given(st.lists(st.sampled_from(["John", "SMITH", "Ma.", "Santos-Reyes", "José", "Ñuñez", "O'Brien"]), min_size=1))
def test_name_tokens_keep_order_and_ignore_case(parts: list[str]) -> None:
    upper = " ".join(p.upper() for p in parts)
    lower = " ".join(p.lower() for p in parts)
    assert name_tokens(upper) == name_tokens(lower)
    assert name_tokens(" ".join(parts))[0] == name_tokens(parts[0])[0]


@pytest.mark.parametrize(
    ("raw", "norm"),
    [("Ma. Santos-Reyes", "ma santos reyes"), ("  SMITH,  John ", "smith john"), ("José GARCÍA", "jose garcia"),
     ("Nguyễn Văn An", "nguyen van an"), ("...", None), ("", None)],
)
def test_name_examples(raw: str, norm: str | None) -> None:
    assert normalise_name(raw) == norm


@given(st.text())
def test_email_normalisation_is_total_and_idempotent(text: str) -> None:
    norm = normalise_email(text)
    if norm is not None:
        assert normalise_email(norm) == norm and norm == norm.lower() and "@" in norm


@given(st.from_regex(r"[a-z0-9._]{1,10}@[a-z0-9]{1,8}\.(com|ph|org)", fullmatch=True))
def test_valid_emails_survive_case_and_spaces(email: str) -> None:
    assert normalise_email(f"  {email.upper()} ") == email


@settings(max_examples=200)
@given(st.text(max_size=25), st.sampled_from(["PH", "US", "AU", "GB", None]))
def test_phone_normalisation_is_total_and_gives_e164(text: str, country: str | None) -> None:
    norm = normalise_phone(text, country)
    if norm is not None:
        assert norm.startswith("+") and norm[1:].isdigit()
        assert normalise_phone(norm, None) == norm


_PH = ["+63 917 555 0101", "09175550101", "0917-555-0101", "639175550101", "+639175550101", "(0917) 555 0101"]


@pytest.mark.parametrize("notation", _PH)
def test_philippine_notations_agree(notation: str) -> None:
    assert normalise_phone(notation, "PH") == "+639175550101"


@settings(max_examples=100)
@given(st.sampled_from(["PH", "US", "GB", "AU", "TH", "CO", "CA", "DE"]), st.integers(0, 10**6))
def test_example_numbers_round_trip_in_every_notation(region: str, salt: int) -> None:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    assert normalise_phone(national, region) == e164
    assert normalise_phone(international, None) == e164
    assert normalise_phone("00" + e164[1:], None) == e164


_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


@st.composite
def plain_notations(draw: st.DrawFn) -> tuple[str, str | None]:
    """A phone as people write it: "+cc", "00cc" or national digits, with separators and stray prefixes."""
    region = draw(st.sampled_from(_REGIONS))
    cc = str(phonenumbers.country_code_for_region(region))
    body = draw(st.text("0123456789", min_size=0, max_size=15))
    lead = draw(st.sampled_from(["+" + cc, "00" + cc, "", "0", cc, "+", "+0", "011", "00"]))
    digits = lead.lstrip("+") + body
    out = "+" if lead.startswith("+") else ""
    for ch in digits:
        out += ch + draw(st.sampled_from(["", "", "", " ", "-", ".", ") ", " ("]))
    hint = draw(st.sampled_from([region, None, "US", "PH"]))
    return out.strip(), hint


@settings(max_examples=3000)
@given(plain_notations())
def test_fast_path_agrees_with_the_full_parser(case: tuple[str, str | None]) -> None:
    text, region = case
    fast = fast_e164(text, region)
    if fast is not None:
        assert fast == _parse_e164(text, region)


def test_fast_path_takes_the_common_notations() -> None:
    assert fast_e164("+63 917 555 0101", None) == "+639175550101"
    assert fast_e164("0917-555-0101", "PH") == "+639175550101"
    assert fast_e164("(650) 253-0000", "US") == "+16502530000"
    # the region's country code written without "+" is dropped as the parser drops it
    assert fast_e164("639175550101", "PH") == "+639175550101"
    assert fast_e164("63 917 555 0101", "PH") == _parse_e164("63 917 555 0101", "PH")
    # what it cannot decide goes to the full parser, which still answers
    assert fast_e164("011 63 917 555 0101", "US") is None
    assert normalise_phone("011 63 917 555 0101", "US") == "+639175550101"
    assert fast_e164("tel:+63-917-555-0101", None) is None
    assert normalise_phone("tel:+63-917-555-0101", None) == "+639175550101"


def test_fast_path_agrees_on_every_phone_of_a_world(tmp_path: Path) -> None:
    from moneytrail.synth.world import generate

    generate(tmp_path, scale=0.2, seed=5)
    seen: set[tuple[str, str | None]] = set()
    for path in (tmp_path / "bundle").rglob("*.csv"):
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            for row in csv.DictReader(fh):
                for key, value in row.items():
                    if key and key.endswith("_phone") and value:
                        side = key.removesuffix("_phone")
                        country = row.get(f"{side}_country") or row.get("issuer_country") or None
                        seen.add((value.strip(), (country or "").upper() or None))
    assert len(seen) > 500
    taken = 0
    for text, region in seen:
        text = "+" + text[2:] if text.startswith("00") else text
        fast = fast_e164(text, region)
        if fast is not None:
            taken += 1
            assert fast == _parse_e164(text, region), (text, region)
    assert taken > 0.6 * len(seen)


@given(st.sampled_from(all_country_codes()))
def test_country_codes_round_trip_in_any_case(code: str) -> None:
    assert country_code(code) == code
    assert country_code(code.lower()) == code


@pytest.mark.parametrize(("raw", "code"), [("Philippines", "PH"), ("PHL", "PH"), ("608", "PH"), ("UK", "GB"),
                                           ("United States", "US"), ("Narnia", None), ("", None)])
def test_country_examples(raw: str, code: str | None) -> None:
    assert country_code(raw) == code


@given(st.text(max_size=6))
def test_country_code_is_total(text: str) -> None:
    code = country_code(text)
    assert code is None or code in all_country_codes()


@given(st.sampled_from(all_currency_codes()))
def test_currency_codes_round_trip(code: str) -> None:
    assert currency_code(code.lower()) == code


@given(st.text(max_size=5))
def test_currency_code_is_total(text: str) -> None:
    code = currency_code(text)
    assert code is None or code in all_currency_codes()
