"""Shared fixtures: a fresh warehouse per test, and small hand-written bundles."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import settings

from moneytrail.opstore import OpsStore
from moneytrail.store import Warehouse

# CI explores the same examples every run, so a red build always means a change broke
# something; locally hypothesis keeps exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REMITTANCE_HEADER = [
    "transfer_id", "created_at", "sender_id", "sender_name", "sender_dob", "sender_phone",
    "sender_email", "sender_address", "sender_city", "sender_country", "sender_id_type",
    "sender_id_number", "receiver_name", "receiver_phone", "receiver_city", "receiver_country",
    "send_amount", "send_currency", "payout_amount", "payout_currency", "payout_method",
    "payout_agent_id", "paid_out_at", "channel", "ip_address", "device_id", "purpose",
]


def remittance_row(**overrides: str) -> dict[str, str]:
    row = {
        "transfer_id": "T1",
        "created_at": "2026-03-01T02:14:09+08:00",
        "sender_id": "C1",
        "sender_name": "SMITH John",
        "sender_dob": "1971-05-02",
        "sender_phone": "(202) 555-0143",
        "sender_email": "JS@Example.com",
        "sender_address": "1 Main St",
        "sender_city": "Springfield",
        "sender_country": "US",
        "sender_id_type": "passport",
        "sender_id_number": "X123",
        "receiver_name": "Maria Santos",
        "receiver_phone": "0917 555 0101",
        "receiver_city": "Cebu",
        "receiver_country": "PH",
        "send_amount": "35.00",
        "send_currency": "USD",
        "payout_amount": "1960.00",
        "payout_currency": "PHP",
        "payout_method": "cash",
        "payout_agent_id": "AG1",
        "paid_out_at": "2026-03-01T03:00:00+08:00",
        "channel": "web",
        "ip_address": "203.0.113.7",
        "device_id": "D1",
        "purpose": "school fees",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = header or list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with Warehouse(tmp_path / "store.duckdb") as wh:
        yield wh


# --- the operational store, on SQLite and on a real PostgreSQL -------------------------

POSTGRES_ADMIN_URL = os.environ.get("MONEYTRAIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_up() -> bool:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def ensure_postgres() -> str:
    """PostgreSQL runs on every machine here; start it if it is down (as CI may find it)."""
    import subprocess
    import time

    if not _postgres_up():
        versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
        if versions:
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
                check=False, capture_output=True,
            )
        for _ in range(30):
            if _postgres_up():
                break
            time.sleep(1)
        else:
            raise RuntimeError(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} and could not be started")
    return POSTGRES_ADMIN_URL


@contextmanager
def fresh_postgres_database(prefix: str = "mt_test") -> Iterator[str]:
    """A fresh, empty PostgreSQL database (its URL); dropped afterwards."""
    import uuid

    import psycopg

    admin = ensure_postgres()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def ops_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every operational-store test runs against both databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ops.db'}"
    return str(request.getfixturevalue("postgres_database"))


@pytest.fixture
def ops_store(ops_url: str) -> Iterator[OpsStore]:

    store = OpsStore(ops_url)
    yield store
    store.dispose()
