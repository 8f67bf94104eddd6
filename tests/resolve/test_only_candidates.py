"""Subjects that are each other's only possible match join (issue 5, B-cubed over all occurrences).

An ordinary customer is a card at one bank, a wallet at another and a bank account,
written three ways with nothing in common but a compatible name and a country; before
this rule she stayed three subjects. A set of such candidates joins when nobody else
could be any of them: no two clash (accounts of one kind at one provider, phones,
emails, dates of birth), every two names are compatible, and the set is small.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from moneytrail.resolve import ResolveSettings, explain_link, resolve
from moneytrail.resolve.accounts import ONLY_CANDIDATE_MAX_SUBJECTS, _accept_components
from moneytrail.resolve.names import names_compatible
from moneytrail.resolve.sample import generate
from moneytrail.store import Warehouse

from .helpers import add_party, subject_of

# --- the component rule on hand-made subjects ----------------------------------------------


def _subject(
    names: list[str], phones: tuple[str, ...] = (), dobs: tuple[date, ...] = ()
) -> tuple[list[str], set[object], set[object], set[object]]:
    return (names, set(phones), set(), set(dobs))


def _accept(
    edges: list[tuple[int, int, int, int, str]],
    info: dict[int, tuple[list[str], set[object], set[object], set[object]]],
    accounts: dict[int, dict[str, set[str]]] | None = None,
) -> list[tuple[int, int, str, str]]:
    return _accept_components(edges, info, accounts or {}, names_compatible)


def test_three_fragments_with_nothing_clashing_join() -> None:
    info = {
        1: _subject(["c deborah wilson"], dobs=(date(1971, 6, 1),)),
        2: _subject(["claire deborah wilson"]),
        3: _subject(["deborah wilson"]),
    }
    accounts = {
        1: {"bank1|card": {"tok_1"}},
        2: {"wallet|wallet": {"w-1"}},
        3: {"bank2|account": {"a-1"}},
    }
    edges = [(1, 2, 10, 20, "AU"), (1, 3, 10, 30, "AU"), (2, 3, 20, 30, "AU")]
    links = _accept(edges, info, accounts)
    assert {(a, b) for a, b, _, _ in links} == {(10, 20), (10, 30), (20, 30)}
    assert (
        links[0][2] == "only_candidate"
        and links[0][3] == "AU:c deborah wilson ~ claire deborah wilson"
    )


def test_a_fragment_two_cardholders_could_be_joins_neither() -> None:
    # two cards at one bank (two people "gary bennett") and a wallet "gary bennett"
    info = {
        1: _subject(["bennett gary"]),
        2: _subject(["bennett gary"]),
        3: _subject(["bennett gary"]),
    }
    accounts = {
        1: {"bank|card": {"tok_1"}},
        2: {"bank|card": {"tok_2"}},
        3: {"wallet|wallet": {"w"}},
    }
    edges = [(1, 2, 10, 20, "GB"), (1, 3, 10, 30, "GB"), (2, 3, 20, 30, "GB")]
    assert _accept(edges, info, accounts) == []
    # likewise two phones
    info = {
        1: _subject(["bennett gary"], phones=("+1",)),
        2: _subject(["bennett gary"], phones=("+2",)),
        3: _subject(["bennett gary"]),
    }
    assert _accept(edges, info) == []
    # with one cardholder only, the wallet is hers
    assert len(_accept([(1, 3, 10, 30, "GB")], info, accounts)) == 1


def test_names_must_be_compatible_two_by_two() -> None:
    # "j smith" could be "john smith" or "jane smith", who are not one person
    info = {1: _subject(["john smith"]), 2: _subject(["j smith"]), 3: _subject(["jane smith"])}
    assert _accept([(1, 2, 10, 20, "US"), (2, 3, 20, 30, "US")], info) == []


def test_a_crowd_of_candidates_joins_nobody() -> None:
    n = ONLY_CANDIDATE_MAX_SUBJECTS + 1
    info = {i: _subject(["maria santos"]) for i in range(1, n + 1)}
    edges = [(i, i + 1, i * 10, (i + 1) * 10, "PH") for i in range(1, n)]
    assert _accept(edges, info) == []
    assert len(_accept(edges[: n - 2], info)) == n - 2  # one fewer subject: a chain of one person


# --- end to end ----------------------------------------------------------------------------


def _add_people(con: duckdb.DuckDBPyConnection) -> None:
    # one woman: cards written "C Deborah Wilson" with a date of birth, a wallet payee
    # "Claire Deborah Wilson" with an email, a bank creditor "Deborah Wilson" with an address
    for i in range(3):
        add_party(
            con,
            "CardQ",
            f"K-dw{i}",
            "cardholder",
            name="C Deborah Wilson",
            dob=date(1971, 6, 1),
            country="AU",
            account="tok_dw",
            account_kind="card",
        )
        add_party(
            con,
            "WalletQ",
            f"V-dw{i}",
            "payee",
            name="Claire Deborah Wilson",
            email="wilson.deborah32@mail.example.com",
            country="AU",
            account="w-dw",
            account_kind="wallet",
        )
    add_party(
        con,
        "BankQ",
        "B-dw0",
        "creditor",
        name="Deborah Wilson",
        address="535 Main St",
        city="Adelaide",
        country="AU",
        account="6284842397",
        account_kind="account",
    )
    # two men "Gary Bennett" with a card each at one bank, and a wallet payer of that name
    for i in range(3):
        add_party(
            con,
            "CardQ",
            f"K-gb1-{i}",
            "cardholder",
            name="BENNETT Gary",
            dob=date(1966, 2, 3),
            country="GB",
            account="tok_gb1",
            account_kind="card",
        )
        add_party(
            con,
            "CardQ",
            f"K-gb2-{i}",
            "cardholder",
            name="Gary Bennett",
            dob=date(1980, 9, 9),
            country="GB",
            account="tok_gb2",
            account_kind="card",
        )
        add_party(
            con,
            "WalletQ",
            f"V-gb{i}",
            "payer",
            name="Gary Bennett",
            country="GB",
            account="w-gb",
            account_kind="wallet",
        )


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    paths = []
    for on in (True, False):
        path = tmp_path_factory.mktemp("oc") / "w.duckdb"
        with Warehouse(path) as wh:
            generate(wh.con, transactions=2500, seed=21)
            _add_people(wh.con)
            resolve(wh.con, ResolveSettings(only_candidates=on))
        paths.append(path)
    yield paths[0], paths[1]


def test_card_wallet_and_bank_fragments_of_one_customer_join(worlds: tuple[Path, Path]) -> None:
    on, off = worlds
    keys = ("CardQ:K-dw0:cardholder", "WalletQ:V-dw0:payee", "BankQ:B-dw0:creditor")
    with Warehouse(on) as wh:
        assert len({subject_of(wh.con, k) for k in keys}) == 1
        expl = explain_link(wh.con, keys[0], keys[1])
        assert expl.same_subject
        assert any(s.evidence.startswith("only_candidate AU:") for s in expl.chain)
    with Warehouse(off) as wh:  # the rule is what joins them
        assert len({subject_of(wh.con, k) for k in keys}) > 1


def test_a_wallet_two_cardholders_could_own_stays_apart(worlds: tuple[Path, Path]) -> None:
    on, _ = worlds
    with Warehouse(on) as wh:
        one, two = (
            subject_of(wh.con, "CardQ:K-gb1-0:cardholder"),
            subject_of(wh.con, "CardQ:K-gb2-0:cardholder"),
        )
        assert one != two
        assert subject_of(wh.con, "WalletQ:V-gb0:payer") not in (one, two)


# --- the array path gives the sets the plain union-find gives -------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_small_sets_by_arrays_accept_what_the_plain_path_accepts(seed: int) -> None:
    """``only_candidate_links`` keeps the edges of small connected sets with scipy before
    fetching anything; on edges that do not clash (SQL drops those first) the links
    accepted are those the plain path accepts over all edges, crowds included."""
    import pyarrow as pa

    from moneytrail.resolve.accounts import _clash, _small_component_edges

    rng = random.Random(seed)
    first = ["ana", "ben", "carla", "dario", "elena", "f", "g"]
    info: dict[int, tuple[list[str], set[object], set[object], set[object]]] = {}
    accounts: dict[int, dict[str, set[str]]] = {}
    for g in range(1, 400):
        info[g] = (
            sorted({f"{rng.choice(first)} cruz", f"{rng.choice(first)} cruz"}),
            {f"+63{rng.randrange(3)}"} if rng.random() < 0.3 else set(),
            set(),
            set(),
        )
        if rng.random() < 0.4:
            accounts[g] = {f"bank{rng.randrange(2)}|card": {f"tok{rng.randrange(4)}"}}
    pairs: set[tuple[int, int]] = set()
    for _ in range(450):  # sparse enough for small sets, dense enough for a few crowds
        a, b = sorted(rng.sample(range(1, 400), 2))
        pairs.add((a, b))
    empty: tuple[list[str], set[object], set[object], set[object]] = ([], set(), set(), set())
    edges = [
        (a, b, a * 10, b * 10, "PH")
        for a, b in sorted(pairs)
        if not _clash(info.get(a, empty), info.get(b, empty), accounts.get(a, {}), accounts.get(b, {}))
    ]
    table = pa.table(
        {name: pa.array([e[i] for e in edges]) for i, name in enumerate(("ga", "gb", "rid_a", "rid_b", "country"))}
    )
    small = _small_component_edges(table)
    assert 0 < len(small) < len(edges)  # some sets were crowds
    want = _accept(edges, info, accounts)
    assert want  # some sets joined
    assert _accept(small, info, accounts) == want


# --- a profile in many subjects: its edges among big groups are not written -----------------

_FULL_PRODUCT_EDGES = """
CREATE OR REPLACE TEMP TABLE _resolve_oc_edges AS
WITH pg AS (
  SELECT r.pid, g.grp, min(r.rid) AS rid FROM resolve_records r
  JOIN _resolve_oc_groups g ON g.rid = r.rid WHERE r.pid IS NOT NULL GROUP BY ALL
),
excluded AS (
  SELECT DISTINCT g.grp FROM resolve_records r JOIN _resolve_oc_groups g ON g.rid = r.rid
  WHERE r.origin = 'merchant' OR regexp_matches(coalesce(r.name_sorted, ''), '[0-9]')
)
SELECT a.grp AS ga, b.grp AS gb, min(a.rid) AS rid_a, min(b.rid) AS rid_b,
       min(p1.country) AS country
