"""Phone numbers to E.164 with the party's country as the hint."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


@lru_cache(maxsize=200_000)
def normalise_phone(phone: str | None, country: str | None = None) -> str | None:
    """E.164 form of `phone`, or None when it is not a possible number.

    `country` (ISO alpha-2) resolves national notations such as "0917 555 0101"
    for PH; a number written with "+" or "00" needs no hint. A bare
    international number without "+" ("639175550101") is tried as such when
    the national reading fails.
    """
    if not phone:
        return None
    text = phone.strip()
    if not any(ch.isdigit() for ch in text):
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    region = (country or "").upper() or None
    candidates = [text]
    if not text.startswith("+"):
        candidates.append("+" + text)
    for i, candidate in enumerate(candidates):
        try:
            parsed = phonenumbers.parse(candidate, region if i == 0 else None)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(parsed) and (
            i == 0 or phonenumbers.is_valid_number(parsed)
        ):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None
