"""The operational store: users, cases, audit trail (SQLAlchemy 2 + Alembic).

The warehouse (DuckDB) holds the data analysed in batch; this store holds what
people do with the results. SQLite by default, PostgreSQL for a shared
deployment (``MONEYTRAIL_DATABASE_URL``).
"""

from moneytrail.opstore.db import OpsStore, database_url

__all__ = ["OpsStore", "database_url"]
