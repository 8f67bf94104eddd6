"""Two names that differ in a word only looking like a typo are two people (issue 4, session 11).

On development world 113 the only-candidate pass joined an adult-webcam user's cards,
"christopher thomas", to another man's wallet, "christopher thompson"; on 107 it joined
"noel santiago" to "noel santos". :func:`names_compatible` reads a word as a typo of
another when they look alike (Jaro-Winkler 0.85), and the whole names alike (0.95)
pass at once. A typo or a spelling variant is one or two edits; three or more make
another name. :func:`words_apart` says so, and the only-candidate pass, whose only
evidence is the name, refuses such pairs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from moneytrail.resolve.names import names_compatible, words_apart
from moneytrail.store import Warehouse

from .helpers import add_party, resolved_world, subject_of


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("christopher thomas", "christopher thompson"),
        ("noel santos", "noel santiago"),
        ("santiago noel", "noel santos"),  # token order does not matter
        ("thomas christopher j", "christopher j thompson"),
    ],
)
def test_names_apart_by_a_word_three_edits_away(a: str, b: str) -> None:
    assert names_compatible(a, b)  # the looser test reads one as a typo of the other
    assert words_apart(a, b)
    assert words_apart(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("john smith", "john smath"),  # a typo
        ("jhon paul cruz", "john paul cruz"),  # transposed letters
        ("jocelyn fernandez", "joselyn aguilar fernandez"),  # a spelling variant, an extra name
        ("frank kruger", "frank krueger"),
        ("gunter schmidt", "gunther schmidt"),
        ("mohammed ali", "muhammad ali"),  # two edits
        ("maria santos", "ma santos"),  # an abbreviation
        ("j a smith", "john andrew smith"),  # initials
        ("daniel martin", "timothy daniel martin"),  # an extra word on one side only
        ("christopher thomas", "christopher thomas"),
        ("christopher thomas", None),
    ],
)
def test_names_not_apart(a: str, b: str | None) -> None:
    assert not words_apart(a, b)
    assert not words_apart(b, a)


_words = st.text(alphabet="abcdeilmnorst", min_size=1, max_size=9)
_names = st.lists(_words, min_size=1, max_size=4).map(" ".join)


@given(_names, _names)
def test_apart_is_symmetric_and_no_name_is_apart_from_itself(a: str, b: str) -> None:
    assert words_apart(a, b) == words_apart(b, a)
    assert not words_apart(a, a)
    assert not words_apart(a, f"{a} {b}")  # words added on one side only are no difference


# --- end to end: the only-candidate pass ------------------------------------------------------


def _add_people(con: duckdb.DuckDBPyConnection) -> None:
    # an adult-webcam user: cards "CHRISTOPHER THOMAS" with a date of birth
    for i in range(6):
        add_party(con, "CardX", f"K-ct{i}", "cardholder", name="CHRISTOPHER THOMAS", dob=date(1995, 12, 26),
                  country="US", account="tok_ct", account_kind="card")
    # another man: a wallet "christopher thompson" with an email
    for i in range(4):
        add_party(con, "WalletX", f"V-cp{i}", "payer", name="christopher thompson", country="US",
                  email="christopherthompson13@mail.example.com", account="w-cp", account_kind="wallet")
    # one man, his cards with a date of birth and his wallet with an email, the name
    # mistyped once at the wallet operator: still his only candidate
    for i in range(4):
        add_party(con, "CardX", f"K-kw{i}", "cardholder", name="KENNETH WALLACE", dob=date(1961, 4, 3),
                  country="CA", account="tok_kw", account_kind="card")
        add_party(con, "WalletX", f"V-kw{i}", "payer", name="kenneth walalce", country="CA",
                  email="kwallace@post.example.org", account="w-kw", account_kind="wallet")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return resolved_world(tmp_path_factory.mktemp("words_apart") / "w.duckdb", 23, _add_people)


def test_a_card_stays_apart_from_a_wallet_whose_surname_only_looks_alike(world: Path) -> None:
    with Warehouse(world) as wh:
        assert subject_of(wh.con, "CardX:K-ct0:cardholder") != subject_of(wh.con, "WalletX:V-cp0:payer")
        assert subject_of(wh.con, "CardX:K-ct0:cardholder") == subject_of(wh.con, "CardX:K-ct5:cardholder")


def test_one_persons_card_and_mistyped_wallet_still_join(world: Path) -> None:
    with Warehouse(world) as wh:
        assert subject_of(wh.con, "CardX:K-kw0:cardholder") == subject_of(wh.con, "WalletX:V-kw0:payer")
