"""Fuzz the CSV readers (remittance, wallet, card) with atheris: any bytes are ingested or quarantined, never raised.

    python fuzz/fuzz_csv.py -runs=2000              # bounded iterations
    python fuzz/fuzz_csv.py -max_total_time=60      # bounded time

Seeds: the first lines of each CSV export of a tiny synthetic world; libFuzzer
mutates them byte-wise, header included (an unrecognised header is reported, not
raised). One warehouse takes every input, as a provider's successive files would.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris

# Third-party code first, uninstrumented: only moneytrail's own code is traced.
import duckdb  # noqa: F401
import phonenumbers  # noqa: F401
import pyarrow  # noqa: F401
import pycountry  # noqa: F401

with atheris.instrument_imports():
    from moneytrail.ingest import ingest_bundle
    from moneytrail.store import Warehouse

from moneytrail.synth import generate

_WORK = Path(tempfile.mkdtemp(prefix="fuzz_csv_"))
_BUNDLE = _WORK / "bundle"
_WH = Warehouse(_WORK / "store.duckdb")
_N = [0]


def one_input(data: bytes) -> None:
    _N[0] += 1
    shutil.rmtree(_BUNDLE, ignore_errors=True)
    (_BUNDLE / "p").mkdir(parents=True)
    (_BUNDLE / "p" / f"f{_N[0]}.csv").write_bytes(data)
    ingest_bundle(_WH, _BUNDLE)
    bad = _WH.con.execute(
        "SELECT count(*) FROM quarantine WHERE location IS NULL OR reason IS NULL OR reason = ''"
    ).fetchall()[0][0]
    assert bad == 0, "a quarantined record lost its location or reason"


def seeds() -> Path:
    """Header and three records of each CSV export of a tiny synthetic world."""
    world = _WORK / "world"
    generate(world, scale=0.02, seed=3)
    out = _WORK / "seeds"
    out.mkdir()
    for i, csv in enumerate(sorted((world / "bundle").rglob("*.csv"))):
        if csv.name in {"sources.csv", "fx_rates.csv"}:
            continue
        lines = csv.read_bytes().splitlines(keepends=True)[:4]
        (out / f"{i}-{csv.name}").write_bytes(b"".join(lines))
    return out


def main() -> None:
    atheris.Setup([*sys.argv, str(seeds())], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