FROM _resolve_scored s
JOIN pg a ON a.pid = s.pid_l JOIN pg b ON b.pid = s.pid_r
JOIN resolve_profiles p1 ON p1.pid = s.pid_l JOIN resolve_profiles p2 ON p2.pid = s.pid_r
WHERE a.grp <> b.grp
  AND s.w_name > 5.0 AND p1.country = p2.country
  AND coalesce(s.w_dob, 0) >= 0 AND coalesce(s.w_phone, 0) >= 0
  AND coalesce(s.w_email, 0) >= 0 AND coalesce(s.w_id_doc, 0) >= 0
  AND a.grp NOT IN (SELECT grp FROM excluded) AND b.grp NOT IN (SELECT grp FROM excluded)
GROUP BY a.grp, b.grp
"""


def _full_product(con: duckdb.DuckDBPyConnection) -> None:
    """The candidate edges as session 6 wrote them: every group of one profile with every
    group of the other, nothing marked big."""
    con.execute(_FULL_PRODUCT_EDGES)
    con.execute("CREATE OR REPLACE TEMP TABLE _resolve_oc_big AS SELECT 1::BIGINT AS grp WHERE FALSE")


def test_a_profile_in_many_subjects_gives_the_links_of_the_full_product(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """"James Smith" (US), a name and a country only, holds a card at one bank, a wallet
    at another or an account at a third in 24 subjects: each has more candidates than a
    set may hold, so the pass leaves out the edges among them (the full product grew
    with the square of the data), and the links are those the full product gives."""
    import numpy as np

    from moneytrail.resolve import accounts as acc

    with Warehouse(tmp_path / "w.duckdb") as wh:
        generate(wh.con, transactions=1500, seed=21)
        _add_people(wh.con)
        for i in range(24):
            provider, kind = [("CardH", "card"), ("WalletH", "wallet"), ("BankH", "account")][i % 3]
            for j in range(2):
                add_party(
                    wh.con, provider, f"H{i}-{j}", "payer", name="James Smith", country="US",
                    account=f"acct-{i}", account_kind=kind,
                )
        resolve(wh.con, ResolveSettings(only_candidates=False))
        # each record's subject: the groups the pass starts from
        cols = wh.con.execute(
            """
            SELECT r.rid, min(r.rid) OVER (PARTITION BY s.subject_id) AS grp FROM subject_records s
            JOIN resolve_records r USING (provider, record_id, party)
            """
        ).fetchnumpy()
        rid = np.asarray(cols["rid"], dtype=np.int64)
        root = np.zeros(int(rid.max()) + 1, dtype=np.int64)
        root[rid] = np.asarray(cols["grp"], dtype=np.int64)
        written: dict[str, int] = {}

        def count(con: duckdb.DuckDBPyConnection, name: str) -> None:
            written[name] = int(con.execute("SELECT count(*) FROM _resolve_oc_edges").fetchall()[0][0])
            written[name + "_big"] = int(con.execute("SELECT count(*) FROM _resolve_oc_big").fetchall()[0][0])

        real = acc._candidate_edges

        def new(con: duckdb.DuckDBPyConnection) -> None:
            real(con)
            count(con, "new")

        def full(con: duckdb.DuckDBPyConnection) -> None:
            _full_product(con)
            count(con, "full")

        monkeypatch.setattr(acc, "_candidate_edges", new)
        got = acc.only_candidate_links(wh.con, root)
        monkeypatch.setattr(acc, "_candidate_edges", full)
        want = acc.only_candidate_links(wh.con, root)
    assert got == want
    assert any(value.startswith("AU:") for *_, value in got)  # Deborah Wilson still joins
    assert not any("james smith" in value for *_, value in got)
    assert written["new_big"] >= 24
    assert written["full"] - written["new"] >= 24 * 23 // 2  # the hub's edges among themselves
