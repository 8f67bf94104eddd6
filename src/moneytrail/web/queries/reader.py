"""The warehouse as the web server reads it: read-only, shared by every request.

DuckDB allows one writer or many readers per file. The server attaches the
warehouse READ_ONLY to an in-memory database and puts a view per table in it,
so that (a) the stage packages' functions, which name tables unqualified and
sometimes run ``CREATE TABLE IF NOT EXISTS`` or temporary tables, work
unchanged, and (b) the server's read cache (the ``web_*`` tables of
``facts.py``) and its in-memory tables are seen by every cursor. Each request
takes its own cursor.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from moneytrail.errors import UserError


def jsonable(value: Any) -> Any:
    """DuckDB values as JSON-ready Python: decimals as floats, NaN as None."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """The result as a list of dicts keyed by column name."""
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [{c: jsonable(v) for c, v in zip(cols, row, strict=True)} for row in cur.fetchall()]


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> dict[str, Any] | None:
    got = rows(con, sql, params)
    return got[0] if got else None


class WarehouseReader:
    """One read-only view of a warehouse file for the lifetime of the server process."""

    def __init__(self, path: Path, *, threads: int | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"no warehouse at {self.path}; run `moneytrail run BUNDLE --out OUT` first or pass --store")
        self.con = duckdb.connect(":memory:")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        quoted = str(self.path).replace("'", "''")
        try:
            self.con.execute(f"ATTACH '{quoted}' AS wh (READ_ONLY)")
        except duckdb.Error as exc:
            raise UserError(
                f"cannot open the warehouse {self.path} read-only: {exc}. Is a batch run still writing it?"
            ) from exc
        self.tables: set[str] = set()
        for (name,) in self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'wh'"
        ).fetchall():
            self.con.execute(f'CREATE VIEW main."{name}" AS SELECT * FROM wh.main."{name}"')
            self.tables.add(name)
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}
        from moneytrail.web.queries.facts import attach_cache

        attach_cache(self.con, self.path)

    def has(self, *tables: str) -> bool:
        return all(t in self.tables for t in tables)

    def require(self, *tables: str) -> None:
        missing = [t for t in tables if t not in self.tables]
        if missing:
            raise UserError(
                f"the warehouse {self.path} has no {', '.join(missing)}; run the whole pipeline "
                "(`moneytrail run BUNDLE --out OUT`) into it first"
            )

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = self.con.cursor()
        cur.execute("SET TimeZone = 'UTC'")
        return cur

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def cached(self, key: str, build: Any) -> Any:
        """Compute ``build()`` once per process (thread-safe), e.g. the subject graph."""
        if key in self._cache:
            return self._cache[key]
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def close(self) -> None:
        self.con.close()


def scalar_int(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    got = con.execute(sql, params or []).fetchall()
    return int(got[0][0] or 0) if got else 0
