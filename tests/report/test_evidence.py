"""The evidence gatherer: what it returns is what the warehouse holds, in a fixed number of queries."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import duckdb
import pytest

from moneytrail.errors import UserError
from moneytrail.indicators import load_catalogue
from moneytrail.report.context import CaseContext
from moneytrail.report.evidence import (
    NETWORK_REASONS,
    TransactionEvidence,
    flagged_subject_ids,
    gather,
    gather_subjects,
    open_warehouse,
)

from .conftest import ReportWorld


def _records(con: duckdb.DuckDBPyConnection, sid: str) -> set[tuple[str, str]]:
    return {(p, r) for p, r in con.execute(
        "SELECT DISTINCT provider, record_id FROM subject_records r JOIN transactions USING (provider, record_id) "
        "WHERE subject_id = ?", [sid]).fetchall()}


def test_identifiers_are_the_parties_of_the_subjects_records(cases: dict[str, CaseContext],
                                                             con: duckdb.DuckDBPyConnection) -> None:
    sid = cases["consumer"].subject_ids[0]
    ev = gather_subjects(con, [sid])
    s = ev.subject(sid)
    rows = con.execute("""
        SELECT p.provider, p.name, coalesce(p.phone_e164, p.phone), p.email, p.account, p.country, p.id_number
        FROM subject_records r JOIN parties p USING (provider, record_id, party) WHERE r.subject_id = ?""",
        [sid]).fetchall()
    assert set(s.providers) == {r[0] for r in rows}
    assert set(s.names) == {r[1] for r in rows if r[1]}
    assert set(s.phones) == {r[2] for r in rows if r[2]}
    assert set(s.emails) == {r[3] for r in rows if r[3]}
    assert {a.account for a in s.accounts} == {r[4] for r in rows if r[4]}
    assert set(s.countries) == {r[5] for r in rows if r[5]}
    assert {d.number for d in s.id_documents} == {r[6] for r in rows if r[6]}
    # per provider, each provider's own values only
    for ids in s.identifiers:
        assert set(ids.names) == {r[1] for r in rows if r[0] == ids.provider and r[1]}
        assert ids.records == sum(1 for r in rows if r[0] == ids.provider)
    # the most used spelling comes first
    counts: dict[str, int] = {}
    for ids in s.identifiers:
        for n in ids.names:
            counts[n] = counts.get(n, 0) + ids.records
    assert counts[s.names[0]] == max(counts.values())


def test_transactions_have_both_sides_and_their_scores(cases: dict[str, CaseContext],
                                                       con: duckdb.DuckDBPyConnection) -> None:
    sid = cases["facilitator"].subject_ids[0]
    ev = gather_subjects(con, [sid])
    assert {(t.provider, t.record_id) for t in ev.transactions} == _records(con, sid)
    assert ev.n_transactions_total == len(ev.transactions)
    scores = {(p, r): (s, f, reasons) for p, r, s, f, reasons in con.execute(
        "SELECT provider, record_id, score, flagged, reasons FROM transaction_scores").fetchall()}
    parties: dict[tuple[str, str], set[tuple[str, str, str]]] = {}
    for p, r, party, side, sub in con.execute(
            "SELECT provider, record_id, party, side, subject_id FROM parties "
            "JOIN subject_records USING (provider, record_id, party)").fetchall():
        parties.setdefault((p, r), set()).add((party, side, sub))
    for t in ev.transactions:
        score, flagged, reasons = scores[(t.provider, t.record_id)]
        assert t.score == pytest.approx(score) and t.flagged == bool(flagged)
        assert ";".join(t.reasons) == (reasons or "")
        assert t.payer is not None and t.payee is not None
        assert t.payer.side == "from" and t.payee.side == "to"
        got = {(p.party, p.side, p.subject_id) for p in (t.payer, t.payee, *t.via)}
        assert got == parties[(t.provider, t.record_id)]
        assert sid in {p.subject_id for p in (t.payer, t.payee, *t.via)}
        assert all(v.is_merchant for v in t.via)  # only a card transfer's merchant is set aside
    times = [t.ts_utc for t in ev.transactions]
    assert times == sorted(times)
    # every side's subject has an anchor: its first source record
    anchors = {p.subject_id for t in ev.transactions for p in (t.payer, t.payee) if p and p.subject_id}
    assert anchors <= set(ev.anchors)
    first = con.execute("SELECT min(provider || '|' || record_id || '|' || party) FROM subject_records "
                        "WHERE subject_id = ?", [sid]).fetchone()
    assert first is not None and ev.subject(sid).anchor == first[0]


def test_flagged_selection_and_limit_keep_the_highest_scores(cases: dict[str, CaseContext],
                                                             con: duckdb.DuckDBPyConnection) -> None:
    sid = cases["consumer"].subject_ids[0]
    every = gather_subjects(con, [sid])
    flagged = gather_subjects(con, [sid], transactions="flagged")
    assert flagged.transactions and all(t.flagged for t in flagged.transactions)
    assert {t.key for t in flagged.transactions} == {t.key for t in every.transactions if t.flagged}
    top = gather_subjects(con, [sid], limit=3)
    assert len(top.transactions) == 3 and top.n_transactions_total == len(every.transactions)
    assert min(t.score for t in top.transactions) >= sorted((t.score for t in every.transactions), reverse=True)[2]


def test_indicators_carry_titles_sources_and_counts(cases: dict[str, CaseContext],
                                                    con: duckdb.DuckDBPyConnection) -> None:
    cat = load_catalogue()
    for name in ("consumer", "facilitator"):
        sid = cases[name].subject_ids[0]
        s = gather_subjects(con, [sid]).subject(sid)
        row = con.execute("SELECT role, score, flagged, reasons FROM subject_scores WHERE subject_id = ?",
                          [sid]).fetchone()
        assert row is not None
        assert (s.role, s.flagged) == (row[0], bool(row[2])) and s.score == pytest.approx(row[1])
        assert [h.id for h in s.indicators] == [r for r in row[3].split(";") if r]
        values = dict(con.execute("SELECT indicator_id, value FROM subject_indicators WHERE subject_id = ?",
                                  [sid]).fetchall())
        for h in s.indicators:
            assert h.sources
            if h.id.startswith("MT"):
                ind = cat.get(h.id)
                assert ind is not None and h.title == ind.title and h.sources == ind.cite()
                assert h.value == str(values.get(h.id, "") or "")
            else:
                assert h.title == NETWORK_REASONS[h.id][0] and h.kind == "network"
        fired = [h for h in s.indicators if h.level == "transaction"]
        for h in fired:
            n = con.execute("""SELECT count(DISTINCT (provider, record_id)) FROM subject_records
                               JOIN transaction_scores USING (provider, record_id)
                               WHERE subject_id = ? AND list_contains(string_split(reasons, ';'), ?)""",
                            [sid, h.id]).fetchone()
            assert n is not None and h.n_transactions == n[0]


def test_platform_accounts_of_a_livestream_case(cases: dict[str, CaseContext],
                                                con: duckdb.DuckDBPyConnection) -> None:
    ctx = cases["livestream"]
    ev = gather_subjects(con, ctx.subject_ids)
    for sid in ctx.subject_ids:
        s = ev.subject(sid)
        linked = {(p, r) for p, r in con.execute(
            "SELECT referral_provider, referral_record_id FROM referral_links WHERE subject_id = ?", [sid]).fetchall()}
        assert linked and linked <= {(a.provider, a.record_id) for a in s.platform_accounts}
        for a in s.platform_accounts:
            assert a.subject_id == sid and a.links
            ips = con.execute("SELECT ip FROM referral_ip_events WHERE provider = ? AND record_id = ? ORDER BY at_utc",
                              [a.provider, a.record_id]).fetchall()
            assert [e.ip for e in a.ip_events] == [r[0] for r in ips]
            n_sessions = con.execute(
                "SELECT count(*) FROM referral_sessions WHERE provider = ? AND ? IN (from_record_id, to_record_id)",
                [a.provider, a.record_id]).fetchone()
            assert n_sessions is not None and len(a.sessions) == n_sessions[0]
            assert all(x.counterpart_record_id != a.record_id for x in a.sessions)
    aligned = [t for t in ev.transactions if t.aligned]
    assert aligned, "the livestream case has a payment aligned with a session"
    n = con.execute("SELECT count(*) FROM aligned_payments a WHERE a.provider || ':' || a.record_id IN "
                    "(SELECT unnest(?::VARCHAR[]))", [[t.key for t in ev.transactions]]).fetchone()
    assert n is not None and sum(len(t.aligned) for t in ev.transactions) == n[0]
    assert all(a.kind for t in aligned for a in t.aligned)


def test_network_case_lists_the_community(cases: dict[str, CaseContext], report_world: ReportWorld) -> None:
    ctx = cases["network"]
    ev = gather(ctx)
    assert ev.community is not None and ev.community.community_id == ctx.community_id
    assert {m.subject_id for m in ev.community.members} == set(ctx.subject_ids)
    assert ev.subject_ids == tuple(ctx.subject_ids)


def test_no_memo_or_message_content_is_carried(cases: dict[str, CaseContext],
                                               con: duckdb.DuckDBPyConnection) -> None:
    fields = {f.name for f in dataclasses.fields(TransactionEvidence)}
    assert not fields & {"memo", "purpose", "note", "message", "extra"}
    ev = gather_subjects(con, cases["consumer"].subject_ids)
    memos = {m for (m,) in con.execute(
        "SELECT memo FROM transactions WHERE provider || ':' || record_id IN (SELECT unnest(?::VARCHAR[])) "
        "AND length(memo) > 6", [[t.key for t in ev.transactions]]).fetchall()}
    assert memos, "the consumer's payments carry memos"
    assert not memos & set(_strings(ev))


def _strings(value: object) -> list[str]:
    """Every string held anywhere in a tree of dataclasses, tuples and dicts."""
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [s for f in dataclasses.fields(value) for s in _strings(getattr(value, f.name))]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, tuple | list):
        return [s for v in value for s in _strings(v)]
    return []


class _CountingCon:
    """Delegates to a DuckDB connection and counts the statements it runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con, self.n = con, 0

    def execute(self, *args: Any) -> Any:
        self.n += 1
        return self.con.execute(*args)


