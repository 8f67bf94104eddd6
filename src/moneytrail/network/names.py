"""Name ties: receivers that may be one person entity resolution kept apart.

Entity resolution splits a facilitator into 1.4 to 1.6 subjects on the synthetic
worlds: records that give a name only ("m salazar", "salazar mark") stay apart
from the rest of the person because nothing but the name links them, and a
consumer who paid such a fragment leads nowhere. An investigator would look at
the names: among the receivers with some risk in one country, two subjects
whose every name is compatible with every name of the other (``names_compatible``
of entity resolution: equal words, initials, prefixes, one-letter typos) and
who share a word of four letters or more are tied. ``expand`` walks these ties
as if they were the same person (no hop); communities do not use them (on seeds
303 / 404 they merged networks more than they joined fragments).

Table written: ``network_name_ties(a, b)``, one row per tied pair (``a < b``).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from moneytrail.network.graph import SubjectGraph
from moneytrail.store import table_exists

# Receivers whose facilitator or intermediary probability reaches this (or flagged ones) take part:
# a legitimate population is full of namesakes.
NAME_RISK = 0.3
# Shortest shared word: surnames, not particles ("de", "dela") nor initials.
MIN_WORD = 4
# A word that more risky receivers of one country hold than this pairs nobody: it tells
# no one apart, and pairing its holders grows with their square (at 5 million
# transactions "santos" alone would make millions of pairs).
MAX_HOLDERS = 50

CANDIDATES_SQL = """
WITH r AS (
    SELECT subject_id FROM network_roles
    WHERE greatest(p_facilitator, p_intermediary) >= {risk!r} OR (flagged = 1 AND role <> 'consumer')
), nm AS (
    SELECT DISTINCT sr.subject_id, p.country, p.name_norm
    FROM subject_records sr JOIN r USING (subject_id)
    JOIN parties p ON p.provider = sr.provider AND p.record_id = sr.record_id AND p.party = sr.party
    WHERE p.side = 'to' AND p.name_norm IS NOT NULL AND p.country IS NOT NULL
), w AS (
    SELECT DISTINCT subject_id, country, unnest(string_split(name_norm, ' ')) AS word FROM nm
), rare AS (
    SELECT * FROM w WHERE length(word) >= {min_word}
    QUALIFY count(*) OVER (PARTITION BY country, word) <= {max_holders}
), pairs AS (
    SELECT DISTINCT a.subject_id AS a, b.subject_id AS b, a.country
    FROM rare a JOIN rare b ON a.word = b.word AND a.country = b.country AND a.subject_id < b.subject_id
)
SELECT p.a, p.b, list(DISTINCT x.name_norm) AS names_a, list(DISTINCT y.name_norm) AS names_b
FROM pairs p
JOIN nm x ON x.subject_id = p.a AND x.country = p.country
JOIN nm y ON y.subject_id = p.b AND y.country = p.country
GROUP BY ALL
"""


def find_name_ties(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The tied pairs of subject ids (needs ``network_roles``; [] without it)."""
    from moneytrail.resolve.names import names_compatible

    if not table_exists(con, "network_roles"):
        return []
    rows = con.execute(CANDIDATES_SQL.format(risk=NAME_RISK, min_word=MIN_WORD, max_holders=MAX_HOLDERS)).fetchall()
    return [(a, b) for a, b, na, nb in rows if all(names_compatible(x, y) for x in na for y in nb)]


def write_name_ties(con: duckdb.DuckDBPyConnection) -> int:
    """(Re)write ``network_name_ties``; returns the number of ties."""
    ties = find_name_ties(con)
    tbl = pa.table({"a": pa.array([t[0] for t in ties], pa.string()), "b": pa.array([t[1] for t in ties], pa.string())})
    con.register("nw_name_ties_arrow", tbl)
    con.execute("CREATE OR REPLACE TABLE network_name_ties AS SELECT a, b FROM nw_name_ties_arrow")
    con.unregister("nw_name_ties_arrow")
    return len(ties)


def name_tie_vertices(con: duckdb.DuckDBPyConnection, sg: SubjectGraph) -> np.ndarray:
    """The ties as (n, 2) vertex ids of ``sg``: from ``network_name_ties``, else computed now."""
    if table_exists(con, "network_name_ties"):
        ties = [(r[0], r[1]) for r in con.execute("SELECT a, b FROM network_name_ties").fetchall()]
    else:
        ties = find_name_ties(con)
    idx = sg.index
    out = [(idx[a], idx[b]) for a, b in ties if a in idx and b in idx]
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)
