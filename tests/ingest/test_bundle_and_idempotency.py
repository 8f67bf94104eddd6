"""Bundles, sources.csv, detection, idempotency, and a real kill mid-ingest."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moneytrail.errors import UserError
from moneytrail.ingest import ingest_bundle, ingest_paths
from moneytrail.ingest.bundle import plan_bundle
from moneytrail.store import Warehouse
from tests.conftest import REMITTANCE_HEADER, remittance_row, write_csv

CLI = [sys.executable, "-m", "moneytrail"]


def snapshot(store: Path) -> dict[str, list[tuple]]:
    with Warehouse(store) as wh:
        return {
            "transactions": wh.con.execute(
                "SELECT * FROM transactions ORDER BY provider, record_id"
            ).fetchall(),
            "parties": wh.con.execute(
                "SELECT * FROM parties ORDER BY provider, record_id, party"
            ).fetchall(),
            "quarantine": wh.con.execute("SELECT * FROM quarantine ORDER BY ALL").fetchall(),
            "files": wh.con.execute(
                "SELECT sha256, path, provider, format, records, quarantined "
                "FROM ingested_files ORDER BY ALL"
            ).fetchall(),
        }


def test_same_file_twice_adds_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    write_csv(
        tmp_path / "b" / "p" / "f.csv",
        [remittance_row(transfer_id=f"T{i}") for i in range(5)]
        + [remittance_row(transfer_id="BAD", send_amount="x")],
        REMITTANCE_HEADER,
    )
    first = ingest_bundle(warehouse, tmp_path / "b")
    second = ingest_bundle(warehouse, tmp_path / "b")
    assert (first.loaded, first.quarantined) == (5, 1)
    assert (second.loaded, second.quarantined) == (0, 0) and second.files[0].skipped
    assert warehouse.count("transactions") == 5 and warehouse.count("parties") == 10
    assert warehouse.count("quarantine") == 1


def test_overlapping_exports_do_not_duplicate_records(warehouse: Warehouse, tmp_path: Path) -> None:
    write_csv(
        tmp_path / "b" / "p" / "jan.csv",
        [remittance_row(transfer_id=f"T{i}") for i in range(3)],
        REMITTANCE_HEADER,
    )
    write_csv(
        tmp_path / "b" / "p" / "janfeb.csv",
        [remittance_row(transfer_id=f"T{i}") for i in range(5)],
        REMITTANCE_HEADER,
    )
    report = ingest_bundle(warehouse, tmp_path / "b")
    assert warehouse.count("transactions") == 5
    assert sorted((f.loaded, f.already_present) for f in report.files) == [(2, 3), (3, 0)]


def test_detection_without_sources_csv(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    write_csv(bundle / "remitco" / "2026" / "jan.csv", [remittance_row()], REMITTANCE_HEADER)
    write_csv(
        bundle / "walletco.csv",
        [
            {
                "txn_id": "W",
                "timestamp": "2026-01-01",
                "type": "payment",
                "payer_account_id": "a",
                "payee_account_id": "b",
                "gross": "1",
                "currency": "USD",
            }
        ],
    )
    (bundle / "notes.txt").write_text("hello")
    (bundle / "other.csv").write_text("a,b\n1,2\n")
    plan = plan_bundle(bundle)
    got = sorted((f.rel, f.format, f.provider) for f in plan.files)
    assert got == [
        ("remitco/2026/jan.csv", "remittance-csv", "remitco"),
        ("walletco.csv", "wallet-csv", "walletco"),
    ]
    assert sorted(plan.unrecognised) == ["notes.txt", "other.csv"]


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ("path,format,provider\nmissing.csv,remittance-csv,x\n", "not found in the bundle"),
        ("path,format,provider\nf.csv,swift-mt103,x\n", "unknown format 'swift-mt103'"),
        ("path,format,provider,timezone\nf.csv,remittance-csv,x,Mars/Base\n", "unknown time zone"),
        ("path,provider\nf.csv,x\n", "missing column(s) format"),
    ],
)
def test_bad_sources_csv_gives_clear_error(tmp_path: Path, sources: str, message: str) -> None:
    write_csv(tmp_path / "f.csv", [remittance_row()], REMITTANCE_HEADER)
    (tmp_path / "sources.csv").write_text(sources)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_bundle(tmp_path)


def test_bad_paths_give_clear_errors(warehouse: Warehouse, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        ingest_paths(warehouse, [tmp_path / "nope.csv"])
    (tmp_path / "x.bin").write_bytes(b"\x00\x01")
    with pytest.raises(UserError, match="pass --format"):
        ingest_paths(warehouse, [tmp_path / "x.bin"])
    with pytest.raises(UserError, match="unknown format"):
        ingest_paths(warehouse, [tmp_path / "x.bin"], fmt="excel")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "/nonexistent/bundle", "--out", "OUT"], "bundle not found"),
        (["run", "EMPTY", "--out", "OUT"], "no file in"),
        (["ingest", "/nonexistent/file.csv"], "not found"),
        (["ingest", "IN", "--format", "excel"], "unknown format"),
        (["ingest", "IN", "--timezone", "Mars/Base"], "unknown time zone"),
    ],
)
def test_cli_errors_are_one_line_without_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    write_csv(tmp_path / "in.csv", [remittance_row()], REMITTANCE_HEADER)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("not a payment export")
    args = [
        a.replace("OUT", str(tmp_path / "out"))
        .replace("IN", str(tmp_path / "in.csv"))
        .replace("EMPTY", str(tmp_path / "empty"))
        for a in args
    ]
    proc = subprocess.run(
        [*CLI, *args, "--store", str(tmp_path / "s.duckdb")]
        if args[0] == "ingest"
        else [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def _big_bundle(root: Path, files: int, rows: int) -> Path:
    header = ",".join(REMITTANCE_HEADER)
    base = remittance_row()
    for f in range(files):
        path = root / "mto" / f"part{f:02d}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as fh:
            fh.write(header + "\n")
            for i in range(rows):
                row = dict(
                    base,
                    transfer_id=f"F{f}-{i}",
                    sender_name=f"Sender {i % 5000}",
                    send_amount=f"{10 + i % 190}.00" if i % 997 else "oops",
                )
                fh.write(",".join(row[h] for h in REMITTANCE_HEADER) + "\n")
    return root


@pytest.mark.slow
def test_killed_ingest_rerun_matches_uninterrupted_run(tmp_path: Path) -> None:
    bundle = _big_bundle(tmp_path / "bundle", files=5, rows=30_000)
    assert_killed_rerun_matches(bundle, tmp_path, files=5)


def _children(pid: int) -> set[int]:
    """The child processes of `pid` (Linux); none when it has ended."""
    pids: set[int] = set()
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                pids |= {int(p) for p in (task / "children").read_text().split()}
    return pids


def _assert_gone(pids: set[int], timeout: float = 60.0) -> None:
    """The processes end soon (an orphaned reader dies at its next write to the dead parent)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = set()
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.add(pid)
        if not alive:
            return
        assert time.monotonic() < deadline, f"processes {sorted(alive)} outlived the killed ingest"
        time.sleep(0.2)


