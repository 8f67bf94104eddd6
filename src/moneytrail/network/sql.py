"""Small DuckDB helpers that read every result to its end (DuckDB 2 wants that before ``register``)."""

from __future__ import annotations

import duckdb
import numpy as np

from moneytrail.store import table_exists


def fetch_numpy(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, np.ndarray]:
    """Columns of a query as numpy arrays, with the result read to its end (DuckDB 2 wants that)."""
    cur = con.execute(sql)
    out = cur.fetchnumpy()
    cur.fetchall()
    return {k: np.asarray(v) for k, v in out.items()}


__all__ = ["fetch_numpy", "table_exists"]
