"""Calibrated, explainable scores for transactions and subjects.

``score(con, config)`` is the batch run's scoring stage: it evaluates the
indicator catalogue (``moneytrail.indicators``), applies the transparent
logistic models of ``weights.json`` and flags by a target precision or an
alert budget. Tables written:

``transaction_scores(provider, record_id, score, flagged, reasons)``
``subject_scores(subject_id, role, score, flagged, reasons)``
``transaction_indicators`` / ``subject_indicators`` (values and thresholds that fired)
``mt_txf`` / ``mt_subf`` (the model features, for ``explain`` and training)
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from moneytrail.indicators import ScoringConfig, compute_indicators, load_catalogue, load_config
from moneytrail.indicators.catalogue import ROLES
from moneytrail.schema import Column, Table, register
from moneytrail.scoring.model import SPLIT_MODEL, SPLIT_THRESHOLD, ModelSet, load_models
from moneytrail.store import scalar, table_exists

TRANSACTION_SCORES = register(
    Table(
        "transaction_scores",
        "Calibrated score per transaction, flag and the indicator ids that fired.",
        (
            Column("provider", "VARCHAR"),
            Column("record_id", "VARCHAR"),
            Column("score", "DOUBLE", "0 to 1, calibrated probability of an abuse payment"),
            Column("flagged", "INTEGER", "1 when raised for review"),
            Column("reasons", "VARCHAR", "indicator ids that fired, ';'-separated"),
        ),
        key=("provider", "record_id"),
        derived=True,
    )
)
SUBJECT_SCORES = register(
    Table(
        "subject_scores",
        "Calibrated score per resolved subject, its role, flag and reasons.",
        (
            Column("subject_id", "VARCHAR"),
            Column("role", "VARCHAR", "consumer, facilitator, intermediary or none"),
            Column("score", "DOUBLE"),
            Column("flagged", "INTEGER"),
            Column("reasons", "VARCHAR"),
            Column("score_consumer", "DOUBLE"),
            Column("score_facilitator", "DOUBLE"),
            Column("score_intermediary", "DOUBLE"),
        ),
        key=("subject_id",),
        derived=True,
    )
)

DEFAULT_TARGET_PRECISION = 0.95  # transactions
DEFAULT_SUBJECT_TARGET_PRECISION = 0.9  # each role queue of subjects
ROLE_FLOOR = 0.3  # below this best role score, the role is 'none'
# a receiving subject is flagged only when it is itself more likely than not on the receiving side: with
# most of a queue at ~1.0, the expected-precision rule alone reaches down to scores of 0.3
RECEIVING_FLAG_FLOOR = 0.5
QUICK_HANDOVER_S = 86400  # a hand-over within this many seconds of the receipt it passes on
RISKY_RECEIVER = 0.5  # mean score of a subject's foreign receipts from which handing over at home counts
CONSUMER_EVIDENCE = 0.5  # a flagged consumer has a payment scoring at least this (or a viewer report)

CARD_TX = ("MT10", "MT11", "MT12", "MT13", "MT16")


def _resolve_config(config: ScoringConfig | str | Path | None) -> ScoringConfig:
    if isinstance(config, ScoringConfig):
        return config
    return load_config(config)


def build_transaction_features(con: duckdb.DuckDBPyConnection) -> None:
    """mt_txf: the transaction model's features (indicator fires, subject ones gated)."""
    cat = load_catalogue()
    tx = [f"t.f_{i.id}" for i in cat.by_level("transaction")]
    card = " OR ".join(f"t.f_{i} = 1" for i in CARD_TX)
    rel_s = f"((t.is_p2p AND t.cross_border) OR {card})"
    rel_r = "(t.is_p2p AND t.cross_border)"
    # the receiver's reputation does not carry over to a sender whose transfers follow the course
    # of a relationship with that one payee (MT35: a romance-scam victim paying a collector)
    own = " AND coalesce(si.f_MT35, 0) = 0" if "MT35" in cat.ids else ""
    s = [f"CASE WHEN {rel_s} THEN coalesce(si.f_{i.id}, 0) ELSE 0 END AS f_{i.id}" for i in cat.by_level("sender")]
    r = [f"CASE WHEN {rel_r}{own} THEN coalesce(ri.f_{i.id}, 0) ELSE 0 END AS f_{i.id}" for i in cat.by_level("receiver")]
    # money leaving a receiving subject (cash-out, passing on): the payer's receiver-level fires
    o = [f"CASE WHEN NOT {rel_r} AND NOT t.is_card_purchase THEN coalesce(si.f_{i.id}, 0) ELSE 0 END AS o_{i.id}"
         for i in cat.by_level("receiver")]
    # a subject none of whose indicators fired reads as 0 either way (coalesce), so the hash
    # tables hold only the subjects with a fire: most subjects of a real store have none
    any_s = " OR ".join(f"f_{i.id} = 1" for i in cat.by_level("sender") + cat.by_level("receiver")) or "FALSE"
    any_r = " OR ".join(f"f_{i.id} = 1" for i in cat.by_level("receiver")) or "FALSE"
    con.execute(f"""
        CREATE OR REPLACE TABLE mt_txf AS
        SELECT t.provider, t.record_id, t.sender_id, t.receiver_id,
               CASE WHEN t.is_p2p AND t.cross_border THEN 1 ELSE 0 END AS is_xb_p2p,
               CASE WHEN t.is_card_purchase THEN 1 ELSE 0 END AS is_card,
               CASE WHEN t.txn_type = 'withdrawal' THEN 1 ELSE 0 END AS is_withdrawal,
               CASE WHEN t.is_p2p AND NOT t.cross_border THEN 1 ELSE 0 END AS is_dom_p2p,
               CASE WHEN {rel_s} THEN 1 ELSE 0 END AS rel_s,
               {", ".join(tx)}, {", ".join(s)}, {", ".join(r)}, {", ".join(o)}
        FROM mt_txi t
        LEFT JOIN (SELECT * FROM mt_subi WHERE {any_s}) si ON si.subject_id = t.sender_id
        LEFT JOIN (SELECT * FROM mt_subi WHERE {any_r}) ri ON ri.subject_id = t.receiver_id
    """)


