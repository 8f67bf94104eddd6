"""Fixtures: two partner units with keys, a shared secret and registries; and a
small synthetic world split between two countries, each resolved on its own."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from moneytrail.share.keys import (
    Identity,
    generate_identity,
    import_secret,
    load_secret,
    new_secret,
)
from moneytrail.share.partners import Registry

SECRET_ID = "test-2026-q1"


@dataclass
class Unit:
    name: str
    home: Path
    identity: Identity
    registry: Registry


@pytest.fixture
def units(tmp_path: Path) -> tuple[Unit, Unit]:
    """FIU-A and FIU-B: each has a signing key, both hold one shared secret, and each
    has registered the other."""
    a_home, b_home = tmp_path / "a", tmp_path / "b"
    a = generate_identity("FIU-A", a_home)
    b = generate_identity("FIU-B", b_home)
    new_secret(SECRET_ID, a_home)
    import_secret(SECRET_ID, base64.b64encode(load_secret(SECRET_ID, a_home)).decode(), b_home)
    ra, rb = Registry(a_home / "partners.json"), Registry(b_home / "partners.json")
    ra.add("FIU-B", b.public_key, SECRET_ID, "fiu-b@example.org")
    rb.add("FIU-A", a.public_key, SECRET_ID, "fiu-a@example.org")
    return Unit("FIU-A", a_home, a, ra), Unit("FIU-B", b_home, b, rb)


@dataclass
class Countries:
    world: Path
    stores: dict[str, Path]


@pytest.fixture(scope="session")
def countries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Countries]:
    """A world at scale 0.1 split by provider into countries A and B (see scenario.py)."""
    from moneytrail.share.scenario import DEFAULT_SPLIT, build_country
    from moneytrail.synth.world import generate

    root = tmp_path_factory.mktemp("share-world")
    generate(root / "w", scale=0.1, seed=11)
    stores = {side: build_country(root / "w" / "bundle", providers, root / f"{side}.duckdb")
              for side, providers in DEFAULT_SPLIT.items()}
    yield Countries(root / "w", stores)
