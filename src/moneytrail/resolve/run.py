"""The resolution run: records -> strong links -> scored pairs -> subjects."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from moneytrail.resolve import tables as T
from moneytrail.resolve.accounts import account_keys, adjust_accounts, only_candidate_links
from moneytrail.resolve.blocking import build_pairs
from moneytrail.resolve.clustering import ClusterResult, ScoredLinks, cluster, unite_after
from moneytrail.resolve.config import ResolveReport, ResolveSettings
from moneytrail.resolve.counterparty import Roots, counterparty_sets
from moneytrail.resolve.counterparty import adjust as adjust_counterparty
from moneytrail.resolve.counterparty import estimate as estimate_counterparty
from moneytrail.resolve.deterministic import (
    SELF_TRANSFER_TYPES,
    blank_shared,
    find_shared,
    merchant_name_links,
    self_transfer_links,
    strong_links,
)
from moneytrail.resolve.receivers import adjust_receivers
from moneytrail.resolve.records import build_identifiers, build_profiles, build_records
from moneytrail.resolve.splink_model import COMPARISON_NAMES, SplinkModel
from moneytrail.store import scalar, table_exists

PROFILES_FOR_MODEL_SQL = """
SELECT pid, name_sorted, string_split(name_sorted, ' ') AS name_tokens, dob, phone, email,
       split_part(email, '@', 1) AS email_user, address, city, country, id_doc
FROM resolve_profiles ORDER BY pid
"""


@contextmanager
def _timed(report: ResolveReport, step: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    report.timings[step] = round(report.timings.get(step, 0.0) + time.perf_counter() - t0, 3)


def levels_json_sql(labels: dict[str, list[tuple[float, str]]], alias: str) -> str:
    """SQL building {comparison: [level label, match weight]} from the lvl_/w_ columns."""
    parts = []
    for comp in COMPARISON_NAMES:
        cases = " ".join(
            f"WHEN abs({alias}.lvl_{comp} - ({w!r})) < 1e-6 THEN '{lbl.replace(chr(39), chr(39) * 2)}'"
            for w, lbl in labels.get(comp, [])
        )
        label = f"CASE {cases} ELSE '?' END" if cases else "'?'"
        parts.append(f"'{comp}', json_array({label}, round({alias}.w_{comp}, 3))")
    parts.append(
        f"'counterparty', json_array(CASE WHEN {alias}.w_counterparty > 0 THEN 'shares a counterparty' "
        f"WHEN {alias}.w_counterparty < 0 THEN 'no counterparty in common' ELSE 'n/a' END, "
        f"round(coalesce({alias}.w_counterparty, 0), 3))"
    )
    parts.append(
        f"'subject_evidence', json_array(CASE WHEN coalesce({alias}.w_subject, 0) > 0 "
        f"THEN 'rare name' ELSE 'n/a' END, "
        f"round(coalesce({alias}.w_subject, 0), 3))"
    )
    parts.append(
        f"'receiver_evidence', json_array(CASE WHEN coalesce({alias}.w_receiver, 0) > 0 "
        f"THEN 'receiver paid by the same payer, no other candidate' ELSE 'n/a' END, "
        f"round(coalesce({alias}.w_receiver, 0), 3))"
    )
    parts.append(
        f"'account_evidence', json_array(CASE WHEN coalesce({alias}.w_account, 0) > 0 "
        f"THEN 'no account or identifier disagrees' ELSE 'n/a' END, "
        f"round(coalesce({alias}.w_account, 0), 3))"
    )
    return "json_object(" + ", ".join(parts) + ")::VARCHAR"




# While resolving, the warehouse's DuckDB keeps to this share of the machine (or to its
# own limit when that is lower), and Splink's DuckDB to SPLINK_MEMORY
# (splink_model.py): a 5-million-transaction resolution peaked at 16.7 GiB with the
# warehouse at 45 % and Splink at 30 %. Beyond these, DuckDB spills to disk.
RESOLVE_MEMORY = "20%"

_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def _memory_bytes(con: duckdb.DuckDBPyConnection, setting: str = "") -> int | None:
    """The memory limit of ``con``, or the one ``setting`` (``'20%'``, ``'8GB'``) would give
    (in a scratch DuckDB), in bytes as DuckDB shows it: one decimal of its unit."""
    probe = duckdb.connect() if setting else con
    try:
        if setting:
            probe.execute(f"SET memory_limit = '{setting}'")
        shown = probe.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        number, unit = str(shown).split()
        return int(float(number) * _UNITS[unit])
    except (duckdb.Error, ValueError, KeyError, IndexError):
        return None
    finally:
        if setting:
            probe.close()


@contextmanager
def _memory_budget(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Lower the warehouse's memory limit to RESOLVE_MEMORY for the run, then restore it."""
    if not isinstance(con, duckdb.DuckDBPyConnection):  # another engine (Spark): left alone
        yield
        return
    current = _memory_bytes(con)
    budget = _memory_bytes(con, RESOLVE_MEMORY)
    if current is None or budget is None or budget >= current:
        yield
        return
    con.execute(f"SET memory_limit = '{budget}B'")
    try:
        yield
    finally:
        # DuckDB shows a limit to one decimal of its unit, rounded down: restoring half a
        # step above keeps it where it was, run after run, instead of creeping down
        con.execute(f"SET memory_limit = '{current + _step(current) // 2}B'")


