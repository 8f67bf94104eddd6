"""`moneytrail realtime split`, `score` and `replay` as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from moneytrail.cli import app
from moneytrail.errors import UserError
from moneytrail.realtime.feed import bundle_payments
from tests.realtime.conftest import World


def test_split_then_score_and_replay(world: World, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["realtime", "split", str(world.bundle), "--out", str(tmp_path / "early"), "--last", "50"])
    assert r.exit_code == 0, r.output
    assert "50 payments from then on are left to replay" in " ".join(r.output.split())
    early = [i for i in bundle_payments(tmp_path / "early") if i.ts is not None]
    assert early and max(i.ts for i in early if i.ts) <= min(i.ts for i in world.later[-50:] if i.ts)

    later = [i.body for i in world.later[:3]]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(b) + "\n" for b in later))
    r = runner.invoke(app, ["realtime", "score", str(tmp_path / "p.jsonl"), "--store", str(world.warehouse), "--json"])
    assert r.exit_code == 0, r.output
    answers = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    assert len(answers) == 3
    assert all(a["record_id"] in json.dumps(b) for a, b in zip(answers, later, strict=True))
    assert all(a["decision"] in ("allow", "review", "hold") for a in answers)

    r = runner.invoke(app, ["realtime", "replay", str(world.bundle), "--store", str(world.warehouse), "--limit", "40"])
    assert r.exit_code == 0, r.output
    assert "scored since" in r.output

    r = runner.invoke(app, ["realtime", "split", str(world.bundle), "--out", str(tmp_path / "x")])
    assert isinstance(r.exception, UserError) and "--last N or --at TIME" in str(r.exception)  # one line, exit 2