def _reasons_sql(ids: list[str], cond: str = "{c} = 1", prefix: str = "") -> str:
    items = ", ".join(f"CASE WHEN {cond.format(c=prefix + 'f_' + i)} THEN '{i}' END" for i in ids)
    return f"concat_ws(';', {items})"


def build_subject_features(con: duckdb.DuckDBPyConnection) -> None:
    """mt_subf: the subject models' features, for every subject."""
    cat = load_catalogue()
    subj_ids = [i.id for i in cat.indicators if i.level in ("sender", "receiver")]
    net_ids = [i.id for i in cat.by_level("network")]
    tx_ids = [i.id for i in cat.by_level("transaction")]
    universe = ("SELECT subject_id FROM mt_subj UNION SELECT subject_id FROM mt_subg "
                "UNION SELECT sender_id FROM mt_txf UNION SELECT receiver_id FROM mt_txf")
    if table_exists(con, "subject_records"):
        universe += " UNION SELECT subject_id FROM subject_records"
    shares = ", ".join(f"avg(CAST(f.f_{i} AS DOUBLE)) AS share_{i}" for i in tx_ids)
    reported_fac = "coalesce(gi.f_MT56, 0) = 1" if "MT56" in net_ids else "FALSE"
    con.execute(f"""
        CREATE OR REPLACE TABLE mt_subf AS
        WITH u AS ({universe}),
        outs AS (
            -- shares over the cross-border transfers only: card spend counts through the
            -- sender-level indicators that tie it to remittances (MT27-MT29)
            SELECT f.sender_id AS subject_id, {shares}, max(s.score) AS tx_out
            FROM mt_txf f JOIN transaction_scores s USING (provider, record_id)
            WHERE f.is_xb_p2p = 1 GROUP BY f.sender_id
        ), ins AS (
            -- how much it receives (log counts): the head of an operation takes most of what its
            -- payers send, a relative named beside her less (facilitator vs intermediary)
            SELECT f.receiver_id AS subject_id, avg(s.score) AS tx_in,
                   count(*) AS n_in, ln(1 + count(*)) AS log_in, ln(1 + count(DISTINCT f.sender_id)) AS log_senders,
                   avg(CAST(f.f_MT14 AS DOUBLE)) AS in_share_MT14,
                   avg(CAST(f.f_MT15 AS DOUBLE)) AS in_share_MT15
            FROM mt_txf f JOIN transaction_scores s USING (provider, record_id)
            WHERE f.is_xb_p2p = 1 GROUP BY f.receiver_id
        ), coll AS (
            -- money collected at home from receivers whose foreign receipts score as abuse: the head
            -- of an operation (or a fragment of her that never receives from abroad) takes what her
            -- relatives or a syndicate's receivers hand over; a neighbour paid by a migrant's
            -- family collects from receivers whose receipts do not score
            SELECT f.receiver_id AS subject_id, ln(1 + count(*)) AS log_coll_risky
            FROM mt_txi f JOIN ins r ON r.subject_id = f.sender_id
            WHERE f.is_p2p AND NOT f.cross_border AND f.txn_type <> 'payment' AND r.tx_in >= {RISKY_RECEIVER!r}
              AND f.receiver_id <> f.sender_id
            GROUP BY f.receiver_id
        ), quick AS (
            -- hand-overs that follow one of the sender's abuse-like receipts from abroad within a
            -- day and take no more than it brought: passing on what just came in, which a
            -- receiver's ordinary payments to neighbours do not
            SELECT d.receiver_id AS subject_id, ln(1 + count(DISTINCT d.record_id)) AS log_coll_quick
            FROM mt_txi d
            JOIN mt_txf x ON x.receiver_id = d.sender_id AND x.is_xb_p2p = 1
            JOIN transaction_scores xs ON xs.provider = x.provider AND xs.record_id = x.record_id
            JOIN mt_txi xi ON xi.provider = x.provider AND xi.record_id = x.record_id
            WHERE d.is_p2p AND NOT d.cross_border AND d.txn_type <> 'payment' AND d.receiver_id <> d.sender_id
              AND xs.score >= {RISKY_RECEIVER!r} AND d.ts_s BETWEEN xi.ts_s AND xi.ts_s + {QUICK_HANDOVER_S}
              AND d.amount_usd <= xi.amount_usd * 1.05
            GROUP BY d.receiver_id
        ), fwd AS (
            -- the mirror: a risky receiver handing over at home to another such receiver (a relative
            -- or a syndicate's receiver passing money to the head)
            SELECT f.sender_id AS subject_id, ln(1 + count(*)) AS log_fwd_risky
            FROM mt_txi f JOIN ins r ON r.subject_id = f.receiver_id JOIN ins s ON s.subject_id = f.sender_id
            WHERE f.is_p2p AND NOT f.cross_border AND f.txn_type <> 'payment'
              AND r.tx_in >= {RISKY_RECEIVER!r} AND s.tx_in >= {RISKY_RECEIVER!r}
              AND f.receiver_id <> f.sender_id
            GROUP BY f.sender_id
        )
        SELECT u.subject_id,
               {", ".join([f"coalesce(si.f_{i}, 0) AS f_{i}" for i in subj_ids]
                          + [f"coalesce(gi.f_{i}, 0) AS f_{i}" for i in net_ids])},
               {", ".join(f"coalesce(o.share_{i}, 0) AS share_{i}" for i in tx_ids)},
               coalesce(o.tx_out, 0) AS tx_out, coalesce(i.tx_in, 0) AS tx_in,
               coalesce(i.in_share_MT14, 0) AS in_share_MT14,
               coalesce(i.in_share_MT15, 0) AS in_share_MT15,
               coalesce(i.log_in, 0) AS log_in, coalesce(i.log_senders, 0) AS log_senders,
               coalesce(c.log_coll_risky, 0) AS log_coll_risky, coalesce(fw.log_fwd_risky, 0) AS log_fwd_risky,
               coalesce(qk.log_coll_quick, 0) AS log_coll_quick,
               -- a report names it facilitator, yet its own payments hold no receipt from abroad and
               -- no quick hand-over: the money does not bear the report out (a subject with no
               -- payments at all is another matter: there the report is all the evidence)
               CASE WHEN {reported_fac} AND coalesce(g.own_tx, TRUE) AND coalesce(i.n_in, 0) = 0
                         AND coalesce(qk.log_coll_quick, 0) = 0 THEN 1 ELSE 0 END AS report_unsupported,
               -- with the co-paid fragments of the same name (one person split by entity resolution)
               ln(1 + coalesce(i.n_in, 0) + coalesce(g.frag_nin, 0)) AS log_in_group
        FROM u LEFT JOIN mt_subi si USING (subject_id) LEFT JOIN mt_subgi gi USING (subject_id)
        LEFT JOIN mt_subg g USING (subject_id)
        LEFT JOIN outs o USING (subject_id) LEFT JOIN ins i USING (subject_id)
        LEFT JOIN coll c USING (subject_id) LEFT JOIN fwd fw USING (subject_id) LEFT JOIN quick qk USING (subject_id)
    """)


