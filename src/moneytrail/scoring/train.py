"""Fit the transparent models on a labelled synthetic world (``moneytrail train``).

Labels come from a world's truth (``transactions.csv``: is_abuse;
``parties.csv`` + ``persons.csv``: each subject's role by its majority
person). The fit part and the calibration part are split by subject, so
Platt scaling is fitted on records the weights never saw. Never train on a
world you report figures for.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from moneytrail.errors import UserError
from moneytrail.indicators import ScoringConfig, build_config, compute_indicators
from moneytrail.indicators.catalogue import ROLES
from moneytrail.scoring import (
    _score_transactions,
    build_subject_features,
    build_transaction_features,
    subject_feature_names,
    transaction_feature_names,
)
from moneytrail.scoring.model import SPLIT_MODEL, LogisticModel, ModelSet, default_models


def load_truth(con: duckdb.DuckDBPyConnection, truth: Path) -> None:
    for name in ("transactions", "parties", "persons"):
        if not (truth / f"{name}.csv").is_file():
            raise UserError(f"{truth} has no {name}.csv: give the truth folder of a synthetic world")
    con.execute(f"""CREATE OR REPLACE TABLE truth_tx AS SELECT provider, record_id, CAST(is_abuse AS INTEGER) AS is_abuse
                    FROM read_csv('{truth / 'transactions.csv'}', all_varchar = true)""")
    con.execute(f"""CREATE OR REPLACE TABLE truth_subject AS
        WITH p AS (SELECT * FROM read_csv('{truth / 'parties.csv'}', all_varchar = true)),
        pe AS (SELECT person_id, role, kind, lone FROM read_csv('{truth / 'persons.csv'}', all_varchar = true)),
        m AS (SELECT s.subject_id, p.person_id, count(*) AS n
              FROM subject_records s JOIN p USING (provider, record_id, party) GROUP BY ALL)
        SELECT m.subject_id, arg_max(m.person_id, m.n) AS person_id FROM m GROUP BY m.subject_id""")
    con.execute(f"""CREATE OR REPLACE TABLE truth_subject AS
        SELECT t.subject_id, t.person_id, pe.role, pe.kind, pe.lone
        FROM truth_subject t JOIN read_csv('{truth / 'persons.csv'}', all_varchar = true) pe USING (person_id)""")


def _split(keys: list[str], share: float = 0.3) -> np.ndarray:
    return np.array([(zlib.crc32(k.encode()) % 1000) < share * 1000 for k in keys])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def fit(X: np.ndarray, y: np.ndarray, hold: np.ndarray, features: list[str], c: float = 1.0) -> LogisticModel:
    """Logistic regression on the fit part, Platt scaling on the held-out part."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, brier_score_loss

    fit_part = ~hold
    if y[fit_part].min() == y[fit_part].max():
        raise UserError("the training world has no positive (or no negative) examples for a model")
    lr = LogisticRegression(C=c, max_iter=2000)
    lr.fit(X[fit_part], y[fit_part])
    w = lr.coef_[0]
    b0 = float(lr.intercept_[0])
    z = X @ w + b0
    platt = LogisticRegression(C=1e6, max_iter=1000)
    platt.fit(z[hold].reshape(-1, 1), y[hold])
    a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
    p = _sigmoid(a * z + b)
    metrics = {
        "n_fit": float(fit_part.sum()),
        "n_calibration": float(hold.sum()),
        "positives": float(y.sum()),
        "ap_calibration": float(average_precision_score(y[hold], p[hold])),
        "brier_calibration": float(brier_score_loss(y[hold], p[hold])),
    }
    return LogisticModel(features, [round(float(x), 6) for x in w], round(b0, 6), round(a, 6), round(b, 6), metrics)


def train_store(con: duckdb.DuckDBPyConnection, truth: Path, cfg: ScoringConfig | None = None) -> ModelSet:
    """Train every model on a store that holds an ingested, resolved world and its truth."""
    load_truth(con, truth)
    return train_on_labels(con, cfg)


def train_on_labels(con: duckdb.DuckDBPyConnection, cfg: ScoringConfig | None = None,
                    *, labelled_only: bool = False) -> ModelSet:
    """Fit on the labels in ``truth_tx(provider, record_id, is_abuse)`` and
    ``truth_subject(subject_id, role)``: a world's truth, or analysts' dispositions.

    With ``labelled_only`` the rows without a label are left out instead of counted
    as negatives (dispositions label a sample, not everything).
    """
    cfg = cfg or build_config()
    join = "JOIN" if labelled_only else "LEFT JOIN"
    compute_indicators(con, cfg, long_tables=False)
    build_transaction_features(con)
    feats = transaction_feature_names()
    df = con.execute(f"""
        SELECT f.sender_id, {', '.join('f.' + f for f in feats)}, coalesce(t.is_abuse, 0) AS y
        FROM mt_txf f {join} truth_tx t USING (provider, record_id)""").fetchdf()
    X = df[feats].to_numpy(dtype=float)
    y = df["y"].to_numpy(dtype=int)
    tx_model = fit(X, y, _split(df["sender_id"].astype(str).tolist()), feats)
    models = ModelSet(tx_model, default_models().subject)
    _score_transactions(con, models, cfg, None, None)
    build_subject_features(con)
    sfeats = subject_feature_names()
    sdf = con.execute(f"""
        SELECT f.subject_id, {', '.join('f.' + x for x in sfeats)}, coalesce(t.role, 'none') AS role
        FROM mt_subf f {join} truth_subject t USING (subject_id)""").fetchdf()
    SX = sdf[sfeats].to_numpy(dtype=float)
    hold = _split(sdf["subject_id"].astype(str).tolist())
    for role in ROLES:
        sy = (sdf["role"] == role).to_numpy(dtype=int)
        if labelled_only and (sy.sum() < 2 or sy.sum() == len(sy)):
            continue  # too few dispositions for this role: keep the shipped model
        models.subject[role] = fit(SX, sy, hold, sfeats)
    # which of the two receiving roles, fitted on the receiving-side subjects only
    recv = sdf["role"].isin(["facilitator", "intermediary"]).to_numpy()
    if recv.sum() >= 20 and 0 < (sdf["role"][recv] == "facilitator").sum() < recv.sum():
        ry = (sdf["role"][recv] == "facilitator").to_numpy(dtype=int)
        models.subject[SPLIT_MODEL] = fit(SX[recv], ry, hold[recv], sfeats)
    return models


def train_world(world: Path | None, truth: Path, store: Path | None, out: Path, *, seed_note: str = "") -> ModelSet:
    """Ingest, resolve and link referrals of a world's bundle (or use an existing store), train, write weights."""
    from moneytrail.store import Warehouse

    info: dict[str, Any] = {"truth": str(truth)}
    if world is not None:
        bundle = world / "bundle"
        if not bundle.is_dir():
            raise UserError(f"{world} has no bundle/ folder: give a directory written by `moneytrail synth`")
        store = store or world / "train-warehouse.duckdb"
    if store is None:
        raise UserError("give --world DIR, or --truth DIR/truth with --store STORE")
    with Warehouse(store) as wh:
        if world is not None:
            from moneytrail.ingest import ingest_bundle
            from moneytrail.referrals import run_referrals
            from moneytrail.resolve import resolve

            ingest_bundle(wh, world / "bundle")
            resolve(wh.con)
            run_referrals(wh.con)
        models = train_store(wh.con, truth)
    info["note"] = seed_note
    models.trained_on = info
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(models.to_json())
    return models
