"""An initial stands for a given or middle name, never for the surname (issue 4, adult-webcam users).

On development worlds 107 and 113 three adult-webcam users were flagged as consumers:
entity resolution had joined their card records, written with initials ("S THOMAS",
"Andrea K. Weber"), to a consumer of another name ("Thomas Sullivan", "Andrea
Kruger") through the only-candidate pass: :func:`names_compatible` read the "s" as
Sullivan, and the "k" as Kruger with Weber an extra name. A name written with
initials gives its surname in full after them; :func:`initials_agree` holds every
name pair of an only-candidate set to that.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from moneytrail.resolve.names import initials_agree, names_compatible, surname_only_words
from moneytrail.store import Warehouse

from .helpers import add_party, resolved_world, subject_of

# --- the name test ---------------------------------------------------------------------------

SURNAME_ONLY = frozenset({"sullivan", "kruger", "clark", "brien", "mitchell"})


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("s thomas", "thomas sullivan"),  # S. Thomas is not Thomas Sullivan (s for Sullivan)
        ("andrea k weber", "andrea kruger"),  # k for Kruger, Weber dropped
        ("b j price", "julie price"),  # the given name's initial B left over
        ("k d hughes", "daniel hughes"),
        ("andrew k hill", "keith hill"),  # given names Andrew and Keith
        ("michelle j gallagher", "michelle johnson"),
    ],
)
def test_initials_that_would_stand_for_another_surname_disagree(a: str, b: str) -> None:
    assert names_compatible(a, b)  # the looser test accepts them
    assert not initials_agree(a, b, SURNAME_ONLY)
    assert not initials_agree(b, a, SURNAME_ONLY)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("j a smith", "john andrew smith"),
        ("j smith", "smith john"),
        ("a k weber", "weber andrea"),
        ("andrea k weber", "andrea karin weber"),
        ("c deborah wilson", "claire deborah wilson"),
        ("c deborah wilson", "deborah wilson"),  # known by her middle name
        ("ma c santos reyes", "maria santos"),  # one of a double surname
        ("r c soriano", "rey cabrera soriano"),  # a Filipino middle name is a surname
        ("l ho", "ho lan"),  # surname first by custom
        ("c k clark", "claire kathleen clark"),  # Clark itself, not its look-alike Claire
        ("brian o brien", "brian andrew o brien"),  # O'Brien: "o" reads as an initial
        ("michelle e mitchell", "mitchell michelle emma"),
        ("smith j", "john smith"),  # no word after the initial: not tested
        ("thomas sullivan", "sullivan thomas"),  # no initial at all
    ],
)
def test_one_person_written_with_initials_agrees(a: str, b: str) -> None:
    assert initials_agree(a, b, SURNAME_ONLY)
    assert initials_agree(b, a, SURNAME_ONLY)


def test_a_word_is_surname_only_when_never_seen_as_a_given_name() -> None:
    names = ["s thomas", "thomas j sullivan", "k sullivan", "mark a magbanua", "smith j"]
    assert surname_only_words(names) == frozenset({"sullivan", "magbanua"})
    # "thomas" is a surname in "s thomas" and a given name in "thomas j sullivan"
    assert initials_agree("s thomas", "thomas sullivan")  # without the lexicon, s may be Sullivan
    assert not initials_agree("s thomas", "thomas sullivan", surname_only_words(names))


# --- end to end: the shape of the real cases ---------------------------------------------------


def _add_people(con: duckdb.DuckDBPyConnection) -> None:
    # an adult-webcam user: card records only, "S THOMAS", nothing but a name and a country
    for i in range(6):
        add_party(con, "CardW", f"K-st{i}", "cardholder", name="S THOMAS", country="US",
                  account="tok_st", account_kind="card")
    # a consumer of another name with a wallet and an email
    for i in range(4):
        add_party(con, "WalletW", f"V-ts{i}", "payer", name="Thomas Sullivan", country="US",
                  email="thomas_58@post.example.org", account="w-ts", account_kind="wallet")
    # others whose cards show Sullivan as a surname
    for i, nm in enumerate(["K SULLIVAN", "Mark J Sullivan"]):
        add_party(con, "CardW", f"K-su{i}", "cardholder", name=nm, country="IE", dob=date(1960 + i, 1, 2),
                  account=f"tok_su{i}", account_kind="card")
    # a second webcam user, "Andrea K. Weber" with a phone and an email on her card, and a
    # consumer "Andrea Kruger" known from one bank transfer with a date of birth
    for i in range(5):
        add_party(con, "CardW", f"K-aw{i}", "cardholder", name="Andrea K. Weber", country="DE",
                  phone="+49 176 43707927", email="dreamsilent43@example.net",
                  account="tok_aw", account_kind="card")
    add_party(con, "BankW", "B-ak0", "debtor", name="Andrea Kruger", dob=date(1972, 6, 24),
              city="Stuttgart", country="DE", account="DE02329649416833219847", account_kind="iban")
    # one man: cards "R J COLE" with a date of birth, a wallet "Robert Cole" with an email
    for i in range(4):
        add_party(con, "CardW", f"K-rc{i}", "cardholder", name="R J COLE", dob=date(1958, 3, 9),
                  country="CA", account="tok_rc", account_kind="card")
        add_party(con, "WalletW", f"V-rc{i}", "payer", name="Robert Cole", country="CA",
                  email="rcole@mail.example.com", account="w-rc", account_kind="wallet")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return resolved_world(tmp_path_factory.mktemp("initials") / "w.duckdb", 21, _add_people)


def test_a_card_written_with_initials_stays_apart_from_a_consumer_of_another_surname(world: Path) -> None:
    with Warehouse(world) as wh:
        assert subject_of(wh.con, "CardW:K-st0:cardholder") != subject_of(wh.con, "WalletW:V-ts0:payer")
        assert subject_of(wh.con, "CardW:K-aw0:cardholder") != subject_of(wh.con, "BankW:B-ak0:debtor")


def test_one_persons_card_with_initials_and_wallet_still_join(world: Path) -> None:
    with Warehouse(world) as wh:
        assert subject_of(wh.con, "CardW:K-rc0:cardholder") == subject_of(wh.con, "WalletW:V-rc0:payer")
        assert subject_of(wh.con, "CardW:K-st0:cardholder") == subject_of(wh.con, "CardW:K-st5:cardholder")