def subject_feature_names() -> list[str]:
    cat = load_catalogue()
    return (
        [f"f_{i.id}" for i in cat.indicators if i.level in ("sender", "receiver")]
        + [f"f_{i.id}" for i in cat.by_level("network")]
        + [f"share_{i.id}" for i in cat.by_level("transaction")]
        + ["tx_out", "tx_in", "in_share_MT14", "in_share_MT15", "log_in", "log_senders"]
        + ["log_coll_risky", "log_fwd_risky", "log_in_group", "log_coll_quick", "report_unsupported"]
    )


def transaction_feature_names() -> list[str]:
    cat = load_catalogue()
    return (
        ["is_xb_p2p", "is_card", "is_withdrawal", "is_dom_p2p"]
        + [f"f_{i.id}" for i in cat.indicators if i.level != "network"]
        + [f"o_{i.id}" for i in cat.by_level("receiver")]
    )


def flag_threshold_sql(table: str, target_precision: float | None, budget_rows: int | None) -> str:
    """A scalar SQL query giving the lowest flagged score (NULL: flag nothing)."""
    if budget_rows is not None:
        return f"""SELECT min(score) FROM (SELECT score FROM {table}
                   ORDER BY score DESC LIMIT {max(int(budget_rows), 0)})"""
    p = target_precision if target_precision is not None else DEFAULT_TARGET_PRECISION
    # rows with the same score stand or fall together; the running mean of
    # calibrated scores (sorted down) is the expected precision of the queue
    return f"""SELECT min(score) FROM (
                 SELECT score, sum(total) OVER (ORDER BY score DESC) / sum(n) OVER (ORDER BY score DESC)
                        AS expected_precision
                 FROM (SELECT score, sum(score) AS total, count(*) AS n FROM {table} GROUP BY score))
               WHERE expected_precision >= {float(p)!r} AND score > 0.05"""


