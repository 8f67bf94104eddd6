"""Cross-border sharing without handing over personal data (issue 10).

Each unit encodes its subjects under a secret shared with its partners
(:mod:`~moneytrail.share.encodings`), signs the package with its own key
(:mod:`~moneytrail.share.keys`, :mod:`~moneytrail.share.package`), and the
receiver matches the encodings against its own (:mod:`~moneytrail.share.match`):
only the overlap becomes known. See ``docs/sharing.md``, threat model included.
"""

from moneytrail.share.encodings import DEFAULT_SCHEMA, ClkSchema, EncodedSet, Encoder, FieldSpec
from moneytrail.share.match import Match, MatchResult, MatchSettings, match

__all__ = [
    "DEFAULT_SCHEMA",
    "ClkSchema",
    "EncodedSet",
    "Encoder",
    "FieldSpec",
    "Match",
    "MatchResult",
    "MatchSettings",
    "match",
]
