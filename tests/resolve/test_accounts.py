"""Accounts as evidence (a provider knows a customer once) and merchants paid under their name.

- The account guard: two cardholders with one name and one date of birth but two card
  tokens at one issuer stay two people; the same pair at two providers is one person.
- The account evidence (fourth pass), on hand-made scored pairs: a pair just below the
  threshold whose subjects clash nowhere is lifted; a clash of accounts or of dates of
  birth leaves it alone.
- A merchant and the one payee with its exact name and country are one organisation;
  a name two merchants hold links neither.
- A rare name is rare with or without an initial ("Ifeoma N Chukwuemeka"); a name two
  people with their own phones hold is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from moneytrail.resolve import ResolveSettings, explain_link, resolve
from moneytrail.resolve.accounts import ACCOUNT_WEIGHT, adjust_accounts
from moneytrail.resolve.sample import generate
from moneytrail.store import Warehouse

from .helpers import add_party, subject_of


def add_accounts_world(con: duckdb.DuckDBPyConnection) -> None:
    dob = date(1979, 4, 18)
    # two men called Jeffrey Rogers, born the same day, each with his own card at one issuer
    for i in range(3):
        add_party(con, "CardQ", f"K-jr1-{i}", "cardholder", name="ROGERS Jeffrey", dob=dob, country="US",
                  account="tok_jr1", account_kind="card")
        add_party(con, "CardQ", f"K-jr2-{i}", "cardholder", name="Jeffrey Rogers", dob=dob, country="US",
                  account="tok_jr2", account_kind="card")
    # one woman at two providers: a card and a remittance customer id
    for i in range(3):
        add_party(con, "CardQ", f"K-mb{i}", "cardholder", name="BRANDT Marisa", dob=date(1984, 9, 2),
                  country="US", account="tok_mb", account_kind="card")
        add_party(con, "RemitQ", f"Q-mb{i}", "sender", name="Marisa Brandt", dob=date(1984, 9, 2),
                  country="US", account="C-mb", account_kind="customer")
    # a charity paid by card (a merchant) and by wallet (a payee) under its own name
    for i in range(3):
        add_party(con, "CardQ", f"K-ch{i}", "cardholder", name="Hollis Grantley", country="GB",
                  account="tok_hg", account_kind="card")
        add_party(con, "CardQ", f"K-ch{i}", "merchant", name="Bahay Pag-asa Sponsorship", country="PH",
                  account="MID-BPS", account_kind="merchant")
        add_party(con, "WalletQ", f"V-ch{i}", "payer", name="Hollis Grantley", country="GB",
                  account="w-hg", account_kind="wallet")
        add_party(con, "WalletQ", f"V-ch{i}", "payee", name="Bahay Pag-asa Sponsorship", country="PH",
                  account="w-bps", account_kind="wallet")
    # a rare name written with an extra initial at a second provider, nothing else in common
    for i in range(3):
        add_party(con, "RemitQ", f"Q-ic{i}", "sender", name="CHUKWUEMEKA Ifeoma", phone="+44 7700 900 461",
                  country="GB", account="C-ic", account_kind="customer")
        add_party(con, "CardQ", f"K-ic{i}", "cardholder", name="Ifeoma N Chukwuemeka", country="GB",
                  account="tok_ic", account_kind="card")
    # two women called Adaeze Okafor, each with her own phone, and a card record
    # "Adaeze O Okafor": the name is not rare, the card joins neither
    for i in range(3):
        add_party(con, "RemitQ", f"Q-ao1-{i}", "sender", name="Adaeze Okafor", phone="+44 7700 900 511",
                  country="GB", account="C-ao1", account_kind="customer")
        add_party(con, "RemitQ", f"Q-ao2-{i}", "sender", name="OKAFOR Adaeze", phone="+44 7700 900 522",
                  country="GB", account="C-ao2", account_kind="customer")
        add_party(con, "CardQ", f"K-ao{i}", "cardholder", name="Adaeze O Okafor", country="GB",
                  account="tok_ao", account_kind="card")
    # two cafés with one name (two merchant ids) and a payee of that name: joins neither
    for i in range(2):
        for mid in ("MID-KC1", "MID-KC2"):
            add_party(con, "CardQ", f"K-{mid}-{i}", "cardholder", name="Hollis Grantley", country="GB",
                      account="tok_hg", account_kind="card")
            add_party(con, "CardQ", f"K-{mid}-{i}", "merchant", name="Kopi Corner Tanjong", country="SG",
                      account=mid, account_kind="merchant")
        add_party(con, "WalletQ", f"V-kc{i}", "payer", name="Hollis Grantley", country="GB",
                  account="w-hg", account_kind="wallet")
        add_party(con, "WalletQ", f"V-kc{i}", "payee", name="Kopi Corner Tanjong", country="SG",
                  account="w-kc", account_kind="wallet")


@pytest.fixture(scope="module")
def accounts_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    paths = []
    for accounts in (True, False):
        path = tmp_path_factory.mktemp("acc") / "w.duckdb"
        with Warehouse(path) as wh:
            generate(wh.con, transactions=2500, seed=21)
            add_accounts_world(wh.con)
            resolve(wh.con, ResolveSettings(accounts=accounts))
        paths.append(path)
    yield paths[0], paths[1]


def test_two_cards_at_one_issuer_are_two_people(accounts_world: tuple[Path, Path]) -> None:
    guarded, unguarded = accounts_world
    with Warehouse(guarded) as wh:
        assert subject_of(wh.con, "CardQ:K-jr1-0:cardholder") == subject_of(wh.con, "CardQ:K-jr1-2:cardholder")
        assert subject_of(wh.con, "CardQ:K-jr1-0:cardholder") != subject_of(wh.con, "CardQ:K-jr2-0:cardholder")
    with Warehouse(unguarded) as wh:  # the guard is what keeps them apart
        assert subject_of(wh.con, "CardQ:K-jr1-0:cardholder") == subject_of(wh.con, "CardQ:K-jr2-0:cardholder")


def test_a_card_and_a_customer_id_at_two_providers_are_one_person(accounts_world: tuple[Path, Path]) -> None:
    guarded, _ = accounts_world
    with Warehouse(guarded) as wh:
        assert subject_of(wh.con, "CardQ:K-mb0:cardholder") == subject_of(wh.con, "RemitQ:Q-mb0:sender")


def test_merchant_joins_the_payee_of_its_name(accounts_world: tuple[Path, Path]) -> None:
    guarded, _ = accounts_world
    with Warehouse(guarded) as wh:
        con = wh.con
        assert subject_of(con, "CardQ:K-ch0:merchant") == subject_of(con, "WalletQ:V-ch0:payee")
        links = con.execute(
            "SELECT value FROM resolve_links WHERE kind = 'identifier:merchant_name'"
        ).fetchall()
        assert ("PH:asa bahay pag sponsorship",) in links
        expl = explain_link(con, "CardQ:K-ch1:merchant", "WalletQ:V-ch2:payee")
        assert expl.same_subject
        assert any(s.evidence.startswith("merchant paid under its name PH:") for s in expl.chain)


def test_a_name_two_merchants_hold_joins_no_payee(accounts_world: tuple[Path, Path]) -> None:
    guarded, _ = accounts_world
    with Warehouse(guarded) as wh:
        con = wh.con
        payee = subject_of(con, "WalletQ:V-kc0:payee")
        assert subject_of(con, "CardQ:K-MID-KC1-0:merchant") != payee
        assert subject_of(con, "CardQ:K-MID-KC2-0:merchant") != payee
        assert subject_of(con, "CardQ:K-MID-KC1-0:merchant") != subject_of(con, "CardQ:K-MID-KC2-0:merchant")


# --- the fourth pass on hand-made tables -------------------------------------------------


def _pass_tables(con: duckdb.DuckDBPyConnection, second: dict[str, object]) -> list[int]:
    """Two profiles (pids 1, 2) of two subjects, scored just below p = 0.995 (weight 6.5).
    Profile 1 is a card record (rid 1); profile 2 a wallet payer (rid 2) with ``second``'s values."""
    con.execute(
        "CREATE TABLE resolve_records (rid BIGINT, pid BIGINT, provider VARCHAR, side VARCHAR, origin VARCHAR, "
        "account VARCHAR, account_kind VARCHAR, phone VARCHAR, email VARCHAR, dob DATE)"
    )
    con.execute("INSERT INTO resolve_records VALUES (1, 1, 'CardQ', 'from', 'party', 'tok_1', 'card', NULL, NULL, "
                "DATE '1980-01-01')")
    con.execute(
        "INSERT INTO resolve_records VALUES (2, 2, ?, 'from', 'party', ?, ?, NULL, NULL, ?)",
        [second["provider"], second["account"], second["kind"], second.get("dob")],
    )
    con.execute(
        "CREATE TABLE resolve_profiles AS SELECT * FROM (VALUES (1, 'gary bennett', NULL::VARCHAR, NULL::VARCHAR, "
        "DATE '1980-01-01'), (2, 'gary bennett', NULL, NULL, ?::DATE)) t(pid, name_sorted, phone, email, dob)",
        [second.get("dob")],
    )
    con.execute(
        "CREATE TEMP TABLE _resolve_scored AS SELECT 1::BIGINT AS pid_l, 2::BIGINT AS pid_r, 6.5 AS match_weight, "
        "1 / (1 + pow(2, -6.5)) AS match_probability, 11.0 AS w_name, 0.0 AS w_account"
    )
    return [0, 1, 2]  # each record its own subject


