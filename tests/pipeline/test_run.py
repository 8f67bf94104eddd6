"""The batch run and the demo on a small synthetic world: the contract files, to the letter."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "moneytrail"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    proc = subprocess.run([*CLI, "demo", "--out", str(out), "--scale", "0.05", "--seed", "3", "--no-serve"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Top subjects for review" in proc.stdout + proc.stderr
    return out


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def test_contract_files_have_exactly_the_contract_columns(demo: Path) -> None:
    results = demo / "results"
    expected = {
        "transaction_scores.csv": ["provider", "record_id", "score", "flagged", "reasons"],
        "subjects.csv": ["subject_id", "role", "score", "flagged", "reasons"],
        "subject_records.csv": ["subject_id", "provider", "record_id", "party"],
        "quarantine.csv": ["provider", "file", "location", "reason"],
    }
    for name, columns in expected.items():
        header, rows = read(results / name)
        assert header == columns, name
        assert rows, name


def test_every_good_transaction_is_scored_and_values_are_in_range(demo: Path) -> None:
    _, scores = read(demo / "results" / "transaction_scores.csv")
    _, truth = read(demo / "world" / "truth" / "transactions.csv")
    good = {(t["provider"], t["record_id"]) for t in truth if t["malformed"] == "0"}
    scored = {(s["provider"], s["record_id"]) for s in scores}
    assert good <= scored
    assert len(scored) == len(scores)  # one row per transaction
    assert all(0.0 <= float(s["score"]) <= 1.0 and s["flagged"] in ("0", "1") for s in scores)
    assert any(s["flagged"] == "1" for s in scores)


def test_subjects_cover_every_party_and_roles_are_from_the_contract(demo: Path) -> None:
    _, subjects = read(demo / "results" / "subjects.csv")
    _, records = read(demo / "results" / "subject_records.csv")
    _, parties = read(demo / "world" / "truth" / "parties.csv")
    _, malformed = read(demo / "world" / "truth" / "malformed.csv")
    bad = {(m["provider"], m["record_id"]) for m in malformed}
    assert {s["role"] for s in subjects} <= {"consumer", "facilitator", "intermediary", "none"}
    ids = {s["subject_id"] for s in subjects}
    assert {r["subject_id"] for r in records} <= ids
    covered = {(r["provider"], r["record_id"], r["party"]) for r in records}
    expected = {(p["provider"], p["record_id"], p["party"]) for p in parties
                if (p["provider"], p["record_id"]) not in bad}
    assert expected <= covered


def test_quarantine_lists_the_malformed_records(demo: Path) -> None:
    _, quarantine = read(demo / "results" / "quarantine.csv")
    _, malformed = read(demo / "world" / "truth" / "malformed.csv")
    assert len(quarantine) >= len(malformed) > 0
    assert all(q["reason"] and q["location"] for q in quarantine)


def test_evaluation_beats_nothing_less_than_the_floor(demo: Path) -> None:
    import json

    result = json.loads((demo / "results" / "evaluation.json").read_text())
    assert result["transactions"]["coverage"] == 1.0
    assert result["transactions"]["average_precision"] > 0.8


def test_alert_budget_holds_for_the_final_queue(demo: Path, tmp_path: Path) -> None:
    """The network stage lifts scores after scoring; the budget must still hold at the end."""
    out = tmp_path / "budget"
    proc = subprocess.run([*CLI, "run", str(demo / "world" / "bundle"), "--out", str(out), "--alert-budget", "20000"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, scores = read(out / "transaction_scores.csv")
    flagged = [s for s in scores if s["flagged"] == "1"]
    assert len(flagged) == len(scores) * 20_000 // 1_000_000
    lowest_flagged = min(float(s["score"]) for s in flagged)
    assert all(float(s["score"]) <= lowest_flagged for s in scores if s["flagged"] == "0")


def test_demo_prepares_the_workspace_users_and_cases(demo: Path) -> None:
    from sqlalchemy import func, select

    from moneytrail.opstore import OpsStore
    from moneytrail.opstore.audit import verify
    from moneytrail.opstore.models import Case
    from moneytrail.opstore.users import authenticate

    creds = dict(line.split() for line in (demo / "workspace-users.txt").read_text().splitlines())
    assert set(creds) == {"analyst", "supervisor", "liaison", "admin"}
    _, flagged = read(demo / "results" / "subjects.csv")
    ops = OpsStore(f"sqlite:///{demo / 'workspace.db'}")
    with ops.session() as s:
        for user, password in creds.items():
            found = authenticate(s, user, password)
            assert found is not None and found.role == user
        subject_cases = s.scalar(select(func.count()).select_from(Case).where(Case.kind == "subject"))
        assert subject_cases == sum(1 for r in flagged if r["flagged"] == "1")
        assert verify(s).ok
    ops.dispose()


def test_a_tiny_bundle_of_one_sender_runs_end_to_end(tmp_path: Path) -> None:
    """Twelve transfers of one man to one receiver: no two profiles share a key, so Splink's
    prior match probability came out 0 and every weight was log2(0) (a crash); now the run
    writes its files with the man and the receiver as one subject each."""
    from moneytrail.pipeline.run import run_batch
    from tests.conftest import remittance_row, write_csv

    write_csv(tmp_path / "bundle" / "remittance.csv", [remittance_row(transfer_id=f"T{i}") for i in range(12)])
    report = run_batch(tmp_path / "bundle", tmp_path / "out")
    assert report.counts == {
        "transaction_scores.csv": 12, "subjects.csv": 2, "subject_records.csv": 24, "quarantine.csv": 0,
    }


def test_the_prior_match_probability_is_kept_strictly_inside_0_and_1(tmp_path: Path) -> None:
    """Splink's estimate may come out 0 (no pair agrees) or 1 (every pair agrees); either
    makes every match weight infinite. A usable estimate is left as it is."""
    from moneytrail.pipeline.run import run_batch
    from moneytrail.resolve.run import PROFILES_FOR_MODEL_SQL
    from moneytrail.resolve.splink_model import SplinkModel
    from moneytrail.store import Warehouse
    from tests.conftest import remittance_row, write_csv

    write_csv(tmp_path / "bundle" / "remittance.csv", [remittance_row(transfer_id=f"T{i}") for i in range(3)])
    run_batch(tmp_path / "bundle", tmp_path / "out")
    with Warehouse(tmp_path / "out" / "warehouse.duckdb") as wh:
        profiles = wh.con.sql(PROFILES_FOR_MODEL_SQL).to_arrow_table()
    model = SplinkModel(profiles)
    try:
        obj = model.linker._settings_obj
        for given, n, expected in ((0.0, 4, 1 / 7), (1.0, 4, 6 / 7), (0.25, 4, 0.25), (0.0, 1, 0.5)):
            obj._probability_two_random_records_match = given
            model._keep_prior_inside(n)
            assert obj._probability_two_random_records_match == pytest.approx(expected)
    finally:
        model.close()
