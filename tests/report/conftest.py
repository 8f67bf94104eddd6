"""One small synthetic world, run once per session, and the cases the report tests export.

Cases are built here as `CaseContext`s straight from the warehouse, so the exporters are
tested without the operational store: a consumer, a facilitator, a payment network, and a
live-streaming case whose payer and payee are linked to platform accounts that held a
session right after one of their payments.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from moneytrail.pipeline.run import run_batch
from moneytrail.report.context import CaseContext
from moneytrail.synth import generate

SCALE, SEED = 0.2, 5


@dataclass(frozen=True)
class ReportWorld:
    world: Path  # bundle/ and truth/
    out: Path  # the run's output directory
    warehouse: Path

    def con(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.warehouse), read_only=True)


@pytest.fixture(scope="session")
def report_world(tmp_path_factory: pytest.TempPathFactory) -> ReportWorld:
    root = tmp_path_factory.mktemp("report_world")
    world = generate(root / "world", scale=SCALE, seed=SEED)
    out = root / "run"
    report = run_batch(world.out / "bundle", out)
    return ReportWorld(world.out, out, report.store)


@pytest.fixture
def con(report_world: ReportWorld) -> Iterator[duckdb.DuckDBPyConnection]:
    c = report_world.con()
    yield c
    c.close()


def make_case(world: ReportWorld, case_id: str, subject_ids: list[str], *, kind: str = "subject",
              community_id: str | None = None, title: str = "") -> CaseContext:
    return CaseContext(
        case_id=case_id, title=title or f"{kind} case of {', '.join(subject_ids[:3])}", kind=kind,
        state="escalated", warehouse=world.warehouse, subject_ids=subject_ids,
        opened_at=datetime(2026, 1, 5, tzinfo=UTC), assignee="alice", prepared_by="alice",
        community_id=community_id,
    )


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[object, ...]:
    row = con.execute(sql).fetchone()
    assert row is not None, f"the synthetic world lacks what the test needs: {sql}"
    return tuple(row)


@pytest.fixture(scope="session")
def cases(report_world: ReportWorld) -> dict[str, CaseContext]:
    """consumer, facilitator, network and livestream cases of the session's world."""
    with report_world.con() as c:
        consumer = _one(c, """
            SELECT s.subject_id FROM subject_scores s JOIN subject_records r USING (subject_id)
            JOIN transaction_scores t USING (provider, record_id)
            WHERE s.flagged = 1 AND s.role = 'consumer' GROUP BY 1
            HAVING sum(t.flagged) BETWEEN 5 AND 60 AND count(*) > sum(t.flagged)
            ORDER BY sum(t.flagged) DESC, 1 LIMIT 1""")[0]
        facilitator = _one(c, """
            SELECT subject_id FROM subject_scores WHERE flagged = 1 AND role = 'facilitator'
            ORDER BY score DESC, subject_id LIMIT 1""")[0]
        community = _one(c, """
            SELECT community_id FROM community_summary WHERE members BETWEEN 4 AND 30
            ORDER BY score DESC, payments DESC, community_id LIMIT 1""")[0]
        members = [r[0] for r in c.execute(
            "SELECT subject_id FROM communities WHERE community_id = ? ORDER BY subject_id", [community]).fetchall()]
        # a payment aligned with a session, both sides linked to platform accounts with IP events
        payer, payee = _one(c, """
            WITH sides AS (
              SELECT p.provider, p.record_id, p.side, r.subject_id FROM parties p
              JOIN subject_records r USING (provider, record_id, party)),
            linked AS (
              SELECT DISTINCT l.subject_id FROM referral_links l
              JOIN referral_ip_events e ON e.provider = l.referral_provider AND e.record_id = l.referral_record_id)
            SELECT f.subject_id, t.subject_id FROM aligned_payments a
            JOIN sides f ON f.provider = a.provider AND f.record_id = a.record_id AND f.side = 'from'
            JOIN sides t ON t.provider = a.provider AND t.record_id = a.record_id AND t.side = 'to'
            WHERE f.subject_id IN (SELECT subject_id FROM linked) AND t.subject_id IN (SELECT subject_id FROM linked)
            ORDER BY a.provider, a.record_id LIMIT 1""")
    return {
        "consumer": make_case(report_world, "C-000001", [str(consumer)]),
        "facilitator": make_case(report_world, "C-000002", [str(facilitator)]),
        "network": make_case(report_world, "C-000003", members, kind="network", community_id=str(community)),
        "livestream": make_case(report_world, "C-000004", [str(payer), str(payee)],
                                title="payments before live-streamed sessions"),
    }
