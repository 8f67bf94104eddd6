from __future__ import annotations

from pathlib import Path

import pytest

from moneytrail.synth import WorldResult, generate


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> WorldResult:
    return generate(tmp_path_factory.mktemp("world"), scale=0.2, seed=3)


@pytest.fixture(scope="session")
def small_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("small"), scale=0.05, seed=11).out
