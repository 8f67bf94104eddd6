"""The faster SQL of resolution writes exactly what the plain SQL wrote: records
numbered in key order, shared identifiers and subject ids."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from moneytrail.resolve import resolve
from moneytrail.resolve.deterministic import find_shared, names_disagree
from moneytrail.resolve.records import build_records, source_sql
from moneytrail.resolve.run import _write_subjects
from moneytrail.resolve.sample import generate
from moneytrail.store import Warehouse

from .helpers import add_party, add_scenario


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    path: Path = tmp_path_factory.mktemp("speed-sql") / "w.duckdb"
    wh = Warehouse(path)
    generate(wh.con, transactions=800, seed=5)
    add_scenario(wh.con)
    # one phone on three unrelated names, one on two variants of a name
    for i, name in enumerate(["Ana Cruz", "Ben Lim", "Carla Diaz"]):
        add_party(
            wh.con, "BankX", f"sh{i}", "sender", name=name, phone="+639170000001", country="PH"
        )
    for i, name in enumerate(["Dario Reyes", "D Reyes"]):
        add_party(
            wh.con, "BankX", f"ok{i}", "sender", name=name, phone="+639170000002", country="PH"
        )
    resolve(wh.con)
    yield wh.con
    wh.close()


def test_records_are_numbered_in_key_order(con: duckdb.DuckDBPyConnection) -> None:
    want = con.execute(
        f"SELECT row_number() OVER (ORDER BY provider, record_id, party) AS rid, provider, record_id, party "
        f"FROM ({source_sql()}) ORDER BY rid"
    ).fetchall()
    got = con.execute(
        "SELECT rid, provider, record_id, party FROM resolve_records ORDER BY rid"
    ).fetchall()
    assert got == want


def test_incremental_records_are_numbered_after_the_last(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    try:
        add_party(wh.con, "B", "t2", "sender", name="Zed")
        add_party(wh.con, "B", "t1", "sender", name="Amy")
        assert build_records(wh.con) == 2
        add_party(wh.con, "A", "t9", "sender", name="Bo")
        add_party(wh.con, "A", "t3", "receiver", name="Cy")
        assert build_records(wh.con, incremental=True) == 2
        rows = wh.con.execute(
            "SELECT rid, provider, record_id FROM resolve_records ORDER BY rid"
        ).fetchall()
        assert rows == [(1, "B", "t1"), (2, "B", "t2"), (3, "A", "t3"), (4, "A", "t9")]
    finally:
        wh.close()


def _reference_shared(con: duckdb.DuckDBPyConnection, max_names: int) -> set[tuple[object, ...]]:
    rows = con.execute(
        f"""
        WITH per_name AS (
          SELECT i.kind, i.value, r.name_sorted, count(DISTINCT i.rid) AS n
          FROM resolve_identifiers i JOIN resolve_records r USING (rid)
          WHERE i.kind <> 'merchant' GROUP BY ALL
        )
        SELECT kind, value, sum(n), count(name_sorted),
               list(name_sorted ORDER BY n DESC, name_sorted) FILTER (WHERE name_sorted IS NOT NULL)[1:{max_names + 1}],
               list(n ORDER BY n DESC, name_sorted) FILTER (WHERE name_sorted IS NOT NULL)[1:{max_names + 1}]
        FROM per_name GROUP BY kind, value HAVING count(name_sorted) >= 2
        """
    ).fetchall()
    out: set[tuple[object, ...]] = set()
    for kind, value, n_records, n_names, names, counts in rows:
        if n_names > max_names:
            reason = "too_many_names"
        elif names_disagree(kind, names, counts):
            reason = "names_disagree"
        else:
            continue
        out.add((kind, value, n_records, n_names, reason, ";".join(names[:5])))
    return out


@pytest.mark.parametrize("max_names", [2, 5])
def test_shared_identifiers_as_the_plain_query_finds_them(
    con: duckdb.DuckDBPyConnection, max_names: int
) -> None:
    want = _reference_shared(con, max_names)
    assert find_shared(con, max_names) == len(want)
    got = set(con.execute("SELECT * FROM shared_identifiers").fetchall())
    assert got == want
    assert any(row[1] == "+639170000001" for row in got)
    assert not any(row[1] == "+639170000002" for row in got)
    find_shared(con, 5)  # leave the fixture's table as resolve wrote it


def test_subject_ids_follow_the_first_record_key(con: duckdb.DuckDBPyConnection) -> None:
    n = int(con.execute("SELECT max(rid) FROM resolve_records").fetchall()[0][0])
    rng = random.Random(3)
    # a random grouping: each record's root is some record of its group
    root = [0] * (n + 1)
    for rid in range(1, n + 1):
        root[rid] = rid if rng.random() < 0.3 else root[rng.randint(1, rid)] or rid
    saved = con.execute("SELECT * FROM subject_records").fetchall()
    try:
        assert _write_subjects(con, root, append=False) == len(set(root[1:]))
        got = con.execute("SELECT * FROM subject_records").fetchall()  # in stored order
        con.register(
            "_g",
            con.sql(
                "SELECT unnest(?) AS rid, unnest(?) AS grp",
                params=[list(range(1, n + 1)), root[1:]],
            ),
        )
        want = con.execute(
            """
            WITH k AS (
              SELECT g.grp, min((r.provider, r.record_id, r.party)) AS first_key
              FROM _g g JOIN resolve_records r USING (rid) GROUP BY g.grp
            ),
            s AS (SELECT grp, row_number() OVER (ORDER BY first_key) AS n FROM k)
            SELECT 'S' || lpad(s.n::VARCHAR, 6, '0'), r.provider, r.record_id, r.party
            FROM _g g JOIN resolve_records r USING (rid) JOIN s USING (grp)
            ORDER BY 1, 2, 3, 4
            """
        ).fetchall()
        con.unregister("_g")
        assert got == want
    finally:
        con.execute("DELETE FROM subject_records")
        con.executemany("INSERT INTO subject_records VALUES (?, ?, ?, ?)", saved)


def _groupings(con: duckdb.DuckDBPyConnection) -> list[list[int]]:
    """Group roots of every record: the run's subjects, and random groupings (some records
    of one profile in several groups)."""
    n = int(con.execute("SELECT max(rid) FROM resolve_records").fetchall()[0][0])
    rows = con.execute(
        "SELECT r.rid, min(r.rid) OVER (PARTITION BY s.subject_id) FROM subject_records s "
        "JOIN resolve_records r USING (provider, record_id, party)"
    ).fetchall()
    subjects = [0] * (n + 1)
    for rid, head in rows:
        subjects[rid] = head
    out = [subjects]
    for seed in range(3):
        rng = random.Random(seed)
        out.append([0] + [rng.randint(1, max(1, n // rng.choice([2, 20]))) for _ in range(n)])
    return out


def _sorted_lists(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[object, ...]]:
    """Rows of ``sql`` with every list sorted (DISTINCT lists come in any order)."""
    rows = con.execute(sql).fetchall()
    return sorted(
        tuple(sorted(v, key=str) if isinstance(v, list) else v for v in row) for row in rows
    )


def test_group_identifiers_from_profiles_equal_those_from_records(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """Session 8: a group's phones, emails and dates of birth (receivers, accounts) and the
    names of the rare-name evidence are read from its (group, profile) rows, as the
    records of one profile share these values; the same as from every record."""
    from moneytrail.resolve.counterparty import group_identifiers_sql, group_profiles, record_groups

    for root in _groupings(con):
        con.register("_t_groups", record_groups(root))
        group_profiles(con, "_t_groups", "_t_aps", sides=True)
        want = _sorted_lists(
            con,
            """
            SELECT g.grp, count(*) AS n_records,
                   list(DISTINCT r.phone) FILTER (WHERE r.phone IS NOT NULL),
                   list(DISTINCT r.email) FILTER (WHERE r.email IS NOT NULL),
                   list(DISTINCT r.dob) FILTER (WHERE r.dob IS NOT NULL)
            FROM resolve_records r JOIN _t_groups g ON g.rid = r.rid
            WHERE r.pid IS NOT NULL GROUP BY g.grp
            """,
        )
        assert _sorted_lists(con, group_identifiers_sql("_t_aps")) == want
        want_pid = con.execute(
            """
            SELECT r.pid, min(g.grp), bool_and(r.side = 'to'), bool_or(r.side = 'to')
            FROM resolve_records r JOIN _t_groups g ON g.rid = r.rid
            WHERE r.pid IS NOT NULL GROUP BY r.pid ORDER BY 1
            """
        ).fetchall()
        got_pid = con.execute(
            "SELECT pid, min(grp), bool_and(all_to), bool_or(any_to) FROM _t_aps GROUP BY pid ORDER BY 1"
        ).fetchall()
        assert got_pid == want_pid
        con.unregister("_t_groups")


def test_counterparties_from_the_pairs_kept_between_passes(con: duckdb.DuckDBPyConnection) -> None:
    """Session 8: the records on the other side of each profile's transactions are joined
    once a run (``CP_PAIRS``); each pass's counterparty groups are those the join of the
    records with themselves gave."""
    from moneytrail.resolve.counterparty import (
        counterparty_pairs,
        profile_counterparties,
        record_groups,
    )

    counterparty_pairs(con)
    for root in _groupings(con):
        con.register("_t_groups", record_groups(root))
        profile_counterparties(con, "_t_groups", "_t_cp")
        got = con.execute("SELECT pid, cps FROM _t_cp ORDER BY pid").fetchall()
        want = con.execute(
            """
            SELECT r.pid, list(DISTINCT g.grp ORDER BY g.grp) AS cps
            FROM resolve_records r
            JOIN resolve_records o ON o.provider = r.provider AND o.record_id = r.record_id
              AND o.party <> r.party AND o.side <> r.side AND r.side IN ('from', 'to')
            JOIN _t_groups g ON g.rid = o.rid
            WHERE r.pid IS NOT NULL
            GROUP BY r.pid ORDER BY r.pid
            """
        ).fetchall()
        assert got == want
        con.unregister("_t_groups")
    con.execute("DROP TABLE IF EXISTS _resolve_cp_pairs")


# Session 9: the SQL of session 8, kept as the reference the narrower SQL must equal.
_REFERENCE_IDENTIFIERS = """
WITH r AS (SELECT * FROM resolve_records)
SELECT DISTINCT rid, kind, value FROM (
  SELECT rid, 'merchant' AS kind, account AS value FROM r WHERE origin = 'merchant' AND account IS NOT NULL
  UNION ALL
  SELECT rid, 'account', provider || '|' || account_kind || '|' || account FROM r
    WHERE origin <> 'merchant' AND account IS NOT NULL
      AND account_kind IN ('customer', 'wallet', 'account', 'beneficiary_account', 'platform_account')
  UNION ALL
  SELECT rid, 'iban', upper(replace(account, ' ', '')) FROM r
    WHERE origin <> 'merchant' AND account IS NOT NULL AND account_kind = 'iban'
  UNION ALL
  SELECT rid, 'card', account FROM r WHERE origin <> 'merchant' AND account IS NOT NULL AND account_kind = 'card'
  UNION ALL SELECT rid, 'email', email FROM r WHERE origin <> 'merchant' AND email IS NOT NULL
  UNION ALL SELECT rid, 'phone', phone FROM r WHERE origin <> 'merchant' AND phone IS NOT NULL
  UNION ALL SELECT rid, 'id_doc', id_doc FROM r WHERE origin <> 'merchant' AND id_doc IS NOT NULL
  UNION ALL SELECT rid, 'device', device_id FROM r WHERE origin <> 'merchant' AND device_id IS NOT NULL
  UNION ALL
  SELECT r.rid, i.kind, i.value_norm FROM r
    JOIN referral_identifiers i ON i.provider = r.provider AND i.record_id = r.record_id AND r.origin = 'referral'
    WHERE i.kind IN ('email', 'phone') AND i.value_norm IS NOT NULL
)
"""


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """Records and identifiers as built, before anything blanks or links them; a
    referral subject with a phone and an email twice over (its columns and its
    referral's identifiers), two of one referral."""
    from moneytrail.resolve.records import build_identifiers

    from .helpers import add_referral

    path: Path = tmp_path_factory.mktemp("speed-sql-fresh") / "w.duckdb"
    wh = Warehouse(path)
    generate(wh.con, transactions=800, seed=7)
    add_scenario(wh.con)
    add_referral(wh.con, "R-9", "a", "Lia Cruz", emails=("lia@example.com", "LIA@example.com"),
                 phones=("+63 917 000 0009",), country="PH", account_id="u1")
    add_referral(wh.con, "R-9", "b", "Ric Cruz", emails=("ric@example.com",), country="PH")
    build_records(wh.con)
    build_identifiers(wh.con)
    yield wh.con
    wh.close()


def test_records_hold_the_source_rows_numbered_in_key_order(fresh: duckdb.DuckDBPyConnection) -> None:
    """Session 9: the wide rows go straight from the source into the table, joined to the
    numbered keys (no temporary table of the wide rows): every column as the source
    gives it."""
    from moneytrail.resolve import tables as T

    cols = [c for c in T.RESOLVE_RECORDS.names if c not in ("rid", "pid")]
    want = fresh.execute(
        f"SELECT row_number() OVER (ORDER BY provider, record_id, party), {', '.join(cols)}, NULL "
        f"FROM ({source_sql()}) ORDER BY 1"
    ).fetchall()
    got = fresh.execute("SELECT * FROM resolve_records ORDER BY rid").fetchall()
    assert len(got) > 1000
    assert got == want


def test_identifiers_as_the_plain_query_finds_them(fresh: duckdb.DuckDBPyConnection) -> None:
    """Session 9: only a referral subject's phones and emails are deduplicated; every
    other record gives each kind once, so the rows are those the DISTINCT of all gave,
    each once."""
    want = sorted(fresh.execute(_REFERENCE_IDENTIFIERS).fetchall())
    got = sorted(fresh.execute("SELECT rid, kind, value FROM resolve_identifiers").fetchall())
    assert got == want
    kinds = {k for _, k, _ in got}
    assert {"account", "card", "email", "phone", "merchant"} <= kinds
    referral = fresh.execute(
        "SELECT count(*) FROM resolve_identifiers i JOIN resolve_records r USING (rid) "
        "WHERE r.origin = 'referral' AND i.kind = 'email'"
    ).fetchall()[0][0]
    assert referral >= 2


def test_merchant_name_links_as_the_plain_query_finds_them(con: duckdb.DuckDBPyConnection) -> None:
    """Session 9: only the records of a name and country a merchant holds are grouped."""
    from moneytrail.resolve.counterparty import record_groups
    from moneytrail.resolve.deterministic import merchant_name_links

    # a merchant paid by bank transfer under its own name, and a name two others hold
    add_party(con, "CardCo", "mn1", "merchant", name="Bahay Pag-asa Sponsorship", country="PH",
              account="M-77", account_kind="merchant")
    add_party(con, "BankX", "mn2", "receiver", name="Bahay Pag-asa Sponsorship", country="PH")
    try:
        build_records(con, incremental=True)
        n = int(con.execute("SELECT max(rid) FROM resolve_records").fetchall()[0][0])
        for root in _groupings(con):
            root = root + list(range(len(root), n + 1))  # the new records alone
            con.register("_t_groups", record_groups(root))
            want = con.execute(
                """
                WITH x AS (
                  SELECT r.rid, g.grp, r.origin = 'merchant' AS is_merchant, r.name_sorted, r.country
                  FROM resolve_records r JOIN _t_groups g ON g.rid = r.rid
                  WHERE r.name_sorted IS NOT NULL AND r.country IS NOT NULL AND r.origin <> 'referral'
                    AND r.name_sorted LIKE '% %'
                ),
                held AS (
                  SELECT name_sorted, country,
                         count(DISTINCT grp) FILTER (WHERE is_merchant) AS n_merchants,
                         count(DISTINCT grp) FILTER (WHERE NOT is_merchant) AS n_others,
                         min(rid) FILTER (WHERE is_merchant) AS rid_m,
                         min(rid) FILTER (WHERE NOT is_merchant) AS rid_p
                  FROM x GROUP BY ALL
                )
                SELECT rid_m, rid_p, 'merchant_name', country || ':' || name_sorted FROM held
                WHERE n_merchants = 1 AND n_others = 1 ORDER BY rid_m
                """
            ).fetchall()
            con.unregister("_t_groups")
            got = merchant_name_links(con, root)
            assert [tuple(g) for g in got] == [tuple(w) for w in want]
            assert any(v.startswith("PH:") and "sponsorship" in v for *_, v in got)
    finally:
        con.execute(
            "DELETE FROM resolve_records WHERE record_id IN ('mn1', 'mn2') AND provider IN ('CardCo', 'BankX')"
        )
        con.execute("DELETE FROM parties WHERE record_id IN ('mn1', 'mn2') AND provider IN ('CardCo', 'BankX')")


def test_records_are_numbered_one_provider_at_a_time_as_a_whole(tmp_path: Path) -> None:
    """Session 9: each provider's records are numbered in a statement of their own, from
    where the providers before it end: the numbers are those of one numbering of all
    (a quote in a provider's name included), and a second run appends after them."""
    from .helpers import add_referral

    wh = Warehouse(tmp_path / "w.duckdb")
    try:
        for provider, rec in [("Z", "t1"), ("O'Bank", "t2"), ("A", "t3"), ("O'Bank", "t0"), ("A", "t1")]:
            add_party(wh.con, provider, rec, "sender", name="Amy Lo")
            add_party(wh.con, provider, rec, "receiver", name="Bo Ng")
        add_referral(wh.con, "R-1", "s1", "Cy Tan")
        assert build_records(wh.con) == 11
        got = wh.con.execute("SELECT rid, provider, record_id, party FROM resolve_records ORDER BY rid").fetchall()
        want = wh.con.execute(
            f"SELECT row_number() OVER (ORDER BY provider, record_id, party), provider, record_id, party "
            f"FROM ({source_sql()}) ORDER BY 1"
        ).fetchall()
        assert got == want
        add_party(wh.con, "O'Bank", "t9", "sender", name="Di Uy")
        add_party(wh.con, "B", "t9", "sender", name="Ed Vo")
        assert build_records(wh.con, incremental=True) == 2
        rows = wh.con.execute("SELECT rid, provider FROM resolve_records WHERE rid > 11 ORDER BY rid").fetchall()
        assert rows == [(12, "B"), (13, "O'Bank")]
    finally:
        wh.close()
