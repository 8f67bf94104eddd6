"""Personal and organisation names, folded for matching.

Token order is kept: "SMITH John" and "John Smith" stay different strings, and
the resolver compares them with order-insensitive comparisons of its own.
"""

from __future__ import annotations

import re
import unicodedata

from unidecode import unidecode

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalise_name(name: str | None) -> str | None:
    """Fold accents and scripts to ASCII, lower-case, turn punctuation into spaces.

    "Ma. Santos-Reyes" -> "ma santos reyes"; "José  GARCÍA" -> "jose garcia".
    Returns None for a name with no letters or digits.
    """
    if name is None:
        return None
    text = unicodedata.normalize("NFKC", name)
    text = unidecode(text).lower()
    text = _NON_ALNUM.sub(" ", text).strip()
    return text or None


def name_tokens(name: str | None) -> list[str]:
    norm = normalise_name(name)
    return norm.split() if norm else []
