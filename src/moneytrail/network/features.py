"""Graph features per subject → table ``network_features``.

``network_features(subject_id, in_degree, out_degree, in_payments, out_payments,
in_usd, out_usd, counterparties, counterparty_countries, flagged_payer_share,
flagged_payee_share, flagged_share, reciprocity, pagerank)``

Degrees count distinct counterparties (payers in, payees out); ``flagged_*``
shares use ``subject_scores.flagged`` as written by scoring (0 when absent);
``pagerank`` is the weighted directed PageRank of the subject graph (money
flows towards who collects it).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from moneytrail.network.graph import SubjectGraph

FEATURES_SQL = """
CREATE OR REPLACE TABLE network_features AS
WITH nodes AS (SELECT DISTINCT subject_id FROM subject_records WHERE subject_id IS NOT NULL),
fl AS (SELECT subject_id, max(coalesce(flagged, 0)) AS flagged FROM {scores} GROUP BY subject_id),
outs AS (
    SELECT e.src AS subject_id, count(*) AS out_degree, sum(e.n) AS out_payments, sum(e.total_usd) AS out_usd,
           avg(CAST(coalesce(f.flagged, 0) AS DOUBLE)) AS flagged_payee_share
    FROM network_edges e LEFT JOIN fl f ON f.subject_id = e.dst GROUP BY e.src
), ins AS (
    SELECT e.dst AS subject_id, count(*) AS in_degree, sum(e.n) AS in_payments, sum(e.total_usd) AS in_usd,
           avg(CAST(coalesce(f.flagged, 0) AS DOUBLE)) AS flagged_payer_share
    FROM network_edges e LEFT JOIN fl f ON f.subject_id = e.src GROUP BY e.dst
), nb AS (
    SELECT src AS a, dst AS b FROM network_edges UNION SELECT dst AS a, src AS b FROM network_edges
), nbs AS (
    SELECT nb.a AS subject_id, count(*) AS counterparties,
           avg(CAST(coalesce(f.flagged, 0) AS DOUBLE)) AS flagged_share
    FROM nb LEFT JOIN fl f ON f.subject_id = nb.b GROUP BY nb.a
), mutual AS (
    SELECT e.src AS subject_id, count(*) AS mutual
    FROM network_edges e JOIN network_edges r ON r.src = e.dst AND r.dst = e.src GROUP BY e.src
), ctry AS (
    SELECT subject_id, count(DISTINCT c) AS counterparty_countries FROM (
        SELECT src AS subject_id, receiver_country AS c FROM network_payments
        UNION ALL SELECT dst AS subject_id, sender_country AS c FROM network_payments) x
    WHERE c IS NOT NULL GROUP BY subject_id
)
SELECT n.subject_id,
       coalesce(i.in_degree, 0) AS in_degree, coalesce(o.out_degree, 0) AS out_degree,
       coalesce(i.in_payments, 0) AS in_payments, coalesce(o.out_payments, 0) AS out_payments,
       coalesce(i.in_usd, 0) AS in_usd, coalesce(o.out_usd, 0) AS out_usd,
       coalesce(b.counterparties, 0) AS counterparties,
       coalesce(c.counterparty_countries, 0) AS counterparty_countries,
       coalesce(i.flagged_payer_share, 0) AS flagged_payer_share,
       coalesce(o.flagged_payee_share, 0) AS flagged_payee_share,
       coalesce(b.flagged_share, 0) AS flagged_share,
       coalesce(CAST(m.mutual AS DOUBLE) / nullif(b.counterparties, 0), 0) AS reciprocity,
       coalesce(p.pagerank, 0) AS pagerank
FROM nodes n
LEFT JOIN ins i USING (subject_id) LEFT JOIN outs o USING (subject_id)
LEFT JOIN nbs b USING (subject_id) LEFT JOIN mutual m USING (subject_id)
LEFT JOIN ctry c USING (subject_id) LEFT JOIN nw_pagerank p USING (subject_id)
"""


def pagerank(sg: SubjectGraph) -> np.ndarray:
    g = sg.structure()  # the edge weights come from the arrays, not as igraph attributes
    if g.vcount() == 0:
        return np.zeros(0)
    w = sg.edges.attrs["weight"].tolist() if g.ecount() else None
    return np.asarray(g.pagerank(weights=w, directed=True), dtype=np.float64)


def compute_features(con: duckdb.DuckDBPyConnection, sg: SubjectGraph, scores_table: str = "subject_scores") -> None:
    """Write ``network_features`` (``scores_table`` gives ``flagged`` per subject)."""
    pr = pa.table({"subject_id": pa.array(sg.names, pa.string()), "pagerank": pa.array(pagerank(sg), pa.float64())})
    con.register("nw_pagerank_arrow", pr)
    con.execute("CREATE OR REPLACE TEMP TABLE nw_pagerank AS SELECT * FROM nw_pagerank_arrow")
    con.unregister("nw_pagerank_arrow")
    from moneytrail.store import table_exists

    scores = scores_table if table_exists(con, scores_table) else "(SELECT NULL::VARCHAR AS subject_id, 0 AS flagged)"
    con.execute(FEATURES_SQL.format(scores=scores))
