"""Mixed line ends are read, and a carriage return outside quotes costs its own record only.

DuckDB's strict CSV reader raises for the whole file on either (found by
fuzz/fuzz_csv.py); the ingest reads such a file from a repaired copy.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moneytrail.ingest import ingest_bundle
from moneytrail.ingest.csv_reader import BARE_CR_REASON, _mixed_line_ends
from moneytrail.store import Warehouse
from tests.conftest import REMITTANCE_HEADER, remittance_row

N = 10


def _lines() -> list[str]:
    rows = [remittance_row(transfer_id=f"G{i}", sender_name=f"Sender {i}") for i in range(N)]
    return [",".join(r[h] for h in REMITTANCE_HEADER) for r in rows]


def _ingest(tmp: Path, body: bytes) -> tuple[set[str], list[tuple[str, str, str]]]:
    bundle = tmp / "b"
    (bundle / "mto").mkdir(parents=True)
    (bundle / "mto" / "f.csv").write_bytes(body)
    with Warehouse(tmp / "s.duckdb") as wh:
        ingest_bundle(wh, bundle)
        loaded = {r[0] for r in wh.con.execute("SELECT record_id FROM transactions").fetchall()}
        quarantined = wh.con.execute("SELECT location, reason, raw FROM quarantine ORDER BY location").fetchall()
    return loaded, quarantined


def test_a_bare_cr_in_a_field_quarantines_that_line_only(tmp_path: Path) -> None:
    lines = _lines()
    lines[3] = lines[3].replace("Sender 3", "Sen\rder 3")  # a CR typed into a name, unquoted
    body = ("\r\n".join([",".join(REMITTANCE_HEADER), *lines]) + "\r\n").encode()
    loaded, quarantined = _ingest(tmp_path, body)
    assert loaded == {f"G{i}" for i in range(N)} - {"G3"}
    assert quarantined == [("line 5", BARE_CR_REASON, lines[3].replace("\r", "\\r"))]


def test_a_cr_inside_quotes_is_data(tmp_path: Path) -> None:
    lines = _lines()
    lines[2] = lines[2].replace("Sender 2", '"Sen\rder 2"')
    body = ("\n".join([",".join(REMITTANCE_HEADER), *lines]) + "\n").encode()
    loaded, quarantined = _ingest(tmp_path, body)
    assert loaded == {f"G{i}" for i in range(N)} and quarantined == []


def test_line_numbers_after_a_set_aside_line_stay_true(tmp_path: Path) -> None:
    lines = _lines()
    lines[1] = lines[1].replace("Sender 1", "A\rB")
    lines[6] = lines[6].replace("2026-03-01T02:14:09+08:00", "not a time")  # fails validation later
    body = ("\n".join([",".join(REMITTANCE_HEADER), *lines]) + "\n").encode()
    _, quarantined = _ingest(tmp_path, body)
    assert [q[0] for q in quarantined] == ["line 3", "line 8"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.integers(0, N - 1), st.integers(0, 300), max_size=4),
    st.sampled_from([b"\n", b"\r\n"]),
)
def test_bare_crs_anywhere_never_crash_and_lose_no_other_record(cuts: dict[int, int], end: bytes) -> None:
    lines = _lines()
    for i, pos in cuts.items():
        cut = 1 + pos % (len(lines[i]) - 1)  # inside the line, never at its end
        lines[i] = lines[i][:cut] + "\r" + lines[i][cut:]
    body = end.join(x.encode() for x in [",".join(REMITTANCE_HEADER), *lines]) + end
    with tempfile.TemporaryDirectory() as tmp:
        loaded, quarantined = _ingest(Path(tmp), body)
    assert {f"G{i}" for i in range(N) if i not in cuts} <= loaded
    assert {f"line {i + 2}" for i in cuts} == {q[0] for q in quarantined if q[1] == BARE_CR_REASON}


def test_concatenated_exports_with_mixed_line_ends_load_whole(tmp_path: Path) -> None:
    lines = _lines()
    header = ",".join(REMITTANCE_HEADER)
    body = ("\r\n".join([header, *lines[:5]]) + "\r\n" + "\n".join(lines[5:]) + "\r").encode()
    loaded, quarantined = _ingest(tmp_path, body)  # CRLF, then LF, then a CR ending the file
    assert loaded == {f"G{i}" for i in range(N)} and quarantined == []


def test_a_bad_record_after_mixed_line_ends_keeps_its_line(tmp_path: Path) -> None:
    lines = _lines()
    lines[7] = lines[7].replace("2026-03-01T02:14:09+08:00", "not a time")
    body = ("\n".join([",".join(REMITTANCE_HEADER), *lines[:3]]) + "\n" + "\r\n".join(lines[3:]) + "\r\n").encode()
    _, quarantined = _ingest(tmp_path, body)
    assert [q[0] for q in quarantined] == ["line 9"]


@given(st.binary(max_size=64), st.integers(1, 8))
def test_mixed_line_end_detection_matches_a_plain_count(data: bytes, chunk: int) -> None:
    import moneytrail.ingest.csv_reader as reader

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        path.write_bytes(data)
        old, reader._CHUNK = reader._CHUNK, chunk  # small chunks: CRLFs split across reads
        try:
            found = _mixed_line_ends(path)
        finally:
            reader._CHUNK = old
    cr, crlf, lf = data.count(b"\r"), data.count(b"\r\n"), data.count(b"\n")
    assert found == (cr > 0 and not cr == crlf == lf)


def test_a_header_with_a_bare_cr_is_reported_not_raised(tmp_path: Path) -> None:
    from moneytrail.ingest.bundle import read_csv_header

    path = tmp_path / "f.csv"
    path.write_bytes(b"transfer_id,created\rat,sender_name\n1,2,3\n")
    assert read_csv_header(path) == []
    bundle = tmp_path / "b"
    (bundle / "mto").mkdir(parents=True)
    (bundle / "mto" / "f.csv").write_bytes(path.read_bytes())
    with Warehouse(tmp_path / "s.duckdb") as wh:
        report = ingest_bundle(wh, bundle)
    assert report.unrecognised == ["mto/f.csv"]