def test_query_count_does_not_grow_with_the_subjects(con: duckdb.DuckDBPyConnection) -> None:
    ids = flagged_subject_ids(con)
    assert len(ids) > 40
    few, many = _CountingCon(con), _CountingCon(con)
    small = gather_subjects(few, ids[:2])  # type: ignore[arg-type]
    big = gather_subjects(many, ids)  # type: ignore[arg-type]
    assert len(big.transactions) > 10 * len(small.transactions) > 0
    assert many.n == few.n < 30


def test_bad_input_gets_a_clear_error(con: duckdb.DuckDBPyConnection, tmp_path: Path,
                                      cases: dict[str, CaseContext]) -> None:
    with pytest.raises(UserError, match="no subjects"):
        gather_subjects(con, [])
    with pytest.raises(UserError, match="not in this warehouse"):
        gather_subjects(con, ["S999999"])
    with pytest.raises(UserError, match="unknown transaction selection"):
        gather_subjects(con, cases["consumer"].subject_ids, transactions="some")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="no warehouse"), open_warehouse(tmp_path / "missing.duckdb"):
        pass
    raw = duckdb.connect(str(tmp_path / "unscored.duckdb"))  # ingested, never run
    for name in ("transactions", "parties", "subject_records"):
        raw.execute(f"CREATE TABLE {name} (provider VARCHAR)")
    raw.close()
    with open_warehouse(tmp_path / "unscored.duckdb") as empty, pytest.raises(UserError, match="moneytrail run"):
        gather_subjects(empty, ["S000001"])
