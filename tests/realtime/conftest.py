"""A small synthetic world cut in two: the batch run on the first part, the rest to stream.

The world (scale 0.2) is cut so that its last payments arrive after the cut;
the earlier part goes through the batch stages (ingest, resolve, referrals,
score) into a warehouse the real-time engine warms from. A tiny FastAPI app
with a bearer token of its own serves the router (the web application mounts
it with the real authentication).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.testclient import TestClient

from moneytrail.ingest import ingest_bundle
from moneytrail.realtime.api import make_router
from moneytrail.realtime.engine import Engine
from moneytrail.realtime.feed import FeedItem, read_bundle, split_bundle
from moneytrail.referrals import run_referrals
from moneytrail.resolve import resolve
from moneytrail.resolve.config import ResolveSettings
from moneytrail.scoring import score
from moneytrail.store import Warehouse
from moneytrail.synth.world import generate

TOKEN = "test-token-0123456789"
STREAMED = 600  # payments after the cut


_BEARER = HTTPBearer(auto_error=False)


class BearerToken:
    """A stand-in for the web application's authentication: one fixed bearer token."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def __call__(self, cred: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> str:
        if cred is None or cred.credentials != self.token:
            raise HTTPException(401, "a valid bearer token is needed")
        return "tester"


def make_app(engine: Engine, token: str = TOKEN) -> FastAPI:
    """The router behind a bearer token, mounted as the web application mounts it."""
    app = FastAPI()
    app.include_router(make_router(lambda: engine, BearerToken(token)), prefix="/api/v1")
    return app


@dataclass
class World:
    root: Path
    bundle: Path  # the whole world
    warm_bundle: Path  # payments before the cut (and the referrals)
    warehouse: Path  # the batch run on warm_bundle
    later: list[FeedItem]  # payments after the cut, oldest first


def batch_warehouse(bundle: Path, path: Path) -> Path:
    """The batch stages that scoring needs, on a bundle (the network stage is not part of scoring)."""
    with Warehouse(path) as wh:
        ingest_bundle(wh, bundle)
        resolve(wh.con, ResolveSettings(em_max_pairs=2e5, u_max_pairs=5e4))  # small samples: quick
        run_referrals(wh.con)
        score(wh.con)
    return path


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("rt")
    generate(root / "w", scale=0.2, seed=7)
    items = [i for i in read_bundle(root / "w" / "bundle")[0] if i.ts is not None]
    cut = items[-STREAMED].ts
    assert cut is not None
    warm, later = split_bundle(root / "w" / "bundle", root / "warm", cut)
    warehouse = batch_warehouse(warm, root / "warm.duckdb")
    yield World(root, root / "w" / "bundle", warm, warehouse, later)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def client(world: World) -> Iterator[tuple[TestClient, Engine]]:
    """A fresh engine (warmed in process) behind the test app."""
    engine = Engine.from_warehouse(world.warehouse)
    with TestClient(make_app(engine)) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        yield c, engine