def _step(n_bytes: int) -> int:
    """A tenth of the unit DuckDB shows a size of ``n_bytes`` in."""
    unit = max((u for u in (2**10, 2**20, 2**30, 2**40) if n_bytes >= u), default=1)
    return max(unit // 10, 1)


# Scored pairs below this match weight are not kept in _resolve_scored.
MIN_KEPT_WEIGHT = -12.0


def count_of(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(scalar(con, sql) or 0)


def _labels(con: duckdb.DuckDBPyConnection, table: str) -> pa.Table:
    """Labelled pairs as profile pairs, for Splink's estimate_m_from_pairwise_labels."""
    sql = f"""
    WITH lab AS (
      SELECT split_part(key_l, ':', 1) AS pl, regexp_extract(key_l, '^[^:]*:(.*):[^:]*$', 1) AS rl,
             regexp_extract(key_l, ':([^:]*)$', 1) AS ql,
             split_part(key_r, ':', 1) AS pr, regexp_extract(key_r, '^[^:]*:(.*):[^:]*$', 1) AS rr,
             regexp_extract(key_r, ':([^:]*)$', 1) AS qr
      FROM {table}
    )
    SELECT DISTINCT a.pid AS pid_l, b.pid AS pid_r
    FROM lab
    JOIN resolve_records a ON a.provider = lab.pl AND a.record_id = lab.rl AND a.party = lab.ql
    JOIN resolve_records b ON b.provider = lab.pr AND b.record_id = lab.rr AND b.party = lab.qr
    WHERE a.pid IS NOT NULL AND b.pid IS NOT NULL AND a.pid <> b.pid
    """
    t = con.sql(sql).to_arrow_table()
    return pa.table(
        {
            "unique_id_l": t.column("pid_l"),
            "unique_id_r": t.column("pid_r"),
        }
    )


def _score(
    con: duckdb.DuckDBPyConnection,
    model: SplinkModel,
    settings: ResolveSettings,
) -> int:
    """Score the blocked pairs into ``_resolve_scored``; returns how many were scored."""
    pairs = con.sql("SELECT pid_l, pid_r FROM _resolve_pairs").to_arrow_table()
    if pairs.num_rows == 0:
        return 0
    # pairs far below any threshold are dropped here, not carried out of Splink's DuckDB
    if isinstance(con, duckdb.DuckDBPyConnection):
        # the warehouse reads the predictions as Splink's DuckDB computes them: one copy,
        # in the warehouse, not a whole Arrow table of them first (session 10)
        with model.predict_reader(pairs, min_weight=MIN_KEPT_WEIGHT) as reader:
            con.register("_resolve_scored_arrow", reader)
            try:
                con.execute(
                    "CREATE OR REPLACE TEMP TABLE _resolve_scored AS SELECT * FROM _resolve_scored_arrow "
                    f"WHERE match_weight >= {MIN_KEPT_WEIGHT}"
                )
            finally:
                con.unregister("_resolve_scored_arrow")
        return pairs.num_rows
    scored = model.predict(pairs, min_weight=MIN_KEPT_WEIGHT)
    con.register("_resolve_scored_arrow", scored)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _resolve_scored AS SELECT * FROM _resolve_scored_arrow "
        f"WHERE match_weight >= {MIN_KEPT_WEIGHT}"
    )
    con.unregister("_resolve_scored_arrow")
    return pairs.num_rows


def _scored_above(con: duckdb.DuckDBPyConnection, threshold: float) -> ScoredLinks:
    """The scored pairs at or above the threshold, as arrays (no Python tuple per pair)."""
    if not table_exists(con, "_resolve_scored"):
        empty = np.zeros(0, dtype=np.int64)
        return ScoredLinks(empty, empty, np.zeros(0, dtype=np.float64))
    rows = con.execute(
        f"SELECT pid_l, pid_r, match_weight FROM _resolve_scored WHERE match_probability >= {float(threshold)}"
    ).fetchnumpy()
    return ScoredLinks(
        np.asarray(rows["pid_l"], dtype=np.int64),
        np.asarray(rows["pid_r"], dtype=np.int64),
        np.asarray(rows["match_weight"], dtype=np.float64),
    )




def _write_links(
    con: duckdb.DuckDBPyConnection,
    res: ClusterResult,
    strong: dict[str, Any],
    labels: dict[str, list[tuple[float, str]]],
    *,
    append: bool,
    link_floor: float = 0.5,
) -> None:
    con.execute(T.RESOLVE_LINKS.ddl())
    if not append:
        con.execute("DELETE FROM resolve_links")
    floor = float(link_floor)
    merged_flags = np.zeros(len(strong["rid_l"]), dtype=bool)
    merged_flags[np.asarray(res.strong_merged, dtype=np.int64)] = True
    strong_tbl = pa.table(
        {
            "rid_l": pa.array(np.asarray(strong["rid_l"], dtype=np.int64)),
            "rid_r": pa.array(np.asarray(strong["rid_r"], dtype=np.int64)),
            "kind": pa.array(strong["kind"], pa.string()),
            "value": pa.array(strong["value"], pa.string()),
            "merged": pa.array(merged_flags),
        }
    )
    transaction_kinds = ", ".join(f"'{k}'" for k in SELF_TRANSFER_TYPES)
    con.register("_resolve_strong_arrow", strong_tbl)
    con.execute(
        "INSERT INTO resolve_links SELECT rid_l, rid_r, "
        f"CASE WHEN kind IN ({transaction_kinds}) THEN 'transaction:' ELSE 'identifier:' END || kind, "
        "value, NULL, NULL, NULL, merged FROM _resolve_strong_arrow"
    )
    con.unregister("_resolve_strong_arrow")
    if not table_exists(con, "_resolve_scored"):
        return
    merged = pa.table(
        {
            "rid_l": pa.array([m[0] for m in res.scored_merged], pa.int64()),
            "rid_r": pa.array([m[1] for m in res.scored_merged], pa.int64()),
            "pid_l": pa.array([m[2] for m in res.scored_merged], pa.int64()),
            "pid_r": pa.array([m[3] for m in res.scored_merged], pa.int64()),
        }
    )
    con.register("_resolve_merged_arrow", merged)
    levels = levels_json_sql(labels, "s")
    con.execute(
        f"""
        INSERT INTO resolve_links
        SELECT m.rid_l, m.rid_r, 'splink', NULL, s.match_weight, s.match_probability, {levels}, TRUE
        FROM _resolve_merged_arrow m JOIN _resolve_scored s USING (pid_l, pid_r)
        """
    )
    # a profile's first and last record, in one pass over the records (not one each)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _resolve_pid_reps AS SELECT pid, min(rid) AS lo, max(rid) AS hi "
        "FROM resolve_records WHERE pid IS NOT NULL GROUP BY pid"
    )
    con.execute(
        f"""
        INSERT INTO resolve_links
        SELECT pl.lo, pr.hi, 'splink', NULL, s.match_weight, s.match_probability, {levels}, FALSE
        FROM _resolve_scored s
        ANTI JOIN _resolve_merged_arrow m USING (pid_l, pid_r)
        JOIN _resolve_pid_reps pl ON pl.pid = s.pid_l
        JOIN _resolve_pid_reps pr ON pr.pid = s.pid_r
        WHERE s.match_probability >= {floor}
        """
    )
    con.execute("DROP TABLE IF EXISTS _resolve_pid_reps")
    con.unregister("_resolve_merged_arrow")


