"""Stand-in for entity resolution in tests and dev: subjects by a simple exact key.

From-side and to-side parties get ``provider:account`` when the party has an
account, else ``name_norm|country``. Not product code.
"""

from __future__ import annotations

import duckdb


def exact_subjects(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE OR REPLACE TABLE subject_records AS
        SELECT CASE WHEN account IS NOT NULL THEN provider || ':' || account
                    ELSE coalesce(name_norm, '?') || '|' || coalesce(country, '') END AS subject_id,
               provider, record_id, party
        FROM parties
    """)
