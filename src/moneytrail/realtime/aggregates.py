"""Running SQL aggregates: the state a GROUP BY keeps, one row at a time.

Each accumulator is a small JSON value (lists and numbers), so a subject's
state can live in a Python dict or in Redis alike. ``add`` folds one row in,
``result`` gives what DuckDB's aggregate would return over the rows folded so
far: ``count`` 0 on no rows, every other aggregate NULL; ``corr`` NaN on fewer
than two rows or a constant column (DuckDB's answer), ``stddev_samp`` NULL
below two rows. Co-moments are updated with Welford's method, so large
epoch-second values do not cancel out.
"""

from __future__ import annotations

import math
from typing import Any

KINDS = ("count_star", "count", "count_distinct", "sum", "avg", "max", "min", "corr", "stddev_samp", "any_value")


def empty(kind: str) -> Any:
    """The state of an aggregate over no rows."""
    if kind in ("count_star", "count"):
        return 0
    if kind == "count_distinct":
        return []
    if kind == "avg":
        return [0.0, 0]
    if kind == "corr":
        return [0, 0.0, 0.0, 0.0, 0.0, 0.0]
    if kind == "stddev_samp":
        return [0, 0.0, 0.0]
    if kind in ("sum", "max", "min", "any_value"):
        return None
    raise ValueError(f"unknown aggregate {kind}")


def add(kind: str, state: Any, x: Any = None, y: Any = None) -> Any:
    """Fold one row's argument(s) into the state; returns the new state."""
    if kind == "count_star":
        return state + 1
    if x is None and kind != "corr":
        return state
    if kind == "count":
        return state + 1
    if kind == "count_distinct":
        if x not in state:
            state.append(x)
        return state
    if kind == "sum":
        return x if state is None else state + x
    if kind == "avg":
        return [state[0] + x, state[1] + 1]
    if kind == "max":
        return x if state is None or x > state else state
    if kind == "min":
        return x if state is None or x < state else state
    if kind == "any_value":
        return x if state is None else state
    if kind == "stddev_samp":
        n, mean, m2 = state
        n += 1
        delta = x - mean
        mean += delta / n
        return [n, mean, m2 + delta * (x - mean)]
    if kind == "corr":
        if x is None or y is None:
            return state
        n, mx, my, m2x, m2y, cxy = state
        n += 1
        dx = x - mx
        mx += dx / n
        dy = y - my
        my += dy / n
        return [n, mx, my, m2x + dx * (x - mx), m2y + dy * (y - my), cxy + dx * (y - my)]
    raise ValueError(f"unknown aggregate {kind}")


def result(kind: str, state: Any) -> Any:
    """The aggregate's value over the rows folded so far."""
    if kind in ("count_star", "count"):
        return state
    if kind == "count_distinct":
        return len(state)
    if kind == "avg":
        return state[0] / state[1] if state[1] else None
    if kind == "stddev_samp":
        n, _, m2 = state
        return math.sqrt(max(m2, 0.0) / (n - 1)) if n >= 2 else None
    if kind == "corr":
        n, _, _, m2x, m2y, cxy = state
        if n == 0:
            return None
        denom = math.sqrt(m2x * m2y)
        return cxy / denom if denom > 0 else math.nan
    return state