def _write_subjects(
    con: duckdb.DuckDBPyConnection, root: Roots, *, append: bool, new_from_rid: int = 0
) -> int:
    """Write subject_records from the group root of every record."""
    rids = pa.array(np.arange(len(root), dtype=np.int64))
    groups = pa.table({"rid": rids, "grp": pa.array(np.asarray(root, dtype=np.int64))}).slice(1)
    con.register("_resolve_groups_arrow", groups)
    con.execute(T.SUBJECT_RECORDS.ddl())
    if not append:
        con.execute("DELETE FROM subject_records")
        # a full run numbers records in (provider, record_id, party) order (build_records),
        # so a subject's first record key is its smallest rid, and sorting by (subject,
        # rid) sorts by (subject, provider, record_id, party): integers, not strings
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _resolve_subject_ids AS
            SELECT grp, row_number() OVER (ORDER BY min(rid)) AS n FROM _resolve_groups_arrow GROUP BY grp
            """
        )
        width = max(6, len(str(count_of(con, "SELECT count(*) FROM _resolve_subject_ids"))))
        con.execute(
            f"""
            INSERT INTO subject_records
            SELECT 'S' || lpad(s.n::VARCHAR, {width}, '0'), r.provider, r.record_id, r.party
            FROM _resolve_groups_arrow g JOIN resolve_records r USING (rid)
            JOIN _resolve_subject_ids s USING (grp)
            ORDER BY s.n, g.rid
            """
        )
    else:
        # existing subjects keep their ids; new groups are numbered after the last one
        last = count_of(
            con,
            "SELECT max(TRY_CAST(substr(subject_id, 2) AS BIGINT)) FROM subject_records",
        )
        width = max(6, len(str(last)))
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _resolve_new_subjects AS
            WITH g AS (
              SELECT g.grp, r.rid, r.provider, r.record_id, r.party, sr.subject_id
              FROM _resolve_groups_arrow g JOIN resolve_records r USING (rid)
              LEFT JOIN subject_records sr ON sr.provider = r.provider
                AND sr.record_id = r.record_id AND sr.party = r.party
            ),
            known AS (SELECT grp, min(subject_id) AS subject_id FROM g GROUP BY grp),
            fresh AS (
              SELECT grp, row_number() OVER (ORDER BY min((provider, record_id, party))) AS n
              FROM g WHERE grp IN (SELECT grp FROM known WHERE subject_id IS NULL) GROUP BY grp
            )
            SELECT coalesce(k.subject_id, 'S' || lpad(({last} + f.n)::VARCHAR, {width}, '0')) AS subject_id,
                   g.provider, g.record_id, g.party
            FROM g JOIN known k USING (grp) LEFT JOIN fresh f USING (grp)
            WHERE g.rid > {int(new_from_rid)}
            """
        )
        con.execute(
            "INSERT INTO subject_records SELECT * FROM _resolve_new_subjects ORDER BY 1, 2, 3, 4"
        )
    con.unregister("_resolve_groups_arrow")
    return count_of(con, "SELECT count(DISTINCT subject_id) FROM subject_records")


