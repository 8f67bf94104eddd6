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
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

if TYPE_CHECKING:
    import pandas as pd

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
from moneytrail.scoring.model import (
    SPLIT_MODEL,
    SPLIT_THRESHOLD,
    LogisticModel,
    ModelSet,
    default_models,
)


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
    return train_on_many([con], cfg, labelled_only=labelled_only)


def _tx_frame(con: duckdb.DuckDBPyConnection, cfg: ScoringConfig, join: str, tag: str) -> pd.DataFrame:
    compute_indicators(con, cfg, long_tables=False)
    build_transaction_features(con)
    feats = transaction_feature_names()
    df = con.execute(f"""
        SELECT f.sender_id, {', '.join('f.' + f for f in feats)}, coalesce(t.is_abuse, 0) AS y
        FROM mt_txf f {join} truth_tx t USING (provider, record_id)""").fetchdf()
    df["split_key"] = tag + df["sender_id"].astype(str)
    return df


def _subject_frame(con: duckdb.DuckDBPyConnection, models: ModelSet, cfg: ScoringConfig, join: str,
                   tag: str) -> pd.DataFrame:
    _score_transactions(con, models, cfg, None, None)
    build_subject_features(con)
    sfeats = subject_feature_names()
    cols = {r[0] for r in con.execute("DESCRIBE truth_subject").fetchall()}
    person = "t.person_id" if "person_id" in cols else "f.subject_id"
    sdf = con.execute(f"""
        SELECT f.subject_id, {', '.join('f.' + x for x in sfeats)}, coalesce(t.role, 'none') AS role,
               coalesce({person}, f.subject_id) AS person_key
        FROM mt_subf f {join} truth_subject t USING (subject_id)""").fetchdf()
    sdf["split_key"] = tag + sdf["subject_id"].astype(str)
    sdf["person_key"] = tag + sdf["person_key"].astype(str)
    return sdf


# inverse L2 strength of the subject models: rare but decisive evidence (a platform report
# about a subject with no payments) needs a large weight; C=1 shrank it below the flag line
SUBJECT_C = 100.0


def train_on_many(cons: list[duckdb.DuckDBPyConnection], cfg: ScoringConfig | None = None,
                  *, labelled_only: bool = False) -> ModelSet:
    """Fit every model on the labelled rows of several stores together (several worlds).

    The transaction model is fitted first; each store's transactions are then
    scored with it, since the subject models read the scores of a subject's
    payments and receipts.
    """
    import pandas as pd

    cfg = cfg or build_config()
    join = "JOIN" if labelled_only else "LEFT JOIN"
    feats = transaction_feature_names()
    df = pd.concat([_tx_frame(c, cfg, join, f"{k}:") for k, c in enumerate(cons)], ignore_index=True)
    X = df[feats].to_numpy(dtype=float)
    y = df["y"].to_numpy(dtype=int)
    tx_model = fit(X, y, _split(df["split_key"].tolist()), feats)
    models = ModelSet(tx_model, default_models().subject)
    sfeats = subject_feature_names()
    sdf = pd.concat([_subject_frame(c, models, cfg, join, f"{k}:") for k, c in enumerate(cons)], ignore_index=True)
    SX = sdf[sfeats].to_numpy(dtype=float)
    hold = _split(sdf["split_key"].tolist())
    for role in ROLES:
        sy = (sdf["role"] == role).to_numpy(dtype=int)
        if labelled_only and (sy.sum() < 2 or sy.sum() == len(sy)):
            continue  # too few dispositions for this role: keep the shipped model
        models.subject[role] = fit(SX, sy, hold, sfeats, c=SUBJECT_C)
    # which of the two receiving roles, fitted on the receiving-side subjects only
    recv = sdf["role"].isin(["facilitator", "intermediary"]).to_numpy().copy()
    if SPLIT_MAIN_ONLY:
        recv &= _main_fragments(sdf)
    if recv.sum() >= 20 and 0 < (sdf["role"][recv] == "facilitator").sum() < recv.sum():
        ry = (sdf["role"][recv] == "facilitator").to_numpy(dtype=int)
        split = fit(SX[recv], ry, hold[recv], sfeats, c=SUBJECT_C)
        models.subject[SPLIT_MODEL] = split
        people = (sdf["person_key"][recv].astype(str).tolist() if "person_key" in sdf else None)
        models.thresholds[SPLIT_THRESHOLD] = split_threshold(split, SX[recv], ry, people)
    return models


