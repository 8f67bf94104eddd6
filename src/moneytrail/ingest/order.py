"""Statements whose row order nothing reads, run without keeping it.

With `preserve_insertion_order` on (the warehouse's setting), DuckDB keeps the
rows of a statement in the order its source gave them. A query whose pipeline
has a join cannot give them in order from parallel threads, so DuckDB runs it on
one thread: its result collector, or a plain `INSERT` (a `Batch Insert`, the
parallel one that keeps the order, needs a source without joins). The inserts
into `transactions` and `parties` and the scratch queries of a batch (`checked`,
the values to normalise) all join, and none has an order anyone reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from moneytrail.store import scalar


@contextmanager
def unordered(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """`preserve_insertion_order` off for the block, then as it was: DuckDB may use every thread."""
    before = bool(scalar(con, "SELECT current_setting('preserve_insertion_order')"))
    if not before:
        yield
        return
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute("SET preserve_insertion_order = true")