def _strong_arrays(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The strong links in clustering order: record numbers as int64 arrays, kinds and
    values as Arrow arrays (millions of Python strings cost seconds and gigabytes)."""
    t = con.sql(
        "SELECT rid_l, rid_r, kind, value FROM _resolve_strong "
        "ORDER BY CASE kind WHEN 'merchant' THEN 0 WHEN 'account' THEN 1 WHEN 'card' THEN 2 "
        "WHEN 'iban' THEN 3 WHEN 'id_doc' THEN 4 WHEN 'withdrawal' THEN 5 WHEN 'email' THEN 6 "
        "WHEN 'phone' THEN 7 ELSE 8 END, "
        "rid_l, rid_r"
    ).to_arrow_table()
    return {
        "rid_l": t.column("rid_l").to_numpy().astype(np.int64, copy=False),
        "rid_r": t.column("rid_r").to_numpy().astype(np.int64, copy=False),
        "kind": t.column("kind").combine_chunks().cast(pa.string()),
        "value": t.column("value").combine_chunks().cast(pa.string()),
    }


def _append_strong(strong: dict[str, Any], links: list[tuple[int, int, str, str]]) -> None:
    """Append links found after clustering (merchant names, only candidates) to ``strong``."""
    if not links:
        return
    rid_l, rid_r, kind, value = (list(c) for c in zip(*links, strict=True))
    strong["rid_l"] = np.concatenate([strong["rid_l"], np.asarray(rid_l, dtype=np.int64)])
    strong["rid_r"] = np.concatenate([strong["rid_r"], np.asarray(rid_r, dtype=np.int64)])
    strong["kind"] = pa.concat_arrays([strong["kind"], pa.array(kind, pa.string())])
    strong["value"] = pa.concat_arrays([strong["value"], pa.array(value, pa.string())])


def _record_pids(con: duckdb.DuckDBPyConnection, n: int) -> np.ndarray:
    """The profile of every record number (0 for none), as one array."""
    out = np.zeros(n + 1, dtype=np.int64)
    cols = con.execute("SELECT rid, pid FROM resolve_records WHERE pid IS NOT NULL").fetchnumpy()
    out[np.asarray(cols["rid"], dtype=np.int64)] = np.asarray(cols["pid"], dtype=np.int64)
    return out


def resolve(con: duckdb.DuckDBPyConnection, settings: ResolveSettings | None = None) -> ResolveReport:
    """Resolve every record in the warehouse into subjects (a full run)."""
    with _memory_budget(con):
        return _resolve(con, settings or ResolveSettings())


def _resolve(con: duckdb.DuckDBPyConnection, settings: ResolveSettings) -> ResolveReport:
    report = ResolveReport(threshold=settings.threshold)
    with _timed(report, "records"):
        con.execute("DROP TABLE IF EXISTS resolve_profiles")
        report.records = build_records(con)
        build_identifiers(con)
    with _timed(report, "strong"):
        report.shared_identifiers = find_shared(con, settings.max_names_per_identifier)
        blank_shared(con)
        report.strong_links = strong_links(con) + self_transfer_links(con)
    with _timed(report, "records"):
        report.profiles = build_profiles(con)
    with _timed(report, "blocking"):
        report.blocked_pairs = build_pairs(con, block_cap=settings.block_cap)
    con.execute("DROP TABLE IF EXISTS _resolve_scored")
    model_json = None
    labels: dict[str, list[tuple[float, str]]] = {}
    if report.profiles:
        profiles = con.sql(PROFILES_FOR_MODEL_SQL).to_arrow_table()
        with _timed(report, "train"):
            model = SplinkModel(profiles, backend=settings.backend)
            label_tbl = _labels(con, settings.labels_table) if settings.labels_table else None
            model.train(settings, label_tbl)
            model_json = model.model_json()
            labels = model.levels()
        with _timed(report, "score"):
            _score(con, model, settings)
        model.close()
    with _timed(report, "cluster"):
        n = report.records
        strong = _strong_arrays(con)
        pids = _record_pids(con, n)
        accounts = account_keys(con) if settings.accounts else None
        strong_cache: dict[str, Any] = {}  # the strong links do not change between passes

        def run_cluster() -> ClusterResult:
            return cluster(
                n,
                pids,
                strong["rid_l"],
                strong["rid_r"],
                _scored_above(con, settings.threshold),
                chain_large=settings.chain_large,
                chain_min_records=settings.chain_min_records,
                accounts=accounts,
                strong_cache=strong_cache,
            )

        res = run_cluster()
        cp_m, cp_u = 0.5, 0.5
        if table_exists(con, "_resolve_scored"):
            counterparty_sets(con, res.root)
            if settings.counterparty:
                cp_m, cp_u = estimate_counterparty(con, settings.threshold)
            adjust_counterparty(con, cp_m, cp_u)
            res = run_cluster()
            if settings.counterparty and adjust_receivers(con, res.root):
                res = run_cluster()
            if settings.accounts and adjust_accounts(con, res.root, settings.threshold):
                res = run_cluster()
        con.execute("DROP TABLE IF EXISTS _resolve_cp_pairs")  # counterparty.CP_PAIRS
        merchant_links = merchant_name_links(con, res.root)
        if settings.accounts and settings.only_candidates and table_exists(con, "_resolve_scored"):
            merchant_links += only_candidate_links(con, res.root)
        if merchant_links:
            first = len(strong["rid_l"])
            _append_strong(strong, merchant_links)
            report.strong_links += len(merchant_links)
            unite_after(res, [(m, p) for m, p, _, _ in merchant_links], first)
        report.counterparty_m_u = (round(cp_m, 5), round(cp_u, 7))
        report.pairs_above_threshold = count_of(
            con,
            f"SELECT count(*) FROM _resolve_scored WHERE match_probability >= {float(settings.threshold)}",
        ) if table_exists(con, "_resolve_scored") else 0
        report.merges, report.chain_rejections = res.merges, res.chain_rejections
        report.account_rejections = res.account_rejections
    with _timed(report, "write"):
        report.subjects = _write_subjects(con, res.root, append=False)
        _write_links(con, res, strong, labels, append=False, link_floor=settings.link_floor)
        _save_model(con, model_json, settings, (cp_m, cp_u))
    return report


def _save_model(
    con: duckdb.DuckDBPyConnection,
    model_json: str | None,
    settings: ResolveSettings,
    counterparty_m_u: tuple[float, float] = (0.5, 0.5),
) -> None:
    con.execute(T.RESOLVE_MODEL.ddl())
    if model_json is None:
        return
    model = json.loads(model_json)
    model["moneytrail_counterparty_m_u"] = list(counterparty_m_u)
    model_json = json.dumps(model)
    con.execute("DELETE FROM resolve_model")
    con.execute(
        "INSERT INTO resolve_model VALUES (now()::TIMESTAMP, ?, ?)",
        [model_json, settings.to_json()],
    )


def load_model(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, Any], ResolveSettings] | None:
    if not table_exists(con, "resolve_model"):
        return None
    rows = con.execute(
        "SELECT model_json, settings_json FROM resolve_model ORDER BY created_at DESC LIMIT 1"
    ).fetchall()
    if not rows:
        return None
    row = rows[0]
    return json.loads(row[0]), ResolveSettings.from_json(row[1])
