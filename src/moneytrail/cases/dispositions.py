"""Analysts' decisions as training labels (``moneytrail train --from-dispositions``).

A case closed as a true positive (or reported) labels its subject with the case's
role and the subject's flagged transactions as abuse; a false positive labels the
subject ``none`` and all its transactions as not abuse. Subjects and transactions
that were never flagged count as negatives; flagged ones nobody has decided yet are
left out. Cases are found in the warehouse by their party records, so dispositions
made on one run's subject numbering label the same people in another run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlalchemy import func, select

from moneytrail.errors import UserError
from moneytrail.indicators.catalogue import ROLES
from moneytrail.opstore import OpsStore
from moneytrail.opstore.models import Case, CaseRecord
from moneytrail.scoring.model import ModelSet

POSITIVE = ("closed_tp", "reported")
NEGATIVE = ("closed_fp",)
MIN_EACH = 10


@dataclass
class Dispositions:
    positive_cases: int
    negative_cases: int
    positive_transactions: int = 0
    negative_transactions: int = 0


def _disposition_records(ops: OpsStore) -> pa.Table:
    with ops.session() as s:
        rows = s.execute(
            select(CaseRecord.provider, CaseRecord.record_id, CaseRecord.party, Case.role, Case.state)
            .join(Case, Case.id == CaseRecord.case_id)
            .where(Case.kind == "subject", Case.state.in_(POSITIVE + NEGATIVE))
        ).all()
    return pa.table({
        "provider": [r[0] for r in rows], "record_id": [r[1] for r in rows], "party": [r[2] for r in rows],
        "role": [r[3] if r[4] in POSITIVE and r[3] in ROLES else "none" for r in rows],
        "positive": [r[4] in POSITIVE for r in rows],
    })


def load_disposition_labels(con: duckdb.DuckDBPyConnection, ops: OpsStore, min_each: int = MIN_EACH) -> Dispositions:
    """Write ``truth_tx`` and ``truth_subject`` from the dispositions, for `train_on_labels`."""
    with ops.session() as s:
        subject_cases = select(func.count()).select_from(Case).where(Case.kind == "subject")
        pos = s.scalar(subject_cases.where(Case.state.in_(POSITIVE))) or 0
        neg = s.scalar(subject_cases.where(Case.state.in_(NEGATIVE))) or 0
    if pos < min_each or neg < min_each:
        raise UserError(
            f"training on dispositions needs at least {min_each} cases closed as true positive (or reported) "
            f"and {min_each} closed as false positive; the store has {pos} and {neg}"
        )
    con.register("_disp_arrow", _disposition_records(ops))
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _disp_subject AS
        SELECT sr.subject_id, arg_max(d.role, d.positive::INT) AS role, bool_or(d.positive) AS positive
        FROM _disp_arrow d JOIN subject_records sr USING (provider, record_id, party)
        GROUP BY sr.subject_id""")
    con.unregister("_disp_arrow")
    con.execute("""
        CREATE OR REPLACE TABLE truth_subject AS
        SELECT subject_id, role FROM _disp_subject
        UNION ALL
        SELECT subject_id, 'none' FROM subject_scores
        WHERE flagged = 0 AND subject_id NOT IN (SELECT subject_id FROM _disp_subject)""")
    con.execute("""
        CREATE OR REPLACE TABLE truth_tx AS
        WITH sides AS (
          SELECT sr.provider, sr.record_id, d.positive, d.role, sr.party
          FROM subject_records sr JOIN _disp_subject d USING (subject_id)
        ),
        decided AS (
          SELECT s.provider, s.record_id,
                 max(CASE WHEN s.positive AND coalesce(ts.flagged, 0) = 1 THEN 1 ELSE 0 END) AS is_abuse
          FROM sides s LEFT JOIN transaction_scores ts USING (provider, record_id)
          WHERE NOT s.positive OR coalesce(ts.flagged, 0) = 1
          GROUP BY ALL
        )
        SELECT provider, record_id, is_abuse FROM decided
        UNION ALL
        SELECT ts.provider, ts.record_id, 0 FROM transaction_scores ts
        ANTI JOIN decided d USING (provider, record_id)
        WHERE ts.flagged = 0""")
    row = con.execute(
        "SELECT count(*) FILTER (WHERE is_abuse = 1), count(*) FILTER (WHERE is_abuse = 0) FROM truth_tx"
    ).fetchone()
    return Dispositions(pos, neg, int(row[0]), int(row[1])) if row else Dispositions(pos, neg)


def train_from_dispositions(ops: OpsStore, warehouse: Path, out: Path,
                            min_each: int = MIN_EACH) -> tuple[Dispositions, ModelSet]:
    """Fit the models on the dispositions, over the run whose warehouse is given; write weights to `out`."""
    from moneytrail.scoring.train import train_on_labels
    from moneytrail.store import Warehouse, table_exists

    if not warehouse.is_file():
        raise UserError(f"no warehouse at {warehouse}; give the --store of a finished run")
    with Warehouse(warehouse) as wh:
        if not table_exists(wh.con, "transaction_scores"):
            raise UserError(f"{warehouse} holds no scores; run `moneytrail run` on it first")
        disp = load_disposition_labels(wh.con, ops, min_each)
        models = train_on_labels(wh.con, labelled_only=True)
    models.trained_on = {"dispositions": str(ops.safe_url), "warehouse": str(warehouse),
                         "positive_cases": disp.positive_cases, "negative_cases": disp.negative_cases}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(models.to_json())
    return disp, models
