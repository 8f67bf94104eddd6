"""Roles from indicators and network position, and the feedback into scoring.

A subject's role is the best of its role probabilities after propagation
(``network_risk``), ``none`` below ``ROLE_FLOOR``. The network flags a subject
scoring left unflagged only when network evidence (``net_*``) alone reaches
``NET_FLAG``; it never unflags one nor changes the role of one scoring
flagged (it adds its reasons and may raise its score).

Scoring tells facilitators from intermediaries better than the network can: its
facilitator-vs-intermediary model reads how much a receiver takes and whom it
hands money to, while the network's receiving evidence (NW02, NW04: paid by
known consumers) fits a family head and her relative alike. So a subject scoring
placed on the receiving side (role facilitator or intermediary, left unflagged)
keeps that role when the network's receiving evidence (NW02 to NW04, NW06)
flags it; only a subject scoring left unplaced takes the
network's role (on the development worlds, NW02 turned two relatives or
syndicate receivers scoring called intermediary into false facilitators).
"""

from __future__ import annotations

import duckdb

from moneytrail.store import table_exists

ROLE_FLOOR = 0.3
NET_FLAG = 0.6

ROLE_SQL = f"""
CASE WHEN greatest(p_consumer, p_facilitator, p_intermediary) < {ROLE_FLOOR} THEN 'none'
     WHEN p_consumer >= p_facilitator AND p_consumer >= p_intermediary THEN 'consumer'
     WHEN p_facilitator >= p_intermediary THEN 'facilitator'
     ELSE 'intermediary' END
"""
RECEIVING = ("facilitator", "intermediary")


def assign_roles(con: duckdb.DuckDBPyConnection) -> None:
    """``network_roles(subject_id, role, score, flagged, reasons, p_consumer, p_facilitator, p_intermediary, changed)``."""
    con.execute(f"""
        CREATE OR REPLACE TABLE network_roles AS
        WITH r AS (
            SELECT r.*, b.flagged AS base_flagged, b.role AS base_role, b.score AS base_score,
                   b.reasons AS base_reasons,
                   -- scoring's receiving role stands when the network's best evidence is receiving too
                   CASE WHEN b.role IN {RECEIVING} AND greatest(r.net_facilitator, r.net_intermediary) >= r.net_consumer
                        THEN b.role ELSE {ROLE_SQL.replace('p_', 'r.p_')} END AS new_role,
                   greatest(r.net_consumer, r.net_facilitator, r.net_intermediary) AS net_best
            FROM network_risk r JOIN nw_base b USING (subject_id)
        )
        SELECT subject_id,
               CASE WHEN base_flagged = 1 THEN base_role WHEN net_best >= {NET_FLAG} THEN new_role
                    ELSE base_role END AS role,
               CASE WHEN base_flagged = 1 THEN greatest(base_score, CASE base_role
                        WHEN 'consumer' THEN p_consumer WHEN 'facilitator' THEN p_facilitator
                        WHEN 'intermediary' THEN p_intermediary ELSE 0 END)
                    WHEN net_best >= {NET_FLAG} THEN greatest(base_score, p_consumer, p_facilitator, p_intermediary)
                    ELSE base_score END AS score,
               CASE WHEN base_flagged = 1 OR (net_best >= {NET_FLAG} AND new_role <> 'none') THEN 1 ELSE 0 END AS flagged,
               concat_ws(';', nullif(base_reasons, ''), nullif(reasons, '')) AS reasons,
               p_consumer, p_facilitator, p_intermediary,
               (net_best >= {NET_FLAG}) AS changed
        FROM r
    """)


def feed_back(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Update ``subject_scores`` and ``transaction_scores`` in place from ``network_roles``."""
    counts = {"subjects_updated": 0, "subjects_inserted": 0, "transactions_flagged": 0}
    if table_exists(con, "subject_scores"):
        cols = {r[0] for r in con.execute("DESCRIBE subject_scores").fetchall()}
        extra = "".join(f", score_{r} = greatest(coalesce(s.score_{r}, 0), n.p_{r})"
                        for r in ("consumer", "facilitator", "intermediary") if f"score_{r}" in cols)
        row = con.execute(f"""
            UPDATE subject_scores s SET role = n.role, score = n.score, flagged = n.flagged,
                   reasons = n.reasons{extra}
            FROM network_roles n WHERE s.subject_id = n.subject_id AND n.changed
        """).fetchall()
        counts["subjects_updated"] = int(row[0][0]) if row else 0
        row = con.execute("""
            INSERT INTO subject_scores (subject_id, role, score, flagged, reasons)
            SELECT subject_id, role, score, flagged, reasons FROM network_roles n
            WHERE n.changed AND NOT EXISTS (SELECT 1 FROM subject_scores s WHERE s.subject_id = n.subject_id)
        """).fetchall()
        counts["subjects_inserted"] = int(row[0][0]) if row else 0
    if table_exists(con, "transaction_scores"):
        # payments from a flagged consumer or intermediary to a flagged facilitator or intermediary
        # where the network raised either side
        row = con.execute("""
            UPDATE transaction_scores t
            SET score = greatest(t.score, x.s), flagged = 1,
                reasons = concat_ws(';', nullif(t.reasons, ''), 'NW05')
            FROM (
                SELECT p.provider, p.record_id, least(a.score, b.score) AS s
                FROM network_payments p
                JOIN network_roles a ON a.subject_id = p.src
                JOIN network_roles b ON b.subject_id = p.dst
                WHERE (a.changed OR b.changed) AND a.flagged = 1 AND b.flagged = 1
                  AND a.role IN ('consumer', 'intermediary') AND b.role IN ('facilitator', 'intermediary')
            ) x
            WHERE t.provider = x.provider AND t.record_id = x.record_id AND coalesce(t.flagged, 0) = 0
        """).fetchall()
        counts["transactions_flagged"] = int(row[0][0]) if row else 0
    return counts
