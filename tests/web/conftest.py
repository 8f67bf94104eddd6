"""The API tests' world: one small scored synthetic world per session, users of every role
and cases in an SQLite operational store, and the application on it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

API = "/api/v1"
PASSWORD = "correct horse battery"
ROLE_USERS = {"analyst": "ana", "supervisor": "sue", "liaison": "lia", "admin": "adm"}


@dataclass
class ApiWorld:
    warehouse: Path
    ops_url: str
    app: FastAPI


def build_world(root: Path, scale: float = 0.2, seed: int = 11) -> Path:
    """A synthetic world run through the whole pipeline; returns its warehouse."""
    from moneytrail.pipeline.run import run_batch
    from moneytrail.synth.world import generate

    generate(root / "world", scale=scale, seed=seed)
    run_batch(root / "world" / "bundle", root / "results")
    return root / "results" / "warehouse.duckdb"


def seed_ops(ops_url: str, warehouse: Path) -> None:
    """One user per role, and the run's alerts as cases."""
    from moneytrail.cases import sync_from_run
    from moneytrail.opstore import OpsStore
    from moneytrail.opstore.users import create_user

    store = OpsStore(ops_url)
    with store.session() as s:
        for role, name in ROLE_USERS.items():
            create_user(s, name, PASSWORD, role)
    sync_from_run(store, warehouse, ROLE_USERS["supervisor"])
    store.dispose()


@pytest.fixture(scope="session")
def api_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # $MONEYTRAIL_TEST_WAREHOUSE: an already scored warehouse to reuse while working on the tests
    given = os.environ.get("MONEYTRAIL_TEST_WAREHOUSE")
    if given:
        return Path(given)
    return build_world(tmp_path_factory.mktemp("api-world"))


@pytest.fixture(scope="session")
def api_world(api_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> ApiWorld:
    from moneytrail.web.app import create_app

    ops_url = f"sqlite:///{tmp_path_factory.mktemp('api-ops') / 'ops.db'}"
    seed_ops(ops_url, api_warehouse)
    app = create_app(api_warehouse, ops_url, secret_key="test-secret-" + "x" * 32)
    return ApiWorld(api_warehouse, ops_url, app)


def login(app: FastAPI, username: str) -> TestClient:
    """A client signed in through POST /auth/login, sending the CSRF token on every request."""
    client = TestClient(app)
    r = client.post(f"{API}/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


@pytest.fixture(scope="session")
def clients(api_world: ApiWorld) -> dict[str, TestClient]:
    """A signed-in client per role."""
    return {role: login(api_world.app, name) for role, name in ROLE_USERS.items()}


@pytest.fixture
def as_role(clients: dict[str, TestClient]) -> Callable[[str], TestClient]:
    return lambda role: clients[role]


@pytest.fixture
def anonymous(api_world: ApiWorld) -> Iterator[TestClient]:
    with TestClient(api_world.app) as c:
        yield c
