"""The network quality bench's community measures (bench/network_quality.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "network_quality.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("network_quality_bench", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_pair_errors_and_ari() -> None:
    nq = _bench()
    truth = ["A", "A", "A", "B", "B", "C"]
    found = ["x", "x", "y", "z", "z", "z"]
    apart, together = nq.pair_errors(truth, found)
    assert dict(apart) == {"A": 2} and together == 2  # B1-C, B2-C
    assert nq.ari(truth, truth) == 1.0
    assert nq.ari(truth, found) < 1.0
