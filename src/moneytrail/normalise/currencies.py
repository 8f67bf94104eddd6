"""Currencies to ISO 4217 alphabetic codes."""

from __future__ import annotations

from functools import cache

import pycountry


@cache
def currency_code(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip().upper()
    if len(text) != 3 or not text.isalpha():
        return None
    found = pycountry.currencies.get(alpha_3=text)
    return found.alpha_3 if found else None


def all_currency_codes() -> list[str]:
    return sorted(c.alpha_3 for c in pycountry.currencies)
