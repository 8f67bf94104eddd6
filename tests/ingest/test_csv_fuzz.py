"""Property test: mutated CSV exports never crash ingestion and lose no good record."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moneytrail.ingest import ingest_bundle
from moneytrail.store import Warehouse
from tests.conftest import REMITTANCE_HEADER, remittance_row

N = 12
MUTATIONS = st.sampled_from([
    "quote_start", "quote_inside", "drop_comma", "extra_field", "garbage_bytes", "truncate", "empty", "nul",
])


def mutate(line: str, how: str, pos: int) -> bytes:
    cut = pos % max(len(line), 1)
    match how:
        case "quote_start":
            fields = line.split(",")
            fields[pos % len(fields)] = '"' + fields[pos % len(fields)]
            return ",".join(fields).encode()
        case "quote_inside":
            return (line[:cut] + '"' + line[cut:]).encode()
        case "drop_comma":
            i = line.find(",", cut)
            return (line[:i] + line[i + 1:] if i >= 0 else line[:-1]).encode()
        case "extra_field":
            return (line + ",surplus").encode()
        case "garbage_bytes":
            return line[:cut].encode() + b"\xff\xfe\x80" + line[cut:].encode()
        case "truncate":
            return line[:cut].encode()
        case "nul":
            return line[:cut].encode() + b"\x00" + line[cut:].encode()
    return b""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.integers(0, N - 1), st.tuples(MUTATIONS, st.integers(0, 400)), max_size=4),
       st.booleans())
def test_mutated_csv_never_crashes_and_keeps_untouched_records(
    mutations: dict[int, tuple[str, int]], crlf: bool
) -> None:
    rows = [remittance_row(transfer_id=f"G{i}", sender_name=f"Sender {i}") for i in range(N)]
    lines = [",".join(REMITTANCE_HEADER)] + [",".join(r[h] for h in REMITTANCE_HEADER) for r in rows]
    end = b"\r\n" if crlf else b"\n"
    body = [lines[0].encode()] + [
        mutate(lines[i + 1], *mutations[i]) if i in mutations else lines[i + 1].encode() for i in range(N)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "b"
        (bundle / "mto").mkdir(parents=True)
        (bundle / "mto" / "f.csv").write_bytes(end.join(body) + end)
        with Warehouse(Path(tmp) / "s.duckdb") as wh:
            report = ingest_bundle(wh, bundle)
            loaded = {r[0] for r in wh.con.execute("SELECT record_id FROM transactions").fetchall()}
            quarantined = wh.count("quarantine")
    untouched = {f"G{i}" for i in range(N) if i not in mutations}
    assert untouched <= loaded, f"lost {sorted(untouched - loaded)}"
    assert report.loaded == len(loaded)
    # every non-empty line is accounted for: loaded (the mutation was harmless) or quarantined
    records = sum(1 for line in body[1:] if line.strip(b"\r\n "))
    assert len(loaded) + quarantined >= records
