"""The warehouse: one DuckDB file holding the canonical tables.

Ingestion writes each file inside one transaction, so a run killed mid-way
leaves the store as it was before that file, and a rerun finishes the job.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import platformdirs

from moneytrail.errors import UserError
from moneytrail.schema import TABLES


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> Any:
    """First column of the first row, reading the result to its end (DuckDB 2 wants that)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def table_exists(con: duckdb.DuckDBPyConnection, name: str, *, temporary: bool = True) -> bool:
    """Whether a table or view of that name exists (temporary ones too, unless told not to)."""
    sql = "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
    if not temporary:
        sql += " AND table_catalog <> 'temp'"
    return bool(scalar(con, sql, [name]))


def drop_temp_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Drop the connection's temporary tables and views, returning their names.

    A stage's scratch tables (resolve's candidate pairs, the indicators' ``mt_txi``) otherwise
    live on through every later stage of a batch run: 1.3 GiB at 1 M transactions, held in
    memory or spilled to disk when a later stage needs the room.
    """
    rows = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_catalog = 'temp'"
    ).fetchall()
    for name, kind in sorted(rows, key=lambda r: r[1] != "VIEW"):  # views first: they may read the tables
        con.execute(f'DROP {"VIEW" if kind == "VIEW" else "TABLE"} IF EXISTS temp.main."{name}"')
    return sorted(name for name, _ in rows)


def default_store_path() -> Path:
    env = os.environ.get("MONEYTRAIL_STORE")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("moneytrail")) / "warehouse.duckdb"


WAREHOUSE_MEMORY = "45%"  # of the machine's memory; MONEYTRAIL_MEMORY_LIMIT overrides (e.g. "8GB")


def temp_directory(con: duckdb.DuckDBPyConnection) -> Path:
    """Where DuckDB spills what does not fit its memory limit (absolute)."""
    return Path(str(scalar(con, "SELECT current_setting('temp_directory')"))).resolve()


def open_failure(path: Path, exc: Exception) -> str:
    """Why a store did not open, and what to do: a stale write-ahead log needs other advice than a lock."""
    wal = path.with_name(path.name + ".wal")
    if "WAL" in str(exc) and wal.exists():
        return (
            f"cannot open the store {path}: its write-ahead log {wal} belongs to another file "
            "(was the store copied or replaced after a process was killed?). Move the .wal "
            "aside to open the store as last saved, or restore both files together"
        )
    return f"cannot open the store {path}: {exc}. Is another moneytrail process using it?"


class Warehouse:
    """A DuckDB warehouse with the canonical tables created."""

    def __init__(self, path: str | Path | None = None, *, memory_limit: str | None = None):
        self.path = Path(path) if path is not None else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            raise UserError(open_failure(self.path, exc)) from exc
        self.con.execute("SET TimeZone = 'UTC'")
        # DuckDB takes 80% of the machine by default, and so would Splink's own DuckDB
        # beside it: a 5-million-transaction run peaked at 20.7 GiB of 24. The warehouse
        # keeps to WAREHOUSE_MEMORY and spills to disk beyond it.
        limit = memory_limit or os.environ.get("MONEYTRAIL_MEMORY_LIMIT") or WAREHOUSE_MEMORY
        try:
            self.con.execute("SET memory_limit = '" + limit.replace("'", "''") + "'")
        except duckdb.Error as exc:
            self.con.close()
            raise UserError(
                f"memory limit {limit!r} (MONEYTRAIL_MEMORY_LIMIT) is not one DuckDB reads; "
                "give a size such as 8GB or a share of the machine such as 40%"
            ) from exc
        self.con.execute("SET preserve_insertion_order = true")
        temp = os.environ.get("MONEYTRAIL_TEMP_DIR")
        if temp:  # spill somewhere other than beside the store (`<store>.tmp`, DuckDB's default)
            Path(temp).mkdir(parents=True, exist_ok=True)
            self.con.execute("SET temp_directory = '" + temp.replace("'", "''") + "'")
        # Checkpoint less often than after every file: commits stay cheap, and the
        # write-ahead log still replays after a crash.
        self.con.execute("SET checkpoint_threshold = '256MB'")
        self.create_tables()

    def create_tables(self) -> None:
        from moneytrail.ingest.reference_tables import install_reference

        for table in TABLES.values():
            self.con.execute(table.ddl())
        install_reference(self.con)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def count(self, table: str) -> int:
        return int(scalar(self.con, f"SELECT count(*) FROM {table}") or 0)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
