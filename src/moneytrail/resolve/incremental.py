"""Incremental resolution: link new records to the subjects already there.

Nothing already resolved is recomputed or renumbered. The model trained by
the last full run (``resolve_model``) scores only the pairs that touch a new
profile — the ``predict_between``/``find_matches_to_new_records`` idea, with
the same capped blocking keys as a full run — and clustering starts from the
existing subjects, which are frozen: a new record joins at most one of them,
and records that match none form new subjects, numbered after the last one.
"""

from __future__ import annotations

import duckdb

from moneytrail.resolve.accounts import account_keys
from moneytrail.resolve.blocking import build_pairs
from moneytrail.resolve.clustering import cluster
from moneytrail.resolve.config import ResolveReport, ResolveSettings
from moneytrail.resolve.counterparty import adjust as adjust_counterparty
from moneytrail.resolve.counterparty import counterparty_sets
from moneytrail.resolve.deterministic import (
    blank_shared,
    find_shared,
    self_transfer_links,
    strong_links,
)
from moneytrail.resolve.receivers import adjust_receivers
from moneytrail.resolve.records import build_identifiers, build_profiles, build_records
from moneytrail.resolve.run import (
    PROFILES_FOR_MODEL_SQL,
    _record_pids,
    _score,
    _scored_above,
    _strong_arrays,
    _timed,
    _write_links,
    _write_subjects,
    count_of,
    load_model,
    resolve,
)
from moneytrail.resolve.splink_model import SplinkModel
from moneytrail.store import table_exists


def resolve_new(
    con: duckdb.DuckDBPyConnection, settings: ResolveSettings | None = None
) -> ResolveReport:
    """Resolve the records not yet in ``subject_records``. Without a saved model
    (no full run yet), this is a full run."""
    loaded = load_model(con)
    if loaded is None or not table_exists(con, "subject_records"):
        return resolve(con, settings)
    model, saved_settings = loaded
    settings = settings or saved_settings
    cp_m, cp_u = model.pop("moneytrail_counterparty_m_u", [0.5, 0.5])
    report = ResolveReport(threshold=settings.threshold)
    old_rid = count_of(con, "SELECT coalesce(max(rid), 0) FROM resolve_records")
    old_pid = count_of(con, "SELECT coalesce(max(pid), 0) FROM resolve_profiles")
    with _timed(report, "records"):
        report.new_records = build_records(con, incremental=True)
        report.records = old_rid + report.new_records
        if report.new_records == 0:
            report.subjects = count_of(con, "SELECT count(DISTINCT subject_id) FROM subject_records")
            return report
        build_identifiers(con, incremental=True)
    with _timed(report, "strong"):
        report.shared_identifiers = find_shared(con, settings.max_names_per_identifier)
        blank_shared(con, from_rid=old_rid)
        report.strong_links = strong_links(con, only_new_from_rid=old_rid) + self_transfer_links(
            con, only_new_from_rid=old_rid
        )
        report.profiles = build_profiles(con)
    with _timed(report, "blocking"):
        report.blocked_pairs = build_pairs(
            con, block_cap=settings.block_cap, new_from_pid=old_pid, new_from_rid=old_rid
        )
    con.execute("DROP TABLE IF EXISTS _resolve_scored")
    labels: dict[str, list[tuple[float, str]]] = {}
    if report.blocked_pairs:
        with _timed(report, "score"):
            sm = SplinkModel(
                con.sql(PROFILES_FOR_MODEL_SQL).to_arrow_table(), backend=settings.backend, model=model
            )
            labels = sm.levels()
            _score(con, sm, settings)
            sm.close()
    with _timed(report, "cluster"):
        n = report.records
        heads = con.execute(
            """
            SELECT r.rid, min(r.rid) OVER (PARTITION BY s.subject_id) AS head
            FROM resolve_records r JOIN subject_records s
              ON s.provider = r.provider AND s.record_id = r.record_id AND s.party = r.party
            """
        ).fetchnumpy()
        initial = [0] * (n + 1)
        for rid, head in zip(heads["rid"].tolist(), heads["head"].tolist(), strict=True):
            initial[rid] = head
        frozen = {rid for rid in range(1, old_rid + 1) if initial[rid]}
        if table_exists(con, "_resolve_scored"):
            groups = [initial[i] or i for i in range(n + 1)]
            counterparty_sets(con, groups)
            adjust_counterparty(con, float(cp_m), float(cp_u))
            if settings.counterparty:
                adjust_receivers(con, groups)
        strong = _strong_arrays(con)
        res = cluster(
            n,
            _record_pids(con, n),
            strong["rid_l"],
            strong["rid_r"],
            _scored_above(con, settings.threshold),
            chain_large=settings.chain_large,
            chain_min_records=settings.chain_min_records,
            initial=initial,
            frozen=frozen,
            accounts=account_keys(con) if settings.accounts else None,
        )
        report.merges, report.chain_rejections = res.merges, res.chain_rejections
        report.account_rejections = res.account_rejections
    with _timed(report, "write"):
        report.subjects = _write_subjects(con, res.root, append=True, new_from_rid=old_rid)
        _write_links(con, res, strong, labels, append=True, link_floor=settings.link_floor)
    return report
