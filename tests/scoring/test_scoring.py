"""Scores, calibration, flagging and explanations."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from rich.console import Console

from moneytrail.indicators import load_catalogue
from moneytrail.scoring import score
from moneytrail.scoring.explain import explain_subject, explain_transaction
from moneytrail.scoring.model import ModelSet, load_models
from moneytrail.scoring.train import fit

try:  # tests/ may or may not be a package
    from tests.indicators.builders import tx, warehouse
except ModuleNotFoundError:
    from indicators.builders import tx, warehouse  # type: ignore[no-redef]


def _world() -> list[dict]:
    rows = []
    # a consumer: night, memo, fan-out, small even amounts, VPN spend
    for i in range(6):
        rows.append(tx(day=i * 3, hour=23, memo="pang-aral", dob="1968-02-01", r=f"ana cruz{i % 3}", record_id=f"C{i}"))
    rows.append(tx(fmt="card-csv", mcc="4816", merchant="NordVPN", r_country="PA", s_key="john smith|US", record_id="V1"))
    # a family remittance: same surname, monthly, daytime
    for i in range(4):
        rows.append(tx(day=30 * i, s="jose santos", r="maria santos", usd=213.4, record_id=f"F{i}"))
    # ordinary domestic payments
    for i in range(40):
        rows.append(tx(day=i, s=f"person{i} wilson", r="corner shop", s_country="GB", r_country="GB",
                       usd=12.5 + i, record_id=f"N{i}"))
    return rows


def test_scores_every_transaction_and_subject() -> None:
    wh = warehouse(None, _world())
    score(wh.con)
    n_tx = wh.con.execute("SELECT count(*) FROM transaction_scores").fetchone()
    assert n_tx == (51,)
    bad = wh.con.execute("SELECT count(*) FROM transaction_scores WHERE score < 0 OR score > 1 OR score IS NULL").fetchone()
    assert bad == (0,)
    top = wh.con.execute("SELECT record_id FROM transaction_scores ORDER BY score DESC LIMIT 1").fetchone()
    assert top is not None and top[0].startswith("C")
    c = wh.con.execute("SELECT score, reasons FROM transaction_scores WHERE record_id = 'C0'").fetchone()
    f = wh.con.execute("SELECT score FROM transaction_scores WHERE record_id = 'F0'").fetchone()
    assert c is not None and f is not None and c[0] > f[0]
    assert "MT05" in c[1].split(";") and "MT03" in c[1].split(";")
    role = wh.con.execute("SELECT role, flagged FROM subject_scores WHERE subject_id = 'john smith|US'").fetchone()
    assert role is not None and role[0] == "consumer"
    roles = {r[0] for r in wh.con.execute("SELECT DISTINCT role FROM subject_scores").fetchall()}
    assert roles <= {"consumer", "facilitator", "intermediary", "none"}
    wh.close()


def test_alert_budget_flags_exactly_the_budget() -> None:
    wh = warehouse(None, _world())
    score(wh.con, alert_budget=100_000)  # 10% of 51 transactions -> 5
    flagged = wh.con.execute("SELECT count(*) FROM transaction_scores WHERE flagged = 1").fetchone()
    assert flagged == (5,)
    lowest_flagged = wh.con.execute("SELECT min(score) FROM transaction_scores WHERE flagged = 1").fetchone()
    highest_not = wh.con.execute("SELECT max(score) FROM transaction_scores WHERE flagged = 0").fetchone()
    assert lowest_flagged is not None and highest_not is not None and lowest_flagged[0] >= highest_not[0]
    score(wh.con, target_precision=0.999999)
    strict = wh.con.execute("SELECT count(*) FROM transaction_scores WHERE flagged = 1").fetchone()
    score(wh.con, target_precision=0.5)
    loose = wh.con.execute("SELECT count(*) FROM transaction_scores WHERE flagged = 1").fetchone()
    assert strict is not None and loose is not None and strict[0] <= loose[0]
    wh.close()


def test_calibration_is_reliable_on_held_out_data() -> None:
    """Fit on one sample, Platt on a held-out part, check reliability on a fresh sample."""
    rng = np.random.default_rng(7)
    true_w = np.array([2.0, 1.5, -1.0, 0.5, 3.0])

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        X = (rng.random((n, 5)) < 0.3).astype(float)
        p = 1 / (1 + np.exp(-(X @ true_w - 3.0)))
        return X, (rng.random(n) < p).astype(int)

    X, y = sample(8_000)
    hold = rng.random(len(y)) < 0.3
    model = fit(X, y, hold, [f"x{i}" for i in range(5)])
    Xt, yt = sample(8_000)
    z = model.platt_a * (Xt @ np.array(model.weights) + model.intercept) + model.platt_b
    p = 1 / (1 + np.exp(-z))
    bins = np.digitize(p, [0.1, 0.2, 0.4, 0.6, 0.8])
    for b in np.unique(bins):
        sel = bins == b
        if sel.sum() >= 200:
            assert abs(p[sel].mean() - yt[sel].mean()) < 0.06, (b, p[sel].mean(), yt[sel].mean())


def test_shipped_weights_cover_the_catalogue() -> None:
    models = load_models()
    assert isinstance(models, ModelSet)
    cat = load_catalogue()
    assert all(f"f_{i.id}" in models.transaction.features for i in cat.indicators if i.level != "network")
    # network-level indicators feed the subject models only
    assert all(f"f_{i.id}" in models.subject["facilitator"].features for i in cat.by_level("network"))
    text = models.to_json()
    assert ModelSet.from_json(text).transaction.weights == models.transaction.weights


def test_explain_transaction_and_subject() -> None:
    wh = warehouse(None, _world())
    score(wh.con)
    buf = io.StringIO()
    console = Console(file=buf, width=200)
    models = load_models()
    explain_transaction(wh.con, models, "mto", "C0", console)
    text = buf.getvalue()
    assert "score" in text and "MT05" in text and "pang-aral" in text
    assert "FATF 2025 [S]" in text  # the source of MT03
    assert "local hour >= 22" in text  # threshold
    buf.truncate(0)
    explain_subject(wh.con, models, "john smith|US", console)
    text = buf.getvalue()
    assert "consumer" in text and "Transactions behind it" in text and "C0" in text
    wh.close()


def test_cli_lists_and_shows(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from moneytrail.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["indicators", "list"])
    assert res.exit_code == 0 and "MT01" in res.output
    res = runner.invoke(app, ["indicators", "show", "MT05"])
    assert res.exit_code == 0 and "pang-aral" in res.output and "AMLC" in res.output
    res = runner.invoke(app, ["indicators", "weights"])
    assert res.exit_code == 0 and "MT01" in res.output


def test_explain_link_delegates_to_entity_resolution(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    import moneytrail.resolve as resolve
    from moneytrail.cli import app
    from moneytrail.store import Warehouse

    Warehouse(tmp_path / "s.duckdb").close()
    seen = {}

    def fake_explain(con, a, b):  # type: ignore[no-untyped-def]
        seen["args"] = (a, b)
        return "EXPLANATION"

    monkeypatch.setattr(resolve, "explain_link", fake_explain)
    monkeypatch.setattr(resolve, "render_link", lambda e: f"rendered {e}")
    res = CliRunner().invoke(app, ["explain", "--link", "p:1:sender", "q:2:payer", "--store", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 0, res.output
    assert seen["args"] == ("p:1:sender", "q:2:payer")
    assert "rendered EXPLANATION" in res.output


def _family_operation() -> list[dict]:
    """Two payers abroad pay the head (maria santos) and a relative (rosa santos), who hands over at home."""
    rows = []
    for i, (s, c) in enumerate([("john smith", "US"), ("peter wilson", "AU"), ("mark brown", "GB")]):
        for k in range(3):
            rows.append(tx(day=i * 10 + k, s=s, s_country=c, r="maria santos", usd=60, hour=23, record_id=f"H{i}{k}"))
        rows.append(tx(day=i * 10 + 5, s=s, s_country=c, r="rosa santos", usd=60, hour=23, record_id=f"L{i}"))
    rows.append(tx(day=40, s="rosa santos", s_country="PH", r="maria santos", r_country="PH", usd=150,
                   fmt="wallet-csv", record_id="FWD"))
    for i in range(30):  # ordinary domestic payments
        rows.append(tx(day=i, s=f"person{i} wilson", r="corner shop", s_country="GB", r_country="GB",
                       usd=12.5 + i, record_id=f"N{i}"))
    return rows


def test_network_indicators_feed_the_subject_models_only() -> None:
    wh = warehouse(None, _family_operation())
    score(wh.con)
    con = wh.con
    feats = {r[0]: r[1:] for r in con.execute(
        "SELECT subject_id, f_MT53, f_MT54, f_MT60 FROM mt_subf WHERE subject_id IN ('rosa santos|PH', 'maria santos|PH')"
    ).fetchall()}
    assert feats["rosa santos|PH"] == (1, 0, 1)  # hands over to the head, minor beside her (same family name)
    assert feats["maria santos|PH"] == (0, 1, 0)  # collects from a receiver of her own payers
    fired = {r[0] for r in con.execute(
        "SELECT indicator_id FROM subject_indicators WHERE subject_id = 'rosa santos|PH'").fetchall()}
    assert {"MT53", "MT60"} <= fired
    # the transaction model (and so the real-time path) does not read them
    cols = {r[0] for r in con.execute("DESCRIBE mt_txf").fetchall()}
    assert "f_MT53" not in cols and "f_MT01" in cols
    buf = io.StringIO()
    explain_subject(con, load_models(), "rosa santos|PH", Console(file=buf, width=200))
    assert "MT53" in buf.getvalue()
    wh.close()


def test_split_threshold_best_f1_over_people() -> None:
    from moneytrail.scoring.model import LogisticModel
    from moneytrail.scoring.train import split_threshold

    # one feature; its value is the (uncalibrated) probability: identity-like model
    model = LogisticModel(["x"], [1.0], 0.0)
    z = np.array([3.0, 3.0, 3.0, 1.0, 1.0, 0.2, 0.1])  # sigmoid: .95 .95 .95 .73 .73 .55 .52
    y = np.array([1, 1, 1, 0, 0, 1, 0])
    # subjects 0-2 are fragments of one person: recall counts people
    people = ["a", "a", "b", "c", "d", "e", "f"]
    t = split_threshold(model, z.reshape(-1, 1), y, people)
    assert t == 0.75  # above the two intermediaries at .73, below the facilitators at .95
    # without people, every subject counts for recall; the threshold is the same here
    assert split_threshold(model, z.reshape(-1, 1), y) == 0.75


def test_train_command_checks_its_arguments(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from moneytrail.cli import app
    from moneytrail.errors import UserError

    def error(args: list[str]) -> str:
        res = CliRunner().invoke(app, args)
        assert res.exit_code != 0 and isinstance(res.exception, UserError), res.output
        return str(res.exception)

    assert "comma-separated integers" in error(["train", "--seeds", "101,x"])
    assert "do not combine" in error(["train", "--seeds", "101", "--truth", str(tmp_path)])
    assert "--seeds" in error(["train"])


def test_a_consumer_is_flagged_only_with_an_abuse_like_payment(tmp_path: Path) -> None:
    """Sender-level evidence alone (here: escalating amounts) does not flag a consumer."""
    from moneytrail.scoring.model import LogisticModel

    rows = [tx(day=7 * i, usd=40 + 30 * i, r_country="GH", record_id=f"E{i}") for i in range(6)]
    rows += [tx(day=i, s=f"person{i} wilson", r="corner shop", s_country="GB", r_country="GB", record_id=f"N{i}")
             for i in range(20)]
    base = load_models()

    def run(tx_intercept: float) -> tuple[str, int]:
        models = ModelSet(LogisticModel(["is_xb_p2p"], [0.0], tx_intercept), dict(base.subject))
        models.subject["consumer"] = LogisticModel(["f_MT24"], [12.0], -6.0)  # escalation: p ~ 1
        path = tmp_path / f"w{tx_intercept}.json"
        path.write_text(models.to_json())
        wh = warehouse(None, rows)
        score(wh.con, weights=path)
        row = wh.con.execute("SELECT role, flagged FROM subject_scores WHERE subject_id = 'john smith|US'").fetchone()
        wh.close()
        assert row is not None
        return row[0], row[1]

    assert run(-10.0) == ("consumer", 0)  # no payment scores as abuse: not flagged
    assert run(10.0) == ("consumer", 1)  # its payments do: flagged


def test_a_romance_course_does_not_take_the_receivers_reputation() -> None:
    """A sender whose transfers climb steeply to one payee (MT35) is scored on its own fires:
    the payee's fan-in (MT40) counts on the payments of its other senders only."""
    rows = [tx(day=10 * i, s="ann jones", s_country="GB", usd=50 * 2 ** i, record_id=f"V{i}") for i in range(5)]
    rows += [tx(day=i, s=s, s_country=c, record_id=f"C{i}") for i, (s, c) in
             enumerate([("john smith", "US"), ("peter wilson", "AU"), ("mark brown", "GB")])]
    wh = warehouse(None, rows)
    score(wh.con)
    got = dict(wh.con.execute("SELECT record_id, f_MT40 FROM mt_txf WHERE record_id IN ('V4', 'C0')").fetchall())
    assert got == {"V4": 0, "C0": 1}
    fired = wh.con.execute("SELECT f_MT35 FROM mt_subi WHERE subject_id = 'ann jones|GB'").fetchone()
    assert fired == (1,)
    wh.close()


