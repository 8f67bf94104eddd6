"""Alembic environment: migrations run on the connection `OpsStore.upgrade` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from moneytrail.opstore.models import Base

target_metadata = Base.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # `alembic` run by hand with sqlalchemy.url set
        engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    context.run_migrations()


run_migrations()
