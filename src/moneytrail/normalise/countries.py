"""Countries to ISO 3166-1 alpha-2 codes."""

from __future__ import annotations

from functools import cache

import pycountry

# Names that pycountry's fuzzy search gets wrong or does not know.
_ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "usa": "US",
    "u s a": "US",
    "u s": "US",
    "america": "US",
    "united states of america": "US",
    "south korea": "KR",
    "russia": "RU",
    "vietnam": "VN",
    "czech republic": "CZ",
}


@cache
def country_code(value: str | None) -> str | None:
    """ISO alpha-2 code for a code (alpha-2, alpha-3, numeric) or a country name."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    folded = " ".join(text.lower().replace(".", " ").split())
    if folded in _ALIASES:
        return _ALIASES[folded]
    if len(text) == 2 and text.isalpha():
        found = pycountry.countries.get(alpha_2=text.upper())
        return found.alpha_2 if found else None
    if len(text) == 3 and text.isalpha():
        found = pycountry.countries.get(alpha_3=text.upper())
        return found.alpha_2 if found else None
    if text.isdigit():
        found = pycountry.countries.get(numeric=text.zfill(3))
        return found.alpha_2 if found else None
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return None


def all_country_codes() -> list[str]:
    return sorted(c.alpha_2 for c in pycountry.countries)
