"""Phone numbers to E.164 with the party's country as the hint.

`phonenumbers.parse` costs 50 to 200 µs a number, most of it in generic text
handling (Unicode digits, vanity letters, extensions, RFC 3966). A bundle of
5 million payments holds about a million distinct phones, so `fast_e164`
takes the plain notations (ASCII digits, a leading "+" and the separators
" -().") through the same steps with phonenumbers' own metadata and length
rules, and hands everything else to the full parser. Tests require both
paths to agree on every notation they generate and on every phone of a
synthetic world.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import phonenumbers
from phonenumbers import phonenumberutil as pnu
from phonenumbers.phonemetadata import PhoneMetadata

_PLAIN = re.compile(r"\+?[0-9 ().\-]+")
_NOT_DIGIT = re.compile(r"[^0-9]")
_POSSIBLE = (pnu.ValidationResult.IS_POSSIBLE, pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY)
_NOT_STRIPPED = (
    pnu.ValidationResult.TOO_SHORT,
    pnu.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    pnu.ValidationResult.INVALID_LENGTH,
)


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
    if text.startswith("00"):
        text = "+" + text[2:]
    region = (country or "").upper() or None
    fast = fast_e164(text, region)
    if fast is not None:
        return fast
    return _parse_e164(text, region)


def _parse_e164(text: str, region: str | None) -> str | None:
    """The full parser: any notation phonenumbers reads."""
    if not any(ch.isdigit() for ch in text):
        return None
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


def fast_e164(text: str, region: str | None) -> str | None:
    """E.164 of a plain notation that phonenumbers would accept as written; None when unsure.

    None never means "not a phone": the caller then asks the full parser,
    which also tries a bare international reading.
    """
    if not _PLAIN.fullmatch(text):
        return None
    digits = _NOT_DIGIT.sub("", text)
    if len(digits) < 3:
        return None
    if text.startswith("+"):
        split = _split_country_code(digits)
        if split is None:
            return None
        cc, national = split
        metadata = _metadata_for_code(cc)
    else:
        if region is None:
            return None
        metadata = _metadata_for_region(region)
        if metadata is None or metadata.country_code is None:
            return None
        # an international dialling prefix takes the parser's other branches
        if metadata.international_prefix and re.match(metadata.international_prefix, digits):
            return None
        cc, national = metadata.country_code, digits
        if digits.startswith(str(cc)):
            # The region's country code written without "+": the parser drops it when
            # the rest reads as a national number and the whole does not, or the whole
            # is too long (phonenumbers' _maybe_extract_country_code, same calls).
            rest = digits[len(str(cc)) :]
            _, rest, _ = pnu._maybe_strip_national_prefix_carrier_code(rest, metadata)
            desc = metadata.general_desc
            if (
                not pnu._match_national_number(digits, desc, False)
                and pnu._match_national_number(rest, desc, False)
            ) or _length_result(len(digits), metadata) == pnu.ValidationResult.TOO_LONG:
                national = rest
                # then the parser reads on with the metadata of the code's main region
                metadata = _metadata_for_code(cc)
    if metadata is None or len(national) < 2:
        return None
    _, stripped, _ = pnu._maybe_strip_national_prefix_carrier_code(national, metadata)
    if _length_result(len(stripped), metadata) not in _NOT_STRIPPED:
        national = stripped
    if not 2 <= len(national) <= 17:
        return None
    main = _metadata_for_code(cc)
    if main is None or _length_result(len(national), main) not in _POSSIBLE:
        return None
    return f"+{cc}{national}"


_LENGTHS: dict[tuple[int, int], tuple[PhoneMetadata, int]] = {}


def _length_result(length: int, metadata: PhoneMetadata) -> int:
    """phonenumbers' `_test_number_length` of a national number of `length` digits.

    That test reads only the number's length and the metadata's possible
    lengths, so it is kept per (metadata, length); metadata objects are
    phonenumbers' own and live as long as the process (the entry keeps one too).
    """
    key = (id(metadata), length)
    hit = _LENGTHS.get(key)
    if hit is not None and hit[0] is metadata:
        return hit[1]
    result = pnu._test_number_length("0" * length, metadata)
    _LENGTHS[key] = (metadata, result)
    return result


def _split_country_code(digits: str) -> tuple[int, str] | None:
    """Calling codes are prefix-free: the first 1 to 3 digits that are one."""
    if digits[0] == "0":
        return None
    for i in range(1, 4):
        cc = int(digits[:i])
        if cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return cc, digits[i:]
    return None


@cache
def _metadata_for_code(cc: int) -> PhoneMetadata | None:
    return PhoneMetadata.metadata_for_region_or_calling_code(cc, phonenumbers.region_code_for_country_code(cc))


@cache
def _metadata_for_region(region: str) -> PhoneMetadata | None:
    return PhoneMetadata.metadata_for_region(region, None)
