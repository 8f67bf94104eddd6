"""Facilitators' collection points, ranked for child-protection referral.

``places(rank, kind, place, country, facilitators, payments, total_usd, first, last,
subjects)``: ``kind`` is ``city`` (receiver city, with its country), ``agent``
(payout agent location) or ``country`` (receiving country). Evidence per place:
distinct flagged facilitators and intermediaries collecting there, their
incoming payments and total USD. Ranked by facilitators, then total USD.
"""

from __future__ import annotations

import duckdb

PLACES_SQL = """
CREATE OR REPLACE TABLE places AS
WITH fac AS (
    SELECT subject_id FROM network_roles WHERE flagged = 1 AND role IN ('facilitator', 'intermediary')
), recv AS (
    SELECT p.provider, p.record_id, p.dst AS subject_id, p.amount_usd, p.ts_utc,
           nullif(trim(lower(pt.city)), '') AS city,
           coalesce(nullif(pt.country, ''), t.receiver_country) AS country,
           nullif(t.payout_agent_id, '') AS agent
    FROM network_payments p
    JOIN fac f ON f.subject_id = p.dst
    JOIN transactions t ON t.provider = p.provider AND t.record_id = p.record_id
    LEFT JOIN parties pt ON pt.provider = p.provider AND pt.record_id = p.record_id AND pt.side = 'to'
), keyed AS (
    SELECT 'city' AS kind, city AS place, country, subject_id, amount_usd, ts_utc FROM recv WHERE city IS NOT NULL
    UNION ALL SELECT 'agent', agent, country, subject_id, amount_usd, ts_utc FROM recv WHERE agent IS NOT NULL
    UNION ALL SELECT 'country', country, country, subject_id, amount_usd, ts_utc FROM recv WHERE country IS NOT NULL
), agg AS (
    SELECT kind, place, country, count(DISTINCT subject_id) AS facilitators, count(*) AS payments,
           sum(amount_usd) AS total_usd, min(ts_utc) AS first, max(ts_utc) AS last,
           array_to_string(list_sort(list(DISTINCT subject_id)), ';') AS subjects  -- sorted: same text every run
    FROM keyed GROUP BY kind, place, country
)
SELECT row_number() OVER (ORDER BY facilitators DESC, total_usd DESC, kind, place) AS rank, *
FROM agg
"""


def rank_places(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(PLACES_SQL)
