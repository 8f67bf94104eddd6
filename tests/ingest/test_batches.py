"""Files of one provider (CSV, pacs.008) are ingested together: the store must be the one of ingesting them one by one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from moneytrail.ingest import file_batches, ingest_bundle, ingest_file, load_fx_rates
from moneytrail.ingest.bundle import plan_bundle
from moneytrail.store import Warehouse
from moneytrail.synth.world import generate
from tests.conftest import REMITTANCE_HEADER, remittance_row, write_csv
from tests.ingest.test_bundle_and_idempotency import snapshot


def _one_by_one(store: Path, bundle: Path) -> None:
    plan = plan_bundle(bundle)
    with Warehouse(store) as wh:
        if plan.fx_file is not None:
            load_fx_rates(wh, plan.fx_file)
        for source in plan.files:
            ingest_file(wh, source)


def _tricky_bundle(bundle: Path) -> None:
    """Three files of one provider: a broken quote, an id repeated across files, a bad amount."""
    rows1 = [remittance_row(transfer_id=f"T{i}") for i in range(4)]
    write_csv(bundle / "p" / "a.csv", rows1, REMITTANCE_HEADER)
    text = (bundle / "p" / "a.csv").read_text()
    lines = text.splitlines()
    lines.insert(3, '"T9","2026-01-01T00:00:00Z","broken quote')  # swallows the lines after it, then salvaged
    (bundle / "p" / "a.csv").write_text("\n".join(lines) + "\n")
    write_csv(bundle / "p" / "b.csv", [remittance_row(transfer_id="T1"), remittance_row(transfer_id="T5"),
                                       remittance_row(transfer_id="T6", send_amount="x"),
                                       remittance_row(transfer_id="T5")], REMITTANCE_HEADER)
    write_csv(bundle / "p" / "c.csv", [remittance_row(transfer_id="T7")], REMITTANCE_HEADER)


def test_batches_group_files_of_one_provider_and_header(tmp_path: Path) -> None:
    _tricky_bundle(tmp_path / "b")
    write_csv(tmp_path / "b" / "q" / "x.csv", [remittance_row(transfer_id="X1")], REMITTANCE_HEADER)
    batches = file_batches(plan_bundle(tmp_path / "b").files)
    assert sorted(len(b) for b in batches) == [1, 3]
    assert all(len({(s.provider, s.format) for s in b}) == 1 for b in batches)


def test_a_batch_gives_the_store_of_one_file_at_a_time(tmp_path: Path) -> None:
    _tricky_bundle(tmp_path / "b")
    with Warehouse(tmp_path / "batched.duckdb") as wh:
        report = ingest_bundle(wh, tmp_path / "b")
    _one_by_one(tmp_path / "single.duckdb", tmp_path / "b")
    batched, single = snapshot(tmp_path / "batched.duckdb"), snapshot(tmp_path / "single.duckdb")
    assert batched == single
    by_file = {f.source.rel: (f.loaded, f.quarantined, f.already_present) for f in report.files}
    # b.csv: T1 is a's, T5 loads once (the repeat is quarantined), T6 has a bad amount
    assert by_file["p/b.csv"] == (1, 2, 1)
    locations = {(q[1], q[2]) for q in batched["quarantine"]}
    assert ("p/b.csv", "line 4") in locations and ("p/b.csv", "line 5") in locations
    assert any(f == "p/a.csv" and loc == "line 4" for f, loc in locations)


def test_a_synthetic_bundle_batched_equals_one_by_one(tmp_path: Path) -> None:
    generate(tmp_path / "w", scale=0.08, seed=9)
    bundle = tmp_path / "w" / "bundle"
    batches = file_batches(plan_bundle(bundle).files)
    assert {b[0].format for b in batches if len(b) > 1} >= {"pacs008", "card-csv", "wallet-csv"}
    with Warehouse(tmp_path / "batched.duckdb") as wh:
        ingest_bundle(wh, bundle)
    _one_by_one(tmp_path / "single.duckdb", bundle)
    batched, single = snapshot(tmp_path / "batched.duckdb"), snapshot(tmp_path / "single.duckdb")
    assert len(batched["quarantine"]) > 0
    assert batched == single


def _quarantine_in_order(store: Path) -> list[tuple]:
    with Warehouse(store) as wh:
        return wh.con.execute("SELECT * FROM quarantine ORDER BY rowid").fetchall()


def test_a_batch_read_at_once_equals_its_files_read_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's files read in one statement (session 8) give the store of reading them in turn,
    rejects, repaired line ends and the quarantine's order included; a broken quote falls back."""
    import moneytrail.ingest as ingest

    bundle = tmp_path / "b"
    write_csv(bundle / "p" / "a.csv", [remittance_row(transfer_id=f"A{i}") for i in range(5)], REMITTANCE_HEADER)
    lines = (bundle / "p" / "a.csv").read_text().splitlines()
    lines[2] += ",one too many"
    lines[4] = lines[4].split(",", 3)[0]  # cut short
    (bundle / "p" / "a.csv").write_text("\n".join(lines) + "\n")
    write_csv(bundle / "p" / "b.csv", [remittance_row(transfer_id=f"B{i}") for i in range(4)], REMITTANCE_HEADER)
    raw = (bundle / "p" / "b.csv").read_bytes().split(b"\n")
    raw[1] += b"\r"  # mixed line ends: read from a repaired copy
    raw[2] = raw[2].replace(b",", b",\r", 1)  # a bare CR outside quotes
    (bundle / "p" / "b.csv").write_bytes(b"\n".join(raw))
    write_csv(bundle / "p" / "c.csv", [remittance_row(transfer_id="A1"), remittance_row(transfer_id="C1", send_amount="x")],
              REMITTANCE_HEADER)
    assert [len(b) for b in file_batches(plan_bundle(bundle).files)] == [3]

    taken: list[bool] = []
    at_once = ingest._read_csv_at_once

    def spy(*args: Any, **kwargs: Any) -> bool:
        taken.append(at_once(*args, **kwargs))
        return taken[-1]

    monkeypatch.setattr(ingest, "_read_csv_at_once", spy)
    with Warehouse(tmp_path / "once.duckdb") as wh:
        ingest_bundle(wh, bundle)
    assert taken == [True]
    monkeypatch.setattr(ingest, "_read_csv_at_once", lambda *args, **kwargs: False)
    with Warehouse(tmp_path / "in_turn.duckdb") as wh:
        ingest_bundle(wh, bundle)
    assert snapshot(tmp_path / "once.duckdb") == snapshot(tmp_path / "in_turn.duckdb")
    quarantine = _quarantine_in_order(tmp_path / "once.duckdb")
    assert quarantine == _quarantine_in_order(tmp_path / "in_turn.duckdb")
    reasons = {(q[1], q[2], q[3].split(":")[0]) for q in quarantine}
    assert ("p/a.csv", "line 3", "unreadable CSV record (too many columns)") in reasons
    assert ("p/a.csv", "line 5", "unreadable CSV record (missing columns)") in reasons
    assert any(f == "p/b.csv" and r.startswith("unreadable CSV record") for f, _, r in reasons)
    assert ("p/c.csv", "line 3", "bad amount") in reasons

    # A broken quote: the lines it swallowed are read again, so the batch is read file by file.
    monkeypatch.setattr(ingest, "_read_csv_at_once", spy)
    taken.clear()
    _tricky_bundle(tmp_path / "t")
    with Warehouse(tmp_path / "t.duckdb") as wh:
        ingest_bundle(wh, tmp_path / "t")
    assert taken == [False]
