"""The values ingestion normalises in SQL must come out as the Python normalisers make them."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moneytrail.ingest.normalise_values import SQL_NORM, SQL_TAKES
from moneytrail.normalise import normalise_email, normalise_name

_CON = duckdb.connect()


def _sql(kind: str, value: str) -> tuple[bool, str | None]:
    takes, norm = _CON.execute(
        f"SELECT {SQL_TAKES}, {SQL_NORM} FROM (SELECT ? AS kind, ? AS value)", [kind, value]
    ).fetchall()[0]
    return bool(takes), norm


_ascii = st.text(st.characters(max_codepoint=127, blacklist_categories=("Cs",)), max_size=30)
_email_chars = st.sampled_from([*"abcXYZ019._%+-@<> :\t", "mailto:", "é", "\u00a0"])


@settings(max_examples=500)
@given(_ascii)
def test_sql_takes_every_ascii_name_and_agrees(name: str) -> None:
    takes, norm = _sql("name", name)
    assert takes
    assert norm == normalise_name(name)


@settings(max_examples=500)
@given(st.lists(_email_chars, max_size=20).map("".join))
def test_sql_emails_agree_where_taken(email: str) -> None:
    takes, norm = _sql("email", email)
    if takes:
        assert norm == normalise_email(email)


@pytest.mark.parametrize(("kind", "value"), [("name", "José García"), ("name", "Иван"), ("email", "<a@b.co>"),
                                              ("email", " a@b.co"), ("email", "mailto:a@b.co")])
def test_what_sql_cannot_vouch_for_goes_to_python(kind: str, value: str) -> None:
    assert not _sql(kind, value)[0]


def test_plain_values_are_taken() -> None:
    assert _sql("email", "Maria.Santos+1@Example.co.uk") == (True, "maria.santos+1@example.co.uk")
    assert _sql("name", "SMITH, John-Paul") == (True, "smith john paul")
