"""Receiver fragments: withdrawals to one's own account, and receivers paid by the same payer.

A facilitator's wallet withdrawals to her bank account, and her payees' records at
operators that write down a name only, used to form subjects of their own. These
tests build small worlds where only the new evidence can join the fragments, and
check that namesakes stay apart and that ``explain --link`` shows the evidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from moneytrail.resolve import ResolveSettings, explain_link, render_link, resolve
from moneytrail.resolve.deterministic import _person_name
from moneytrail.resolve.sample import generate
from moneytrail.store import Warehouse

from .helpers import add_party, subject_of


def add_txn(con: duckdb.DuckDBPyConnection, provider: str, record_id: str, txn_type: str) -> None:
    con.execute(
        "INSERT INTO transactions (provider, record_id, txn_type) VALUES (?, ?, ?)",
        [provider, record_id, txn_type],
    )


def add_fragments(con: duckdb.DuckDBPyConnection) -> None:
    # a wallet holder (phone, wallet) who withdraws to her bank account: the payee is
    # written "R Magbanua" with the bank account and nothing else
    for i in range(3):
        add_party(con, "WalletZ", f"Z-pay{i}", "payee", name="Rowena Magbanua", phone="+63 917 222 3344",
                  country="PH", account="w-rm", account_kind="wallet")
        add_txn(con, "WalletZ", f"Z-pay{i}", "send_money")
    for i in range(2):
        add_party(con, "WalletZ", f"Z-wd{i}", "payer", name="Rowena Magbanua", phone="+63 917 222 3344",
                  country="PH", account="w-rm", account_kind="wallet")
        add_party(con, "WalletZ", f"Z-wd{i}", "payee", name="R Magbanua", country="PH",
                  account="BA-9001", account_kind="wallet")
        add_txn(con, "WalletZ", f"Z-wd{i}", "withdrawal")
    # a withdrawal at a cash-out point, and one to somebody else's account: no link
    add_party(con, "WalletZ", "Z-wd-cash", "payer", name="Rowena Magbanua", phone="+63 917 222 3344",
              country="PH", account="w-rm", account_kind="wallet")
    add_party(con, "WalletZ", "Z-wd-cash", "payee", name="Cash Express Pasig #27", country="PH",
              account="CO-27", account_kind="wallet")
    add_txn(con, "WalletZ", "Z-wd-cash", "withdrawal")
    add_party(con, "WalletZ", "Z-wd-other", "payer", name="Rowena Magbanua", phone="+63 917 222 3344",
              country="PH", account="w-rm", account_kind="wallet")
    add_party(con, "WalletZ", "Z-wd-other", "payee", name="Jose Bautista", country="PH",
              account="BA-7777", account_kind="wallet")
    add_txn(con, "WalletZ", "Z-wd-other", "withdrawal")

    # two cash-out outlets that the same wallet holder withdraws at: "2" would pass
    # for an initial of "20", and they share a payer, but they are not people
    for outlet in ("20", "2"):
        for i in range(3):
            rid = f"Z-out{outlet}-{i}"
            add_party(con, "WalletZ", rid, "payer", name="Rowena Magbanua", phone="+63 917 222 3344",
                      country="PH", account="w-rm", account_kind="wallet")
            add_party(con, "WalletZ", rid, "payee", name=f"Perapadala Center Manila {outlet}", country="PH",
                      account=f"CO-{outlet}", account_kind="wallet")
            add_txn(con, "WalletZ", rid, "withdrawal")

    # two relatives with one name, each with her own phone, and a card-funded receiver
    # written with that name only: the name is not "rare", the record joins neither
    for i in range(3):
        add_party(con, "RemitQ", f"Q-rw1-{i}", "receiver", name="Ratana Wongsa", phone="+66 83 496 3564",
                  country="TH")
        add_party(con, "RemitQ", f"Q-rw2-{i}", "receiver", name="WONGSA Ratana", phone="+66 89 682 0487",
                  country="TH")
    add_party(con, "CardQ", "K-rw", "receiver", name="ratana wongsa", country="TH")

    # a facilitator with a phone at one operator ("Mary Grace Ocampo"), a name only at
    # another ("Grace Ocampo"); one consumer (linked by email) pays both
    for i in range(4):
        add_party(con, "RemitQ", f"Q-go{i}", "sender", name="Dale Whitcombe", email="dwhit@example.com",
                  country="AU", account="C-dw", account_kind="customer")
        add_party(con, "RemitQ", f"Q-go{i}", "receiver", name="Mary Grace Ocampo",
                  phone="+63 918 765 4321", country="PH")
        add_party(con, "WalletQ", f"V-go{i}", "payer", name="dale whitcombe", email="dwhit@example.com",
                  country="AU", account="w-dw", account_kind="wallet")
        add_party(con, "WalletQ", f"V-go{i}", "payee", name="Grace Ocampo", country="PH",
                  account="w-go", account_kind="wallet")

    # namesakes in one network: a consumer pays "Liza Navarro Reyes" (phone A) and
    # "Liza Santos Reyes" (phone B) by remittance, and "Liza Reyes" (a name only) by
    # wallet. "Liza Reyes" could be either: she must join neither.
    for i in range(4):
        add_party(con, "RemitQ", f"Q-lz{i}", "sender", name="Trevor Banfield", email="tbanf@example.com",
                  country="AU", account="C-tb", account_kind="customer")
        add_party(con, "RemitQ", f"Q-lz{i}", "receiver", name="Liza Navarro Reyes",
                  phone="+63 919 111 0001", country="PH")
        add_party(con, "RemitQ", f"Q-ls{i}", "sender", name="Trevor Banfield", email="tbanf@example.com",
                  country="AU", account="C-tb", account_kind="customer")
        add_party(con, "RemitQ", f"Q-ls{i}", "receiver", name="Liza Santos Reyes",
                  phone="+63 919 222 0002", country="PH")
        add_party(con, "WalletQ", f"V-lz{i}", "payer", name="trevor banfield", email="tbanf@example.com",
                  country="AU", account="w-tb", account_kind="wallet")
        add_party(con, "WalletQ", f"V-lz{i}", "payee", name="Liza Reyes", country="PH",
                  account="w-lr", account_kind="wallet")


def _world(path: Path) -> Warehouse:
    wh = Warehouse(path)
    generate(wh.con, transactions=2500, seed=21)
    add_fragments(wh.con)
    return wh


@pytest.fixture(scope="module")
def fragments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    wh = _world(tmp_path_factory.mktemp("frag") / "w.duckdb")
    resolve(wh.con)
    yield wh.con
    wh.close()


def test_withdrawal_payee_is_the_payer(fragments: duckdb.DuckDBPyConnection) -> None:
    con = fragments
    holder = subject_of(con, "WalletZ:Z-pay0:payee")
    assert subject_of(con, "WalletZ:Z-wd0:payer") == holder
    assert subject_of(con, "WalletZ:Z-wd0:payee") == holder
    assert subject_of(con, "WalletZ:Z-wd1:payee") == holder


def test_withdrawal_to_a_cashout_point_or_another_name_does_not_link(fragments: duckdb.DuckDBPyConnection) -> None:
    con = fragments
    holder = subject_of(con, "WalletZ:Z-pay0:payee")
    assert subject_of(con, "WalletZ:Z-wd-cash:payee") != holder
    assert subject_of(con, "WalletZ:Z-wd-other:payee") != holder
    kinds = con.execute(
        "SELECT value FROM resolve_links WHERE kind = 'transaction:withdrawal' ORDER BY 1"
    ).fetchall()
    assert [v for (v,) in kinds if v.startswith("WalletZ:")] == ["WalletZ:Z-wd0", "WalletZ:Z-wd1"]


def test_outlets_paid_by_the_same_holder_stay_apart(fragments: duckdb.DuckDBPyConnection) -> None:
    con = fragments
    assert subject_of(con, "WalletZ:Z-out20-0:payee") == subject_of(con, "WalletZ:Z-out20-2:payee")
    assert subject_of(con, "WalletZ:Z-out20-0:payee") != subject_of(con, "WalletZ:Z-out2-0:payee")
    assert subject_of(con, "WalletZ:Z-out2-0:payee") != subject_of(con, "WalletZ:Z-pay0:payee")


def test_a_name_two_people_hold_is_not_rare(fragments: duckdb.DuckDBPyConnection) -> None:
    con = fragments
    one, two = subject_of(con, "RemitQ:Q-rw1-0:receiver"), subject_of(con, "RemitQ:Q-rw2-0:receiver")
    assert one != two
    assert subject_of(con, "CardQ:K-rw:receiver") not in (one, two)


def test_person_name_rejects_outlets() -> None:
    assert not _person_name("cash express pasig 27")
    assert not _person_name("27 cash express pasig")
    assert _person_name("rowena magbanua")


def test_explain_shows_the_withdrawal(fragments: duckdb.DuckDBPyConnection) -> None:
    expl = explain_link(fragments, "WalletZ:Z-wd0:payer", "WalletZ:Z-wd0:payee")
    assert expl.same_subject
    assert expl.transactions == [("withdrawal", "WalletZ:Z-wd0")]
    assert expl.as_dict()["transactions"] == [{"kind": "withdrawal", "transaction": "WalletZ:Z-wd0"}]
    far = explain_link(fragments, "WalletZ:Z-pay0:payee", "WalletZ:Z-wd1:payee")
    assert far.same_subject
    assert any(s.evidence.startswith("withdrawal to own account WalletZ:Z-wd") for s in far.chain)
    from rich.console import Console

    console = Console(record=True, width=160)
    console.print(render_link(expl))
    assert "Transactions joining them" in console.export_text()


def test_receiver_fragment_paid_by_the_same_payer_joins(fragments: duckdb.DuckDBPyConnection) -> None:
    con = fragments
    assert subject_of(con, "RemitQ:Q-go0:sender") == subject_of(con, "WalletQ:V-go0:payer")
    assert subject_of(con, "RemitQ:Q-go0:receiver") == subject_of(con, "WalletQ:V-go0:payee")
    expl = explain_link(con, "RemitQ:Q-go0:receiver", "WalletQ:V-go0:payee")
    evidence = {c: (label, w) for c, label, w in expl.comparisons}
    assert evidence["receiver_evidence"][1] > 0
    assert "same payer" in evidence["receiver_evidence"][0]
    assert evidence["counterparty"][1] > 0


def test_ambiguous_receiver_fragment_joins_no_namesake(fragments: duckdb.DuckDBPyConnection) -> None:
    con = fragments
    a = subject_of(con, "RemitQ:Q-lz0:receiver")
    b = subject_of(con, "RemitQ:Q-ls0:receiver")
    frag = subject_of(con, "WalletQ:V-lz0:payee")
    assert len({a, b, frag}) == 3


def test_without_receiver_evidence_the_fragment_stays_apart(tmp_path: Path, monkeypatch: Any) -> None:
    """The evidence is what joins them: with its weight at zero they stay apart."""
    from moneytrail.resolve import receivers

    monkeypatch.setattr(receivers, "RECEIVER_CP_WEIGHT", 0.0)
    wh = _world(tmp_path / "w0.duckdb")
    try:
        # the only-candidate links (which would also join this lone pair) are off
        resolve(wh.con, ResolveSettings(only_candidates=False))
        assert subject_of(wh.con, "RemitQ:Q-go0:receiver") != subject_of(wh.con, "WalletQ:V-go0:payee")
    finally:
        wh.close()
