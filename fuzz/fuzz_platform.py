"""Fuzz the platform-jsonl reader with atheris: it must never raise on any bytes.

python fuzz/fuzz_platform.py -runs=20000
python fuzz/fuzz_platform.py -max_total_time=60
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import atheris

# Third-party code first, uninstrumented: only moneytrail's own code is traced.
import phonenumbers  # noqa: F401
import pyarrow  # noqa: F401
import pycountry  # noqa: F401
import unidecode  # noqa: F401

with atheris.instrument_imports():
    from moneytrail.ingest.platform import is_platform_jsonl, read_platform_jsonl

_TMP = Path(tempfile.mkdtemp(prefix="fuzz_platform_")) / "r.jsonl"
SEED = {
    "report_id": "R-1", "platform": "VidChat", "submitted_at": "2026-03-04T10:00:00Z",
    "incident_type": "grooming",
    "subjects": [
        {"subject_ref": "s1", "role": "suspect_viewer", "display_name": "John Smith",
         "emails": ["js@example.com"], "phones": ["+61 400 111 222"], "dob": "1971-05-02",
         "ip_events": [{"ip": "203.0.113.7", "at": "2026-03-01T02:10:00", "country": "AU"}]},
        {"subject_ref": "s2", "role": "other", "phones": ["0917 555 0101"], "country": "PH"},
    ],
    "sessions": [{"from": "s1", "to": "s2", "kind": "chat", "start": "2026-03-01T02:20:00+08:00"}],
}  # fmt: skip


def one_input(data: bytes) -> None:
    _TMP.write_bytes(data)
    is_platform_jsonl(_TMP)
    rec = read_platform_jsonl(_TMP, provider="p", source_file="r.jsonl", timezone="Asia/Manila")
    # Blank means JSON white space only (RFC 8259): a line of other control bytes is quarantined.
    lines = [x for x in data.removeprefix(b"\xef\xbb\xbf").split(b"\n") if x.strip(b" \t\r\n")]
    assert len(rec.referrals) + len(rec.rejected) == len(lines)


def main() -> None:
    seeds = Path(tempfile.mkdtemp(prefix="fuzz_platform_seeds_"))
    (seeds / "seed.jsonl").write_text(
        json.dumps(SEED) + "\n" + json.dumps({**SEED, "report_id": "R-2"}) + "\n"
    )
    atheris.Setup([*sys.argv, str(seeds)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
