"""The four contract files of a batch run, written exactly as the contract says."""

from __future__ import annotations

from pathlib import Path

import duckdb

OUTPUT_QUERIES = {
    "transaction_scores.csv": """
        SELECT t.provider, t.record_id,
               round(coalesce(s.score, 0), 6) AS score,
               coalesce(s.flagged, 0) AS flagged,
               coalesce(s.reasons, '') AS reasons
        FROM transactions t LEFT JOIN transaction_scores s USING (provider, record_id)
        ORDER BY t.provider, t.record_id
    """,
    "subjects.csv": """
        SELECT subject_id, role, round(score, 6) AS score, flagged, coalesce(reasons, '') AS reasons
        FROM subject_scores ORDER BY subject_id
    """,
    "subject_records.csv": """
        SELECT subject_id, provider, record_id, party
        FROM subject_records ORDER BY subject_id, provider, record_id, party
    """,
    "quarantine.csv": """
        SELECT provider, file, location, reason FROM quarantine ORDER BY provider, file, location
    """,
}


def write_outputs(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, query in OUTPUT_QUERIES.items():
        path = out / name
        tmp = path.with_suffix(".csv.tmp")
        # COPY answers with the rows it wrote: no second run of the query to count them
        row = con.execute(f"COPY ({query}) TO '{tmp}' (HEADER, DELIMITER ',', QUOTE '\"')").fetchone()
        tmp.replace(path)
        counts[name] = int(row[0]) if row else 0
    return counts