def assert_killed_rerun_matches(bundle: Path, tmp_path: Path, files: int) -> None:
    """Kill `moneytrail ingest` part-way with SIGKILL, run it again: the store must be the uninterrupted one's."""
    clean, killed = tmp_path / "clean.duckdb", tmp_path / "killed.duckdb"
    env = dict(os.environ, COLUMNS="120")

    t0 = time.monotonic()
    subprocess.run(
        [*CLI, "ingest", str(bundle), "--store", str(clean)],
        check=True,
        capture_output=True,
        env=env,
    )
    full = time.monotonic() - t0

    # Kill part-way; on a busy machine a run can finish sooner than the first one took,
    # so earlier kills are tried until one lands before the end.
    for fraction in (0.6, 0.45, 0.3, 0.2):
        for leftover in (killed, killed.with_name(killed.name + ".wal")):
            leftover.unlink(missing_ok=True)
        proc = subprocess.Popen(
            [*CLI, "ingest", str(bundle), "--store", str(killed)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        time.sleep(full * fraction)
        children = _children(proc.pid)  # a pacs.008 reader process, if one runs
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _assert_gone(children)
        with Warehouse(killed) as wh:
            files_after_kill = wh.count("ingested_files")
        if files_after_kill < files:
            break
    assert files_after_kill < files, (
        "every kill came after the run had finished; the test proves nothing"
    )

    subprocess.run(
        [*CLI, "ingest", str(bundle), "--store", str(killed)],
        check=True,
        capture_output=True,
        env=env,
    )
    assert snapshot(killed) == snapshot(clean)


def test_status_reports_per_provider_and_format_and_quarantine(tmp_path: Path) -> None:
    write_csv(
        tmp_path / "b" / "remitco" / "f.csv",
        [remittance_row(transfer_id=f"T{i}") for i in range(3)]
        + [remittance_row(transfer_id="BAD", send_amount="x")],
        REMITTANCE_HEADER,
    )
    store = tmp_path / "s.duckdb"
    ingest = subprocess.run(
        [*CLI, "ingest", str(tmp_path / "b"), "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, COLUMNS="200"),
    )
    assert ingest.returncode == 0, ingest.stderr
    assert "3 records loaded, 1 quarantined" in ingest.stderr + ingest.stdout
    proc = subprocess.run(
        [*CLI, "status", "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, COLUMNS="200"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "remitco" in proc.stdout and "remittance-csv" in proc.stdout
    assert "3 transactions" in proc.stdout and "1 records in quarantine" in proc.stdout
