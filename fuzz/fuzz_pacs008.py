"""Fuzz the pacs.008 reader with atheris: it must never raise on any bytes.

    python fuzz/fuzz_pacs008.py -runs=20000            # bounded iterations
    python fuzz/fuzz_pacs008.py -max_total_time=60     # bounded time

Seeds: the real samples; libFuzzer mutates them byte-wise.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

# Third-party code first, uninstrumented: only moneytrail's own code is traced.
import lxml.etree  # noqa: F401
import pyarrow  # noqa: F401

with atheris.instrument_imports():
    from moneytrail.ingest.pacs008 import is_pacs008, read_pacs008
    from moneytrail.ingest.stage import Rejected

_TMP = Path(tempfile.mkdtemp(prefix="fuzz_pacs008_")) / "f.xml"


def one_input(data: bytes) -> None:
    _TMP.write_bytes(data)
    is_pacs008(_TMP)
    for batch, rejected in read_pacs008(_TMP, batch_size=7):
        assert batch.num_rows <= 7
        assert all(isinstance(r, Rejected) for r in rejected)


def main() -> None:
    argv = list(sys.argv)
    seeds = Path(tempfile.mkdtemp(prefix="fuzz_pacs008_seeds_"))
    for sample in Path(os.environ.get("MONEYTRAIL_SAMPLES", "/work/shared/samples/iso20022")).glob(
        "*.xml"
    ):
        (seeds / sample.name).write_bytes(sample.read_bytes())
    atheris.Setup([*argv, str(seeds)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
