"""Turning moneytrail values into what goAML's fields accept.

goAML wants a person's first and last name apart, a phone as country prefix plus
national number, an IPv6 address written out in full, dates as ``xs:dateTime`` no
earlier than 1753, and every text within its maximum length. These are pure
functions, tested with hypothesis.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import phonenumbers

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SPACES = re.compile(r"[^\S\n]+")
SQL_DATE_MIN = datetime(1753, 1, 1)


def clip(text: object, max_len: int) -> str:
    """Text XML can carry, cut to ``max_len`` characters (an ellipsis marks the cut).

    Control characters XML 1.0 forbids become spaces; runs of spaces shrink to one;
    line breaks stay.
    """
    lines = _SPACES.sub(" ", _CONTROL.sub(" ", str(text).replace("\r\n", "\n").replace("\r", "\n"))).split("\n")
    s = "\n".join(line.strip() for line in lines).strip()
    if len(s) <= max_len:
        return s
    return s[: max_len - 1].rstrip() + "…"


def split_name(name: str, unknown: str = "UNKNOWN") -> tuple[str, str]:
    """``(first names, last name)`` of a name as a provider wrote it.

    "Santos, Maria" and "SANTOS Maria" (surname first, in capitals, as remittance forms
    and passports write it) give ("Maria", "Santos"/"SANTOS"); otherwise the last word is
    the last name: "Maria de la Cruz" gives ("Maria de la", "Cruz"). A single word is a
    last name, and the first name is ``unknown``. Neither part is ever empty.
    """
    s = clip(name, 400)
    if "," in s:
        last, _, first = (p.strip() for p in s.partition(","))
        if last and first:
            return clip(first, 100), clip(last, 100)
        s = (last or first).strip()
    tokens = s.split()
    if not tokens:
        return unknown, unknown
    if len(tokens) == 1:
        return unknown, clip(tokens[0], 100)
    upper = [_is_upper_word(t) for t in tokens]
    if upper[0] and not all(upper):
        k = upper.index(False)
        return clip(" ".join(tokens[k:]), 100), clip(" ".join(tokens[:k]), 100)
    return clip(" ".join(tokens[:-1]), 100), clip(tokens[-1], 100)


def _is_upper_word(token: str) -> bool:
    letters = [c for c in token if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


PhoneKind = str  # mobile, landline, voip, unknown


def split_phone(phone: str) -> tuple[str, str, PhoneKind] | None:
    """``(country prefix, national number, kind)`` of an international number, else None."""
    raw = phone.strip()
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        num = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not num.country_code or not num.national_number:
        return None
    kind = {
        phonenumbers.PhoneNumberType.MOBILE: "mobile",
        phonenumbers.PhoneNumberType.FIXED_LINE: "landline",
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "mobile",
        phonenumbers.PhoneNumberType.VOIP: "voip",
    }.get(phonenumbers.number_type(num), "unknown")
    national = phonenumbers.national_significant_number(num)
    return str(num.country_code)[:4], national[:50], kind


def ip_version(ip: str) -> tuple[str, str] | None:
    """``("ipv4" | "ipv6", address as goAML's pattern wants it)``, else None.

    goAML's ipv6 pattern has no ``::`` shorthand: the address is written out in full.
    """
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv4Address):
        return "ipv4", str(addr)
    if addr.ipv4_mapped is not None:
        return "ipv4", str(addr.ipv4_mapped)
    return "ipv6", addr.exploded


def sql_date(value: date | datetime | None) -> str | None:
    """goAML's ``sql_date``: an ``xs:dateTime`` without zone, from 1753 on; None otherwise."""
    if value is None:
        return None
    dt = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
    dt = dt.replace(tzinfo=None, microsecond=0)
    if dt < SQL_DATE_MIN:
        return None
    return dt.isoformat(timespec="seconds")


def money(value: Decimal | float | int, places: int = 2) -> str:
    """A decimal goAML's ``sql_decimal`` accepts (at most 13 fraction digits)."""
    q = Decimal(1).scaleb(-places)
    return str(Decimal(str(value)).quantize(q, rounding=ROUND_HALF_UP))
