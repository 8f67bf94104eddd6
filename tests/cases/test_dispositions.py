"""Analysts' dispositions become labels the scoring model learns from."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select

from moneytrail.cases import change_state, get_case, sync_from_run
from moneytrail.cases.dispositions import train_from_dispositions
from moneytrail.errors import UserError
from moneytrail.opstore import OpsStore
from moneytrail.opstore.models import Case, User
from moneytrail.opstore.users import create_user


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from moneytrail.pipeline.run import run_batch
    from moneytrail.synth.world import generate

    root = tmp_path_factory.mktemp("disp")
    world = generate(root / "world", scale=0.1, seed=5)
    run_batch(world.bundle, root / "out")
    warehouse = root / "out" / "warehouse.duckdb"
    # The model makes almost no false alerts on a world this small: raise some, as a noisier
    # model would, on the innocent people who scored highest, so the analysts meet both kinds.
    innocent = [s for s, r in person_roles(warehouse, world.truth).items() if r == "none"]
    con = duckdb.connect(str(warehouse))
    con.execute(
        """UPDATE subject_scores SET flagged = 1, role = 'consumer' WHERE subject_id IN (
             SELECT subject_id FROM subject_scores WHERE subject_id IN (SELECT unnest(?))
             ORDER BY score DESC, subject_id LIMIT 12)""",
        [innocent],
    )
    con.close()
    return warehouse, world.truth


def person_roles(warehouse: Path, truth: Path) -> dict[str, str]:
    """Each subject's true role by the majority of its records' persons."""
    with (truth / "persons.csv").open(newline="") as fh:
        role = {r["person_id"]: r["role"] for r in csv.DictReader(fh)}
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute(
        f"""SELECT s.subject_id, arg_max(p.person_id, 1) FROM subject_records s
            JOIN read_csv('{truth / 'parties.csv'}', all_varchar=true) p USING (provider, record_id, party)
            GROUP BY 1"""
    ).fetchall()
    con.close()
    return {s: role.get(p, "none") for s, p in rows}


def test_training_from_dispositions(small_run: tuple[Path, Path], tmp_path: Path) -> None:
    warehouse, truth = small_run
    ops = OpsStore(f"sqlite:///{tmp_path / 'ops.db'}")
    with ops.session() as s:
        create_user(s, "sue", "long enough password", "supervisor")
    sync_from_run(ops, warehouse, "sue")
    roles = person_roles(warehouse, truth)
    with pytest.raises(UserError, match="needs at least 3 cases"):
        train_from_dispositions(ops, warehouse, tmp_path / "w.json", min_each=3)
    decided = {"tp": 0, "fp": 0}
    with ops.session() as s:
        sue = s.scalars(select(User)).one()
        for case in s.scalars(select(Case).where(Case.kind == "subject")).all():
            truly = roles.get(case.subjects[0].subject_id, "none") != "none"
            change_state(s, get_case(s, case.ref), "closed_tp" if truly else "closed_fp", sue)
            decided["tp" if truly else "fp"] += 1
    assert decided["tp"] >= 3 and decided["fp"] >= 3, decided
    disp, models = train_from_dispositions(ops, warehouse, tmp_path / "w.json", min_each=3)
    assert (disp.positive_cases, disp.negative_cases) == (decided["tp"], decided["fp"])
    assert disp.positive_transactions > 0 and disp.negative_transactions > disp.positive_transactions
    written = json.loads((tmp_path / "w.json").read_text())
    assert written["trained_on"]["positive_cases"] == decided["tp"]
    assert models.transaction.metrics["positives"] == disp.positive_transactions
    # the learnt transaction model separates what the analysts confirmed from the rest
    assert models.transaction.metrics["ap_calibration"] > 0.5
