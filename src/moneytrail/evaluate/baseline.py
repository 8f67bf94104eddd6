"""The published rule every figure is reported beside.

"Three or more transfers of at most 150 US dollars to the Philippines,
Thailand or Colombia within 30 days by the same sender."

A SQL stage over the canonical warehouse tables `transactions` and `parties`
(see `moneytrail.schema`): it writes `baseline_transaction_flags(provider,
record_id, score, flagged, reasons)` with one row for every transaction. The
same sender is the same provider and from-side `account`, or, without an
account, the same normalised name and country. A transfer is anything but a
card purchase, a withdrawal, a top-up or a refund.

A qualifying transfer is flagged when some 30-day window holds it and at least
two more qualifying transfers of its sender. Its score is 1 when flagged, else
the largest number of qualifying transfers of its sender in the 30 days before
or after it, over 3 (so 1/3 or 2/3); other transactions score 0.
"""

from __future__ import annotations

import duckdb

REASON = "baseline_3x_le150usd_ph_th_co_30d"
COUNTRIES = ("PH", "TH", "CO")
MAX_USD = 150.0
MIN_COUNT = 3
WINDOW_DAYS = 30
NOT_TRANSFERS = ("purchase", "withdrawal", "top_up", "refund")

SQL = f"""
CREATE OR REPLACE TABLE baseline_transaction_flags AS
WITH snd AS (
    SELECT provider, record_id, min(account) AS account, min(name_norm) AS name_norm, min(country) AS country
    FROM parties WHERE side = 'from' GROUP BY provider, record_id
),
q AS (
    SELECT t.provider, t.record_id, t.ts_utc,
           t.provider || '|' || coalesce(nullif(trim(s.account), ''),
                                         '~' || coalesce(s.name_norm, '') || '|' || coalesce(upper(s.country), '')) AS sender,
           coalesce(t.amount_usd <= {MAX_USD}
                    AND upper(t.receiver_country) IN ({", ".join(f"'{c}'" for c in COUNTRIES)})
                    AND coalesce(t.txn_type, '') NOT IN ({", ".join(f"'{c}'" for c in NOT_TRANSFERS)})
                    AND t.ts_utc IS NOT NULL, FALSE) AS qualifies
    FROM transactions t LEFT JOIN snd s ON s.provider = t.provider AND s.record_id = t.record_id
),
w AS (
    SELECT provider, record_id, ts_utc,
           count(*) OVER (PARTITION BY sender ORDER BY ts_utc
                          RANGE BETWEEN INTERVAL {WINDOW_DAYS} DAY PRECEDING AND CURRENT ROW) AS n_back,
           count(*) OVER (PARTITION BY sender ORDER BY ts_utc
                          RANGE BETWEEN CURRENT ROW AND INTERVAL {WINDOW_DAYS} DAY FOLLOWING) AS n_fwd,
           lag(ts_utc, 2) OVER o AS t_m2, lag(ts_utc, 1) OVER o AS t_m1,
           lead(ts_utc, 1) OVER o AS t_p1, lead(ts_utc, 2) OVER o AS t_p2
    FROM q WHERE qualifies
    WINDOW o AS (PARTITION BY sender ORDER BY ts_utc, record_id)
),
f AS (
    SELECT provider, record_id, greatest(n_back, n_fwd) AS n,
           coalesce(ts_utc - t_m2 <= INTERVAL {WINDOW_DAYS} DAY, FALSE)
           OR coalesce(t_p1 - t_m1 <= INTERVAL {WINDOW_DAYS} DAY, FALSE)
           OR coalesce(t_p2 - ts_utc <= INTERVAL {WINDOW_DAYS} DAY, FALSE) AS hit
    FROM w
)
SELECT q.provider, q.record_id,
       CAST(CASE WHEN f.hit THEN 1.0 WHEN f.n IS NULL THEN 0.0 ELSE least(f.n, {MIN_COUNT}) / {float(MIN_COUNT)} END AS DOUBLE) AS score,
       CAST(coalesce(f.hit, FALSE) AS INTEGER) AS flagged,
       CASE WHEN f.hit THEN '{REASON}' ELSE '' END AS reasons
FROM q LEFT JOIN f ON f.provider = q.provider AND f.record_id = q.record_id
"""


def baseline_flags(con: duckdb.DuckDBPyConnection) -> None:
    """Create `baseline_transaction_flags` from the warehouse's `transactions` and `parties`."""
    con.execute(SQL)


RUN_SQL = f"""
CREATE OR REPLACE TABLE transaction_scores AS
SELECT provider, record_id, score, flagged, reasons FROM baseline_transaction_flags;

CREATE OR REPLACE TABLE subject_scores AS
WITH r AS (
    SELECT sr.subject_id, f.score, f.flagged
    FROM subject_records sr
    JOIN parties p ON p.provider = sr.provider AND p.record_id = sr.record_id AND p.party = sr.party AND p.side = 'from'
    JOIN baseline_transaction_flags f ON f.provider = sr.provider AND f.record_id = sr.record_id
),
s AS (SELECT subject_id, max(score) AS score, max(flagged) AS flagged FROM r GROUP BY subject_id)
SELECT sr.subject_id,
       CAST(CASE WHEN coalesce(s.flagged, 0) = 1 THEN 'consumer' ELSE 'none' END AS VARCHAR) AS role,
       CAST(coalesce(s.score, 0) AS DOUBLE) AS score,
       CAST(coalesce(s.flagged, 0) AS INTEGER) AS flagged,
       CAST(CASE WHEN coalesce(s.flagged, 0) = 1 THEN '{REASON}' ELSE '' END AS VARCHAR) AS reasons,
       CAST(coalesce(s.score, 0) AS DOUBLE) AS score_consumer,
       CAST(0 AS DOUBLE) AS score_facilitator,
       CAST(0 AS DOUBLE) AS score_intermediary
FROM (SELECT DISTINCT subject_id FROM subject_records) sr LEFT JOIN s USING (subject_id);
"""


def baseline_run(con: duckdb.DuckDBPyConnection) -> None:
    """The batch run's scoring stage for `--model baseline`: the rule's flags become
    `transaction_scores`, and every resolved subject that sent a flagged transfer is a
    flagged consumer in `subject_scores` (score: the best of its sent transfers)."""
    baseline_flags(con)
    con.execute(RUN_SQL)
