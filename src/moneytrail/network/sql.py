"""Small DuckDB helpers that read every result to its end (DuckDB 2 wants that before ``register``)."""

from __future__ import annotations

import duckdb
import numpy as np


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether a table or view exists (the result read to its end, so registering after it works)."""
    rows = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchall()
    return bool(rows and rows[0][0])


def fetch_numpy(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, np.ndarray]:
    """Columns of a query as numpy arrays, with the result read to its end (DuckDB 2 wants that)."""
    cur = con.execute(sql)
    out = cur.fetchnumpy()
    cur.fetchall()
    return {k: np.asarray(v) for k, v in out.items()}


__all__ = ["fetch_numpy", "has_table"]
