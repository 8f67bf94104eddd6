"""The evaluator: a perfect oracle scores 1.0, a known imperfect run scores the hand-computed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moneytrail.evaluate.evaluator import evaluate, location_key
from moneytrail.evaluate.oracle import write_oracle
from moneytrail.synth import generate


def _write(p: Path, text: str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text.strip() + "\n")


@pytest.fixture
def hand(tmp_path: Path) -> tuple[Path, Path]:
    t = tmp_path / "truth"
    _write(t / "transactions.csv", """
provider,record_id,is_abuse,typology,person_from,person_to,malformed
p,t1,1,consumer_payment,C1,F1,0
p,t2,1,lone_payer_payment,C2,F1,0
p,t3,0,family_remittance,O1,R1,0
p,t4,0,legit,G1,R1,0
p,t5,1,cash_out,F1,F1,0
p,t6,0,legit,G1,G2,1
""")
    _write(t / "parties.csv", """
provider,record_id,party,person_id
p,t1,sender,C1
p,t1,receiver,F1
p,t2,sender,C2
p,t2,receiver,F1
p,t3,sender,O1
p,t3,receiver,R1
p,t4,sender,G1
p,t4,receiver,R1
p,t5,payer,F1
p,t5,payee,F1
p,t6,sender,G1
p,t6,receiver,G2
""")
    _write(t / "persons.csv", """
person_id,role,kind,lone,network_id,country
C1,consumer,consumer,0,,US
C2,consumer,consumer,1,,AU
F1,facilitator,family_facilitator,0,N00001,PH
O1,none,ofw,0,,SA
R1,none,ofw_family,0,,PH
G1,none,general,0,,US
G2,none,general,0,,US
""")
    _write(t / "malformed.csv", "provider,file,record_id,location,defect\np,p/f.csv,t6,line 7,bad_date")
    _write(t / "referrals.csv", "provider,record_id,person_id")
    o = tmp_path / "out"
    _write(o / "transaction_scores.csv", """
provider,record_id,score,flagged,reasons
p,t1,0.9,1,x
p,t2,0.2,0,
p,t3,0.8,1,x
p,t4,0.1,0,
""")
    _write(o / "subjects.csv", """
subject_id,role,score,flagged,reasons
S1,consumer,0.9,1,
S2,facilitator,0.7,1,
S3,consumer,0.6,1,
S4,none,0.1,0,
""")
    _write(o / "subject_records.csv", """
subject_id,provider,record_id,party
S1,p,t1,sender
S2,p,t1,receiver
S2,p,t2,receiver
S2,p,t5,payer
S3,p,t3,sender
S4,p,t3,receiver
S4,p,t4,receiver
S4,p,t2,sender
""")
    _write(o / "quarantine.csv", "provider,file,location,reason\np,bundle/p/f.csv,line 7,bad date\np,p/f.csv,line 9,junk")
    return t, o


def approx(x: float) -> pytest.approx:  # type: ignore[type-arg]
    return pytest.approx(x, abs=1e-9)


def test_known_imperfect_run(hand: tuple[Path, Path]) -> None:
    r = evaluate(*hand)
    tx = r["transactions"]
    assert tx["n"] == 5 and tx["positives"] == 3
    assert tx["average_precision"] == approx((1 + 2 / 3 + 3 / 5) / 3)
    assert (tx["precision"], tx["recall"]) == (approx(1 / 2), approx(1 / 3))
    assert tx["f1"] == approx(0.4)
    assert tx["coverage"] == approx(0.8)
    assert r["typology_recall"]["consumer_payment"]["recall"] == 1.0
    assert r["typology_recall"]["lone_payer_payment"]["recall"] == 0.0
    assert r["typology_recall"]["cash_out"]["recall"] == 0.0
    assert r["hard_negative_fpr"]["family_remittance"]["fpr"] == 1.0
    s = r["subjects"]
    assert (s["consumer"]["precision"], s["consumer"]["recall"]) == (0.5, 0.5)
    assert (s["facilitator"]["precision"], s["facilitator"]["recall"]) == (1.0, 1.0)
    assert (s["intermediary"]["precision"], s["intermediary"]["recall"]) == (1.0, 1.0)
    assert s["lone_consumer_recall"] == 0.0
    assert s["precision_at_k"]["50"] == approx(2 / 3)
    assert s["hard_negative_fpr"]["ofw"]["fpr"] == 1.0
    er = r["entity_resolution"]["all"]
    assert er["items"] == 10
    assert (er["pairwise_precision"], er["pairwise_recall"]) == (approx(4 / 6), approx(4 / 7))
    assert er["bcubed_precision"] == approx((8 + 2 / 3) / 10)
    assert er["bcubed_recall"] == approx(0.85)
    assert r["entity_resolution"]["senders"]["pairwise_precision"] == 1.0
    q = r["quarantine"]
    assert (q["recall"], q["precision"]) == (1.0, 0.5)


def test_missing_optional_files(hand: tuple[Path, Path]) -> None:
    truth, out = hand
    for name in ("subjects.csv", "subject_records.csv", "quarantine.csv"):
        (out / name).unlink()
    r = evaluate(truth, out)
    assert r["files_present"]["subjects"] is False
    assert r["transactions"]["coverage"] == approx(0.8)
    assert r["subjects"]["consumer"]["recall"] == 0.0
    assert r["quarantine"]["recall"] == 0.0
    assert r["entity_resolution"]["all"]["pairwise_recall"] == 0.0


def test_location_keys() -> None:
    assert location_key("line 12") == "line:12"
    assert location_key("/Envelope/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[3]") == "tx:3"
    assert location_key("somewhere") is None


def test_perfect_oracle_scores_one_everywhere(tmp_path: Path) -> None:
    world = generate(tmp_path / "w", scale=0.08, seed=5)
    out = write_oracle(world.truth, tmp_path / "oracle")
    r = evaluate(world.truth, out)

    def walk(d: object, path: str = "") -> None:
        if isinstance(d, dict):
            for k, v in d.items():
                walk(v, f"{path}/{k}")
        elif isinstance(d, float):
            if "fpr" in path:
                assert d == 0.0, path
            else:
                assert d == 1.0, path

    walk({k: r[k] for k in ("transactions", "typology_recall", "hard_negative_fpr", "subjects",
                            "entity_resolution", "quarantine")})
    assert r["quarantine"]["malformed"] > 0 and r["subjects"]["consumer"]["true"] > 0


def test_cli_writes_json_and_table(hand: tuple[Path, Path]) -> None:
    from moneytrail.cli import app

    truth, out = hand
    res = CliRunner().invoke(app, ["evaluate", "--truth", str(truth), "--out", str(out), "--beside", str(out)])
    assert res.exit_code == 0, res.output
    assert "average precision" in res.output
    data = json.loads((out / "evaluation.json").read_text())
    assert data["transactions"]["coverage"] == approx(0.8)
    assert "beside" in data
