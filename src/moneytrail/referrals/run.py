"""`run_referrals(con)`: the referral stage of the batch run (after resolve, before score)."""

from __future__ import annotations

import time

import duckdb

from moneytrail.referrals.alignment import alignment_features
from moneytrail.referrals.config import ReferralReport, ReferralSettings
from moneytrail.referrals.linking import link_referrals


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = con.execute(sql).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def run_referrals(
    con: duckdb.DuckDBPyConnection, settings: ReferralSettings | None = None
) -> ReferralReport:
    """Link referral subjects, align payments with sessions and logins, and
    write ``referral_links``, ``referral_shared_ips``, ``aligned_payments`` and
    ``referral_txn_features``, all recomputed over the whole store."""
    settings = settings or ReferralSettings()
    t0 = time.perf_counter()
    report = ReferralReport()
    report.links = link_referrals(con, settings)
    report.feature_rows = alignment_features(con, settings)
    report.referral_subjects = _count(con, "SELECT count(*) FROM referral_subjects")
    report.linked_subjects = _count(
        con,
        "SELECT count(*) FROM (SELECT DISTINCT referral_provider, referral_record_id FROM referral_links)",
    )
    report.unmatched = report.referral_subjects - report.linked_subjects
    report.shared_ips = _count(con, "SELECT count(*) FROM referral_shared_ips WHERE kind = 'ip'")
    report.aligned_payments = _count(con, "SELECT count(*) FROM aligned_payments")
    report.login_time_matches = _count(
        con, "SELECT count(*) FROM referral_txn_features WHERE login_time_match = 1"
    )
    report.seconds = round(time.perf_counter() - t0, 3)
    return report
