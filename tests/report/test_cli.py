"""`report goaml` and `export ftm` on cases of the operational store (SQLite): files and audit entries."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moneytrail.cli import app
from moneytrail.errors import UserError
from moneytrail.opstore import OpsStore
from moneytrail.opstore.audit import entries, verify
from moneytrail.opstore.users import create_user
from moneytrail.report.goaml_profile import load_profile

from .conftest import ReportWorld


@pytest.fixture
def ops(tmp_path: Path, report_world: ReportWorld) -> tuple[str, str]:
    """A fresh SQLite store with an analyst and a liaison, and the world's cases; (url, a case ref)."""
    from moneytrail.cases import list_cases, sync_from_run

    url = f"sqlite:///{tmp_path / 'ops.db'}"
    store = OpsStore(url)
    with store.session() as s:
        create_user(s, "alice", "long enough password", "analyst")
        create_user(s, "lia", "long enough password", "liaison")
    sync_from_run(store, report_world.warehouse, "alice")
    with store.session() as s:
        ref = list_cases(s, kind="subject")[0].ref
    store.dispose()
    return url, ref


def _run(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output, result.exception


def test_report_goaml_writes_a_valid_file_and_audits_it(ops: tuple[str, str], tmp_path: Path) -> None:
    url, ref = ops
    out = tmp_path / "str.xml"
    code, output, exc = _run("report", "goaml", ref, "--out", str(out), "--user", "alice", "--database", url)
    assert code == 0, (output, exc)
    flat = " ".join(output.split())  # the console wraps long lines where it likes
    assert f"goAML STR for {ref}" in flat and "valid against goAMLSchema-5.0.1.xsd" in flat
    assert load_profile().schema.is_valid(str(out))
    store = OpsStore(url)
    with store.session() as s:
        actions = [(e.action, e.actor) for e in entries(s, target=f"case:{ref}")]
        assert ("case.read", "alice") in actions and ("report.goaml", "alice") in actions
        entry = next(e for e in entries(s, target=f"case:{ref}") if e.action == "report.goaml")
        assert entry.details["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
        assert verify(s).ok
    store.dispose()


def test_export_ftm_for_a_case_and_for_all_flagged(ops: tuple[str, str], tmp_path: Path,
                                                    report_world: ReportWorld) -> None:
    url, ref = ops
    case_file, all_file = tmp_path / "case.json", tmp_path / "all.json"
    code, output, exc = _run("export", "ftm", "--case", ref, "--out", str(case_file), "--user", "alice",
                             "--database", url)
    assert code == 0, (output, exc)
    code, output, exc = _run("export", "ftm", "--flagged", "--store", str(report_world.warehouse),
                             "--out", str(all_file), "--user", "alice", "--database", url)
    assert code == 0, (output, exc)
    assert "FollowTheMoney entities" in output
    assert len(all_file.read_text().splitlines()) > len(case_file.read_text().splitlines()) > 0
    store = OpsStore(url)
    with store.session() as s:
        exports = [e for e in entries(s) if e.action == "export.ftm"]
        assert {e.target for e in exports} == {f"case:{ref}", f"warehouse:{report_world.warehouse}"}
        digests = {e.details["sha256"] for e in exports}
        assert digests == {hashlib.sha256(p.read_bytes()).hexdigest() for p in (case_file, all_file)}
    store.dispose()


def test_refusals(ops: tuple[str, str], tmp_path: Path) -> None:
    url, ref = ops
    out = tmp_path / "x.json"
    cases = [
        (["export", "ftm", "--out", str(out), "--user", "alice", "--database", url], "--case CASE_ID or --flagged"),
        (["export", "ftm", "--case", ref, "--out", str(out), "--user", "lia", "--database", url], "may not read cases"),
        (["report", "goaml", "C-999999", "--out", str(out), "--user", "alice", "--database", url], "no case"),
        (["report", "goaml", ref, "--out", str(out), "--profile", str(tmp_path / "none.yaml"), "--user", "alice",
          "--database", url], "no goAML profile"),
    ]
    for args, message in cases:
        code, _output, exc = _run(*args)
        assert code != 0 and isinstance(exc, UserError) and message in str(exc), (args, exc)
    assert not out.exists()
