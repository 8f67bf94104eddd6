"""What the served warehouse holds, and the batch run (`run.json`) that wrote it."""

from __future__ import annotations

import json
from typing import Any

import duckdb

from moneytrail.web.queries.reader import WarehouseReader, rows, scalar_int


def current_run(reader: WarehouseReader, con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    def count(table: str, where: str = "") -> int:
        return scalar_int(con, f"SELECT count(*) FROM {table} {where}") if reader.has(table) else 0

    out: dict[str, Any] = {"warehouse": str(reader.path), "bundle": None, "model": None, "stage_seconds": {}}
    run_json = reader.path.parent / "run.json"
    if run_json.is_file():
        try:
            meta = json.loads(run_json.read_text("utf-8"))
            out |= {"bundle": meta.get("bundle"), "model": meta.get("model"),
                    "stage_seconds": {k: float(v) for k, v in (meta.get("stage_seconds") or {}).items()}}
        except (ValueError, TypeError, AttributeError):
            pass  # a run.json from another version: the counts below still hold
    span = con.execute("SELECT min(ts_utc), max(ts_utc) FROM transactions").fetchall()[0] \
        if reader.has("transactions") else (None, None)
    out |= {
        "transactions": count("transactions"),
        "subjects": count("subject_scores"),
        "flagged_subjects": count("subject_scores", "WHERE flagged = 1"),
        "flagged_transactions": count("transaction_scores", "WHERE flagged = 1"),
        "referrals": count("referrals"),
        "quarantined": count("quarantine"),
        "first_payment": span[0],
        "last_payment": span[1],
        "files": rows(con, """SELECT path, provider, format, records, quarantined, ingested_at
                              FROM ingested_files ORDER BY ingested_at, path""") if reader.has("ingested_files") else [],
    }
    return out
