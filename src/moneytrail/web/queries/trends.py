"""The trends dashboard's data: `moneytrail.trends.build_trends` as JSON (aggregates only)."""

from __future__ import annotations

import math
from typing import Any

import duckdb

from moneytrail.trends import build_trends
from moneytrail.web.queries.reader import WarehouseReader


def _clean(v: Any) -> Any:
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return _clean(v.item())
    return v


def _records(frame: Any) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def trends_data(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, months: int) -> dict[str, Any]:
    """Months, totals, the breakdown per dimension and the rising categories; cached per `months`."""
    def build() -> dict[str, Any]:
        report = build_trends(con, months)
        return {
            "months": [m.isoformat() for m in report.months],
            "totals": _records(report.totals),
            "breakdown": _records(report.breakdown),
            "changes": [{k: _clean(v) for k, v in c.row().items()} for c in report.result.changes],
            "note": report.result.note,
        }
    return reader.cached(f"trends:{months}", build)
