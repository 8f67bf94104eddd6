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

Kin ties: relatives named as receivers carry the family head's surname and live
in the head's town, yet their names are not compatible ("edgardo castro",
"rhea d castro"). Risky receivers paid in one city of one country who share a
name word of four letters or more are tied, unless more than ``MAX_KIN`` of
them hold that word there (a common surname or a given name in a big city tells
no family apart). On seeds 303 / 404, 35 of 54 and 35 of 44 kin ties join two
members of one true network. ``expand`` walks them as one hop; communities keep
kin together when they split a Leiden community (``communities.py``).

Tables written: ``network_name_ties(a, b)`` and ``network_kin_ties(a, b)``, one row per
tied pair (``a < b``).
"""

from __future__ import annotations

from collections.abc import Callable

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

# the risky receivers both kinds of tie pair up (a format argument of both queries)
RISKY_SQL = """SELECT subject_id FROM network_roles
    WHERE greatest(p_facilitator, p_intermediary) >= {risk!r} OR (flagged = 1 AND role <> 'consumer')"""

CANDIDATES_SQL = """
WITH r AS ({risky}), nm AS (
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
    rows = con.execute(
        CANDIDATES_SQL.format(risky=RISKY_SQL.format(risk=NAME_RISK), min_word=MIN_WORD, max_holders=MAX_HOLDERS)
    ).fetchall()
    return [(a, b) for a, b, na, nb in rows if all(names_compatible(x, y) for x in na for y in nb)]


def _write_pairs(con: duckdb.DuckDBPyConnection, table: str, ties: list[tuple[str, str]]) -> int:
    tbl = pa.table(
        {
            "a": pa.array([t[0] for t in ties], pa.string()),
            "b": pa.array([t[1] for t in ties], pa.string()),
        }
    )
    con.register("nw_ties_arrow", tbl)
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT a, b FROM nw_ties_arrow")
    con.unregister("nw_ties_arrow")
    return len(ties)


def _vertices(
    con: duckdb.DuckDBPyConnection,
    sg: SubjectGraph,
    table: str,
    find: Callable[[duckdb.DuckDBPyConnection], list[tuple[str, str]]],
) -> np.ndarray:
    if table_exists(con, table):
        ties = [(r[0], r[1]) for r in con.execute(f"SELECT a, b FROM {table}").fetchall()]
    else:
        ties = find(con)
    idx = sg.index
    out = [(idx[a], idx[b]) for a, b in ties if a in idx and b in idx]
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


def write_name_ties(con: duckdb.DuckDBPyConnection) -> int:
    """(Re)write ``network_name_ties`` and ``network_kin_ties``; returns the number of name ties."""
    _write_pairs(con, "network_kin_ties", find_kin_ties(con))
    return _write_pairs(con, "network_name_ties", find_name_ties(con))


def name_tie_vertices(con: duckdb.DuckDBPyConnection, sg: SubjectGraph) -> np.ndarray:
    """The name ties as (n, 2) vertex ids of ``sg``: from ``network_name_ties``, else computed now."""
    return _vertices(con, sg, "network_name_ties", find_name_ties)


def kin_tie_vertices(con: duckdb.DuckDBPyConnection, sg: SubjectGraph) -> np.ndarray:
    """The kin ties as (n, 2) vertex ids of ``sg``: from ``network_kin_ties``, else computed now."""
    return _vertices(con, sg, "network_kin_ties", find_kin_ties)


# A (country, city, word) held by more than this many risky receivers ties nobody (kin ties).
MAX_KIN = 3

KIN_SQL = """
WITH r AS ({risky}), nm AS (
    SELECT DISTINCT sr.subject_id, p.country, upper(trim(p.city)) AS city, p.name_norm
    FROM subject_records sr JOIN r USING (subject_id)
    JOIN parties p ON p.provider = sr.provider AND p.record_id = sr.record_id AND p.party = sr.party
    WHERE p.side = 'to' AND p.name_norm IS NOT NULL AND p.country IS NOT NULL
      AND p.city IS NOT NULL AND trim(p.city) <> ''
), w AS (
    SELECT DISTINCT subject_id, country, city, unnest(string_split(name_norm, ' ')) AS word FROM nm
), kin AS (
    SELECT * FROM w WHERE length(word) >= {min_word}
    QUALIFY count(*) OVER (PARTITION BY country, city, word) BETWEEN 2 AND {max_kin}
)
SELECT DISTINCT a.subject_id AS a, b.subject_id AS b
FROM kin a JOIN kin b ON a.country = b.country AND a.city = b.city AND a.word = b.word
     AND a.subject_id < b.subject_id
ORDER BY a, b
"""


def find_kin_ties(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Pairs of risky receivers that may be one family (needs ``network_roles``; [] without it)."""
    if not table_exists(con, "network_roles"):
        return []
    sql = KIN_SQL.format(risky=RISKY_SQL.format(risk=NAME_RISK), min_word=MIN_WORD, max_kin=MAX_KIN)
    return [(a, b) for a, b in con.execute(sql).fetchall()]