def score(
    con: duckdb.DuckDBPyConnection,
    config: ScoringConfig | str | Path | None = None,
    *,
    target_precision: float | None = None,
    subject_target_precision: float | None = None,
    alert_budget: float | None = None,
    weights: Path | None = None,
) -> None:
    """Score every transaction and subject (the batch run's scoring stage).

    Flagging: with ``alert_budget`` (alerts per million transactions) the top
    ``N * n / 1e6`` transactions are flagged; otherwise the deepest threshold
    whose expected precision (mean calibrated score above it) reaches
    ``target_precision`` (default 0.95). Subjects are flagged per role queue
    by ``subject_target_precision`` (default 0.9).
    Arguments win over the values of the configuration file.
    """
    cfg = _resolve_config(config)
    models = load_models(weights or cfg.weights)
    compute_indicators(con, cfg)
    build_transaction_features(con)
    _score_transactions(con, models, cfg, target_precision, alert_budget)
    build_subject_features(con)
    _score_subjects(con, models, cfg, subject_target_precision)


def _score_transactions(
    con: duckdb.DuckDBPyConnection, models: ModelSet, cfg: ScoringConfig,
    target_precision: float | None, alert_budget: float | None,
) -> None:
    cat = load_catalogue()
    ids = [i.id for i in cat.indicators if i.level != "network"]
    recv = [i.id for i in cat.by_level("receiver")]
    reasons = "concat_ws(';', " + ", ".join(
        [f"CASE WHEN f_{i} = 1 THEN '{i}' END" for i in ids] + [f"CASE WHEN o_{i} = 1 THEN '{i}' END" for i in recv]
    ) + ")"
    # scratch read twice (the flag threshold, then transaction_scores): a temporary table is
    # not compressed and written to the store, which costs more than computing it (as a view,
    # the threshold's second computation of the score cost more than the table: 1M 1.55 -> 1.79 CPU s)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE mt_tx_scored AS
        SELECT provider, record_id, {models.transaction.score_sql()} AS score,
               {reasons} AS reasons
        FROM mt_txf
    """)
    budget = alert_budget if alert_budget is not None else cfg.alert_budget
    tp = target_precision if target_precision is not None else cfg.target_precision
    budget_rows = None
    if budget is not None:
        n = con.execute("SELECT count(*) FROM mt_tx_scored").fetchone()
        budget_rows = int((n[0] if n else 0) * budget // 1_000_000)
    thr = con.execute(flag_threshold_sql("mt_tx_scored", tp, budget_rows)).fetchone()
    threshold = thr[0] if thr and thr[0] is not None else 2.0
    con.execute("DROP TABLE IF EXISTS transaction_scores")
    con.execute(TRANSACTION_SCORES.ddl())
    con.execute(f"""
        INSERT INTO transaction_scores
        SELECT provider, record_id, score, CASE WHEN score >= {threshold!r} THEN 1 ELSE 0 END, reasons
        FROM mt_tx_scored""")
    if budget is not None:
        apply_alert_budget(con, budget)
    con.execute("DROP TABLE mt_tx_scored")


def apply_alert_budget(con: duckdb.DuckDBPyConnection, alert_budget: float) -> int:
    """Flag exactly the top N transactions per million, the queue a monitoring team sized.

    The batch run calls it again after the network stage, whose evidence can lift
    scores, so the final queue keeps the budget. Returns N.
    """
    total = int(scalar(con, "SELECT count(*) FROM transaction_scores") or 0)
    n = int(total * alert_budget // 1_000_000)
    con.execute(f"""
        UPDATE transaction_scores SET flagged = CASE WHEN r.rank <= {n} THEN 1 ELSE 0 END
        FROM (
            SELECT provider, record_id,
                   row_number() OVER (ORDER BY score DESC, provider, record_id) AS rank
            FROM transaction_scores
        ) r
        WHERE transaction_scores.provider = r.provider AND transaction_scores.record_id = r.record_id
    """)
    return n


def _eligible(role: str) -> str:
    """What a subject of the role must show before it is flagged, beside its score."""
    return "consumer_evidence" if role == "consumer" else "NOT report_fragment"


def _score_subjects(
    con: duckdb.DuckDBPyConnection, models: ModelSet, cfg: ScoringConfig, target_precision: float | None
) -> None:
    cat = load_catalogue()
    subj_ids = [i.id for i in cat.indicators if i.level != "transaction"]
    tx_ids = [i.id for i in cat.by_level("transaction")]
    role_cols = ", ".join(f"{models.subject[r].score_sql()} AS p_{r}" for r in ROLES)
    split = models.subject.get(SPLIT_MODEL)
    split_at = float(models.thresholds.get(SPLIT_THRESHOLD, 0.5))
    # P(facilitator | receiving side): a dedicated model when trained, else the one-vs-rest ratio
    split_col = split.score_sql() if split else "CAST(NULL AS DOUBLE)"
    p_split = "p_split_model" if split else "p_facilitator / nullif(p_facilitator + p_intermediary, 0)"
    # a consumer is flagged only with a payment that scores as abuse on its own, or a platform
    # report naming it as a viewer: sender-level evidence alone (frequency, escalation, small
    # sums to a high-risk country) also describes romance-scam victims
    reported = "f_MT57 = 1" if "MT57" in subj_ids else "FALSE"
    evidence = f"(tx_out >= {CONSUMER_EVIDENCE!r} OR {reported})"
    # an account a report names as facilitator beside a paying viewer, with no payment of its own, is
    # a fragment of one of the viewer's payees: the report stays with the referral, not a new case
    fragment = "f_MT66 = 1" if "MT66" in subj_ids else "FALSE"
    reasons = (
        "concat_ws(';', "
        + ", ".join(f"CASE WHEN f_{i} = 1 THEN '{i}' END" for i in subj_ids)
        + ", "
        + ", ".join(f"CASE WHEN share_{i} >= 0.5 THEN '{i}' END" for i in tx_ids)
        + ")"
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE mt_sub_scored AS
        WITH p AS (SELECT subject_id, {role_cols}, {split_col} AS p_split_model, {reasons} AS reasons,
                          {evidence} AS consumer_evidence, {fragment} AS report_fragment FROM mt_subf),
        q AS (
            -- the receiving side (facilitator or intermediary) is one queue: the two one-vs-rest
            -- models share most evidence, their sum estimates P(either); the split model says
            -- which of the two roles it plays
            SELECT *, least(p_facilitator + p_intermediary, 1.0) AS p_receiving,
                   coalesce({p_split}, 0.5) AS p_split FROM p
        )
        SELECT subject_id, p_consumer, p_facilitator, p_intermediary, reasons, consumer_evidence, report_fragment,
               greatest(p_consumer, p_receiving) AS score,
               CASE WHEN greatest(p_consumer, p_receiving) < {ROLE_FLOOR} THEN 'none'
                    WHEN p_consumer >= p_receiving THEN 'consumer'
                    WHEN p_split >= {split_at!r} THEN 'facilitator'
                    ELSE 'intermediary' END AS role
        FROM q
    """)
    tp = target_precision if target_precision is not None else (
        cfg.subject_target_precision or DEFAULT_SUBJECT_TARGET_PRECISION
    )
    # one threshold per role: the precision of each role's queue is what an analyst sizes
    thresholds = {}
    for role in ROLES:
        queue = f"(SELECT score FROM mt_sub_scored WHERE role = '{role}' AND {_eligible(role)})"
        thr = con.execute(flag_threshold_sql(queue, tp, None)).fetchone()
        thresholds[role] = thr[0] if thr and thr[0] is not None else 2.0
        if role != "consumer":  # the queue's mean can carry a subject that is itself more likely not
            thresholds[role] = max(thresholds[role], RECEIVING_FLAG_FLOOR)
    cases = " ".join(f"WHEN role = '{r}' AND {_eligible(r)} AND score >= {t!r} THEN 1" for r, t in thresholds.items())
    con.execute("DROP TABLE IF EXISTS subject_scores")
    con.execute(SUBJECT_SCORES.ddl())
    con.execute(f"""
        INSERT INTO subject_scores
        SELECT subject_id, role, score, CASE {cases} ELSE 0 END, reasons,
               p_consumer, p_facilitator, p_intermediary
        FROM mt_sub_scored""")
    con.execute("DROP TABLE mt_sub_scored")


__all__ = ["DEFAULT_SUBJECT_TARGET_PRECISION", "DEFAULT_TARGET_PRECISION", "score"]
