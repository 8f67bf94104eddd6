"""Where the operational store lives, and opening it at the current schema."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from moneytrail.errors import UserError

MIGRATIONS = Path(__file__).with_name("migrations")


def database_url(url: str | None = None) -> str:
    """``url``, else ``$MONEYTRAIL_DATABASE_URL``, else an SQLite file in the data directory."""
    url = url or os.environ.get("MONEYTRAIL_DATABASE_URL")
    if url:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url
    path = Path(platformdirs.user_data_dir("moneytrail")) / "moneytrail.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cur = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class OpsStore:
    """An engine on the operational database, migrated to the latest schema when opened."""

    def __init__(self, url: str | None = None, *, migrate: bool = True):
        self.url = database_url(url)
        try:
            self.engine: Engine = create_engine(self.url, pool_pre_ping=True)
        except Exception as exc:  # a malformed URL or a missing driver
            raise UserError(f"cannot use database URL {self.url!r}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.upgrade()

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations (idempotent)."""
        from alembic import command
        from alembic.config import Config
        from sqlalchemy.exc import OperationalError

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as connection:
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, revision)
        except OperationalError as exc:
            raise UserError(
                f"cannot open the operational store at {self.safe_url}: {exc.orig}; "
                "check MONEYTRAIL_DATABASE_URL and that the database server is running"
            ) from exc

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        with self._sessions() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()
