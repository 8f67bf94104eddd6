from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from moneytrail.resolve import ResolveReport, resolve
from moneytrail.resolve.sample import generate
from moneytrail.store import Warehouse

from .helpers import add_scenario


@pytest.fixture(scope="session")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, ResolveReport, Any]]:
    path: Path = tmp_path_factory.mktemp("resolve") / "w.duckdb"
    wh = Warehouse(path)
    pop = generate(wh.con, transactions=2500, seed=21)
    add_scenario(wh.con)
    report = resolve(wh.con)
    yield wh.con, report, pop
    wh.close()