def test_a_report_fragment_is_not_flagged_on_its_own(tmp_path: Path) -> None:
    """A reported facilitator account with no payment, beside a viewer who pays abroad (MT66), is not
    flagged even when its score is high; the same report with a viewer who pays nobody flags it."""
    from moneytrail.schema import REFERRAL_SUBJECTS, REFERRALS
    from moneytrail.scoring.model import LogisticModel

    base = load_models()
    models = ModelSet(base.transaction, dict(base.subject), dict(base.trained_on), dict(base.thresholds))
    models.subject["facilitator"] = LogisticModel(["f_MT56"], [12.0], -6.0)
    models.subject["intermediary"] = LogisticModel(["f_MT56"], [0.0], -8.0)
    models.subject.pop("facilitator_vs_intermediary", None)
    path = tmp_path / "w.json"
    path.write_text(models.to_json())

    def flagged(viewer: str) -> tuple[str, int]:
        wh = warehouse(None, [tx(), tx(day=1)] + [tx(day=i, s=f"person{i} wilson", r="corner shop", s_country="GB",
                                                      r_country="GB", record_id=f"N{i}") for i in range(10)])
        con = wh.con
        for t in (REFERRALS, REFERRAL_SUBJECTS):
            con.execute(t.ddl())
        con.execute("INSERT INTO referrals (provider, record_id, platform, incident_type) "
                    "VALUES ('vc', 'R1', 'VidChat', 'live_streaming_abuse')")
        for ref, subject, role in (("s1", viewer, "suspect_viewer"), ("s2", "lorna|PH", "suspect_facilitator")):
            con.execute("INSERT INTO referral_subjects (provider, record_id, report_id, subject_ref, role) "
                        "VALUES ('vc', ?, 'R1', ?, ?)", [f"R1#{ref}", ref, role])
            con.execute("INSERT INTO subject_records VALUES (?, 'vc', ?, ?)", [subject, f"R1#{ref}", ref])
        score(con, weights=path)
        row = con.execute("SELECT role, flagged FROM subject_scores WHERE subject_id = 'lorna|PH'").fetchone()
        wh.close()
        assert row is not None
        return row[0], row[1]

    assert flagged("john smith|US") == ("facilitator", 0)  # the viewer pays maria santos: a fragment
    assert flagged("nobody|US") == ("facilitator", 1)  # the report is all there is
