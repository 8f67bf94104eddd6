"""The payee of an aligned payment is named like the session's other end: shared words, or long words one edit apart."""

from __future__ import annotations

import duckdb
import pytest

from moneytrail.referrals.alignment import _SIMILAR_TOKENS


@pytest.mark.parametrize(
    ("a", "b", "similar"),
    [
        (["joselyn"], ["jocelyn", "javier"], True),  # one edit, seven letters
        (["lorna"], ["dizon", "lorna"], True),  # a shared word
        (["lorna"], ["dizon"], False),
        (["anna"], ["anne"], False),  # short words must match exactly
        (["maria"], ["mario"], True),
        (["roberto"], ["alberto"], False),  # two edits
        ([], ["lorna"], False),
    ],
)
def test_similar_name_words(a: list[str], b: list[str], similar: bool) -> None:
    sql = _SIMILAR_TOKENS.format(a="?::VARCHAR[]", b="?::VARCHAR[]")
    assert duckdb.execute(f"SELECT {sql}", [a, b]).fetchone() == (similar,)