def _weight(con: duckdb.DuckDBPyConnection) -> tuple[float, float]:
    row = con.execute("SELECT match_weight, w_account FROM _resolve_scored").fetchall()[0]
    return float(row[0]), float(row[1])


def test_account_evidence_lifts_a_pair_whose_subjects_clash_nowhere() -> None:
    con = duckdb.connect()
    root = _pass_tables(con, {"provider": "WalletQ", "account": "w-1", "kind": "wallet"})
    assert adjust_accounts(con, root, 0.995) == 1
    weight, w_account = _weight(con)
    assert w_account == ACCOUNT_WEIGHT and weight == pytest.approx(6.5 + ACCOUNT_WEIGHT)


def test_account_evidence_not_given_when_accounts_or_dates_clash() -> None:
    con = duckdb.connect()  # a second card at the same issuer
    root = _pass_tables(con, {"provider": "CardQ", "account": "tok_2", "kind": "card"})
    assert adjust_accounts(con, root, 0.995) == 0
    assert _weight(con) == (6.5, 0.0)
    con = duckdb.connect()  # another date of birth
    root = _pass_tables(con, {"provider": "WalletQ", "account": "w-1", "kind": "wallet", "dob": date(1975, 3, 3)})
    assert adjust_accounts(con, root, 0.995) == 0


def test_rare_name_with_an_extra_initial_joins(accounts_world: tuple[Path, Path]) -> None:
    guarded, _ = accounts_world
    with Warehouse(guarded) as wh:
        assert subject_of(wh.con, "RemitQ:Q-ic0:sender") == subject_of(wh.con, "CardQ:K-ic0:cardholder")
        expl = explain_link(wh.con, "RemitQ:Q-ic0:sender", "CardQ:K-ic1:cardholder")
        evidence = {c: (label, w) for c, label, w in expl.comparisons}
        assert evidence["subject_evidence"] == ("rare name", 8.0)


def test_name_two_people_hold_with_an_initial_joins_neither(accounts_world: tuple[Path, Path]) -> None:
    guarded, _ = accounts_world
    with Warehouse(guarded) as wh:
        one, two = subject_of(wh.con, "RemitQ:Q-ao1-0:sender"), subject_of(wh.con, "RemitQ:Q-ao2-0:sender")
        assert one != two
        assert subject_of(wh.con, "CardQ:K-ao0:cardholder") not in (one, two)