SPLIT_MAIN_ONLY = True


def _main_fragments(sdf: pd.DataFrame) -> np.ndarray:
    """False for a facilitator's minor fragments: subjects of a person who also has one that receives more.

    A person is found when any one of her subjects is flagged, so the split model is fitted on each
    facilitator's largest subject; her one-receipt fragments look like a relative and teach it to
    call relatives facilitators.
    """
    order = sdf[["person_key", "log_in", "log_senders"]].copy()
    order["i"] = np.arange(len(sdf))
    best = order.sort_values(["person_key", "log_in", "log_senders", "i"], ascending=[True, False, False, True])
    first = best.drop_duplicates("person_key")["i"].to_numpy()
    main = np.zeros(len(sdf), dtype=bool)
    main[first] = True
    return main | (sdf["role"] != "facilitator").to_numpy()


def split_threshold(split: LogisticModel, X: np.ndarray, y: np.ndarray, person: list[str] | None = None) -> float:
    """The P(facilitator | receiving side) from which a receiving subject is a facilitator.

    Chosen on the training worlds' receiving subjects (truth) for the best F1 of
    the facilitator queue: precision over subjects, recall over people when the
    labels name them (a person split into several subjects is found by one).
    """
    p = _sigmoid(split.platt_a * (X @ np.array(split.weights) + split.intercept) + split.platt_b)
    keys = np.array(person if person is not None else [str(i) for i in range(len(y))], dtype=object)
    true_people = set(keys[y == 1])
    best, best_f1 = 0.5, -1.0
    for t in np.round(np.arange(0.5, 0.951, 0.05), 2):
        sel = p >= t
        if not sel.any() or not true_people:
            continue
        prec = float(y[sel].mean())
        rec = len(set(keys[sel & (y == 1)])) / len(true_people)
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(t), f1
    return best


def prepare_training_store(world: Path, store: Path | None = None) -> Path:
    """Ingest, resolve and link the referrals of a world's bundle into a fresh store."""
    from moneytrail.ingest import ingest_bundle
    from moneytrail.referrals import run_referrals
    from moneytrail.resolve import resolve
    from moneytrail.store import Warehouse

    bundle = world / "bundle"
    if not bundle.is_dir():
        raise UserError(f"{world} has no bundle/ folder: give a directory written by `moneytrail synth`")
    store = store or world / "train-warehouse.duckdb"
    store.unlink(missing_ok=True)
    with Warehouse(store) as wh:
        ingest_bundle(wh, bundle)
        resolve(wh.con)
        run_referrals(wh.con)
    return store


def train_worlds(worlds: list[Path], out: Path, *, seeds: list[int] | None = None, scale: float | None = None,
                 reuse_stores: bool = False) -> ModelSet:
    """Train on several synthetic worlds and write the weights.

    Each world is ingested, resolved and referral-linked afresh into
    ``WORLD/train-warehouse.duckdb`` (with ``reuse_stores``, a store already
    there is used as it is: quicker, but stale after entity resolution changed).
    """
    from moneytrail.store import Warehouse

    stores = [w / "train-warehouse.duckdb" if reuse_stores and (w / "train-warehouse.duckdb").is_file()
              else prepare_training_store(w) for w in worlds]
    whs = [Warehouse(s) for s in stores]
    try:
        for w, wh in zip(worlds, whs, strict=True):
            load_truth(wh.con, w / "truth")
        models = train_on_many([wh.con for wh in whs])
    finally:
        for wh in whs:
            wh.close()
    info: dict[str, Any] = {"worlds": [str(w) for w in worlds]}
    if seeds is not None:
        info["command"] = (f"moneytrail train --seeds {','.join(map(str, seeds))} --scale {scale} "
                           "(synth, ingest, resolve, referrals, fit)")
        info["never_evaluate_on_seeds"] = seeds
    if reuse_stores:
        info["reused_stores"] = "train-warehouse.duckdb of each world, as resolved when it was built"
    models.trained_on = info
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(models.to_json())
    return models


def synth_worlds(seeds: list[int], scale: float, work: Path) -> list[Path]:
    """The training worlds of the seeds under ``work`` (generated when missing)."""
    from moneytrail.synth import generate

    worlds = []
    for seed in seeds:
        w = work / f"w{seed}"
        if not (w / "truth" / "transactions.csv").is_file() or not (w / "bundle").is_dir():
            generate(w, scale=scale, seed=seed)
        worlds.append(w)
    return worlds


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
