"""Graph feedback and fragment-aware features of the subject models (session 6)."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from moneytrail.schema import REFERRAL_SUBJECTS, REFERRALS
from moneytrail.scoring import build_subject_features, score
from moneytrail.scoring.model import LogisticModel, ModelSet, load_models
from moneytrail.scoring.train import _main_fragments

try:  # tests/ may or may not be a package
    from tests.indicators.builders import tx, warehouse
except ModuleNotFoundError:
    from indicators.builders import tx, warehouse  # type: ignore[no-redef]


def _operation(extra: list[dict] | None = None) -> list[dict]:
    """Three payers abroad pay a head (maria santos) and a relative (rosa santos); rosa hands over at home."""
    rows = []
    for i, (s, c) in enumerate([("john smith", "US"), ("peter wilson", "AU"), ("mark brown", "GB")]):
        for k in range(3):
            rows.append(tx(day=i * 10 + k, s=s, s_country=c, r="maria santos", usd=60, hour=23, memo="pang-aral",
                           dob="1965-01-01", record_id=f"H{i}{k}"))
        rows.append(tx(day=i * 10 + 5, s=s, s_country=c, r="rosa santos", usd=60, hour=23, memo="pang-aral",
                       dob="1965-01-01", record_id=f"L{i}"))
    rows.append(tx(day=40, s="rosa santos", s_country="PH", r="maria santos", r_country="PH", usd=150,
                   fmt="wallet-csv", record_id="FWD"))
    # rosa also pays a shop (a merchant payment is no hand-over)
    rows.append(tx(day=41, s="rosa santos", s_country="PH", r="sari sari store", r_country="PH", usd=20,
                   fmt="wallet-csv", txn_type="payment", record_id="SHOP"))
    for i in range(30):  # ordinary domestic payments, and one to a neighbour from an ordinary person
        rows.append(tx(day=i, s=f"person{i} wilson", r="corner shop", s_country="GB", r_country="GB",
                       usd=12.5 + i, record_id=f"N{i}"))
    rows.append(tx(day=3, s="ana reyes", s_country="PH", r="lorna cruz", r_country="PH", usd=30,
                   fmt="wallet-csv", record_id="NB"))
    return rows + (extra or [])


def _feats(con: duckdb.DuckDBPyConnection, cols: str) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in con.execute(f"SELECT subject_id, {cols} FROM mt_subf").fetchall()}


def test_collecting_from_receivers_of_abuse_like_money() -> None:
    wh = warehouse(None, _operation())
    score(wh.con)
    f = _feats(wh.con, "log_coll_risky, log_fwd_risky")
    assert f["maria santos|PH"][0] == math.log(2)  # collects one hand-over from a risky receiver
    assert f["rosa santos|PH"][1] == math.log(2)  # hands over to another risky receiver
    assert f["sari sari store|PH"] == (0.0, 0.0)  # a merchant payment is no hand-over
    assert f["lorna cruz|PH"] == (0.0, 0.0)  # the payer receives nothing from abroad
    # the same transfer from a receiver whose receipts do not score as abuse does not count
    wh.con.execute("UPDATE transaction_scores SET score = 0.01 WHERE record_id LIKE 'L%'")
    build_subject_features(wh.con)
    f = _feats(wh.con, "log_coll_risky, log_fwd_risky")
    assert f["maria santos|PH"] == (0.0, 0.0) and f["rosa santos|PH"] == (0.0, 0.0)
    wh.close()


def test_receipts_are_counted_with_same_name_fragments() -> None:
    # the head is split: "m santos" (same person, an initial) is paid by her payers too
    extra = [tx(day=50 + k, s="john smith", s_country="US", r="m santos", usd=60, hour=23, record_id=f"M{k}")
             for k in range(2)]
    wh = warehouse(None, _operation(extra))
    score(wh.con)
    f = _feats(wh.con, "log_in, log_in_group")
    assert f["maria santos|PH"] == (math.log(10), math.log(12))  # 9 of her own, 2 of the fragment's
    # rosa santos is another person (another given name): her receipts stay her own
    assert f["rosa santos|PH"] == (math.log(4), math.log(4))
    wh.close()


def test_split_model_is_fitted_on_each_facilitators_largest_subject() -> None:
    sdf = pd.DataFrame({
        "person_key": ["a", "a", "a", "b", "b", "c"],
        "role": ["facilitator", "facilitator", "facilitator", "intermediary", "intermediary", "facilitator"],
        "log_in": [0.7, 2.3, 0.7, 0.7, 1.0, 0.0],
        "log_senders": [0.7, 1.1, 0.7, 0.7, 0.7, 0.0],
    })
    # a's one-receipt fragments are left out; b's subjects (not a facilitator) all stay; c has one subject
    assert _main_fragments(sdf).tolist() == [False, True, False, True, True, True]
    assert isinstance(_main_fragments(sdf), np.ndarray)


def test_a_quick_hand_over_counts_and_a_late_one_does_not() -> None:
    # rosa passes on 50 of the 60 she received on day 25 within hours; FWD (day 40, 150) is neither
    quick = [tx(day=25.2, s="rosa santos", s_country="PH", r="maria santos", r_country="PH", usd=50,
                fmt="wallet-csv", record_id="QUICK")]
    wh = warehouse(None, _operation(quick))
    score(wh.con)
    f = _feats(wh.con, "log_coll_quick, log_coll_risky")
    assert f["maria santos|PH"] == (math.log(2), math.log(3))  # one quick of two hand-overs
    wh.close()
    wh = warehouse(None, _operation())
    score(wh.con)
    assert _feats(wh.con, "log_coll_quick")["maria santos|PH"] == (0.0,)
    wh.close()


def _add_report(con: duckdb.DuckDBPyConnection, subject: str, record: str) -> None:
    """What the referrals stage leaves: a platform report naming an account as suspected facilitator."""
    for t in (REFERRALS, REFERRAL_SUBJECTS):
        con.execute(t.ddl())
    con.execute("INSERT INTO referrals (provider, record_id, platform, incident_type) "
                "VALUES ('vc', ?, 'VidChat', 'live_streaming_abuse')", [record])
    con.execute("INSERT INTO referral_subjects (provider, record_id, report_id, subject_ref, role) "
                "VALUES ('vc', ?, ?, 'f', 'suspect_facilitator')", [record + "#f", record])
    con.execute("INSERT INTO subject_records VALUES (?, 'vc', ?, 'f')", [subject, record + "#f"])


def test_a_report_the_money_does_not_bear_out() -> None:
    wh = warehouse(None, _operation())
    _add_report(wh.con, "lorna cruz|PH", "REP1")  # pays and receives at home only: nothing from abroad
    _add_report(wh.con, "maria santos|PH", "REP2")  # receives from abroad: the report is borne out
    _add_report(wh.con, "joy tan|PH", "REP3")  # no payment at all: the report is all there is
    score(wh.con)
    f = _feats(wh.con, "f_MT56, report_unsupported")
    assert f["lorna cruz|PH"] == (1, 1)
    assert f["maria santos|PH"] == (1, 0)
    assert f["joy tan|PH"] == (1, 0)
    wh.close()


def test_a_receiving_subject_below_even_odds_is_not_flagged(tmp_path: Path) -> None:
    """Ten receivers at ~1.0 keep the facilitator queue's mean above 0.9 even with one at 0.35 in it:
    the expected-precision rule alone would flag that one too."""
    base = load_models()
    models = ModelSet(base.transaction, dict(base.subject), dict(base.trained_on), dict(base.thresholds))
    # p = 0.999 at three receipts (ln 4), 0.35 at one (ln 2)
    models.subject["facilitator"] = LogisticModel(["log_in"], [10.85], -8.14)
    models.subject["intermediary"] = LogisticModel(["log_in"], [0.0], -20.0)
    models.subject.pop("facilitator_vs_intermediary", None)
    path = tmp_path / "w.json"
    path.write_text(models.to_json())
    rows = [tx(day=k + i, s=f"payer{k}{i} smith", r=f"receiver{k} cruz", record_id=f"R{k}{i}")
            for k in range(10) for i in range(3)]
    rows.append(tx(day=5, s="payer lone", r="lone receiver", record_id="ONE"))
    wh = warehouse(None, rows)
    score(wh.con, weights=path)
    got = {r[0]: (r[1], round(r[2], 2), r[3]) for r in wh.con.execute(
        "SELECT subject_id, role, score, flagged FROM subject_scores WHERE subject_id LIKE '%|PH'").fetchall()}
    wh.close()
    assert got["lone receiver|PH"] == ("facilitator", 0.35, 0)
    assert all(got[f"receiver{k} cruz|PH"] == ("facilitator", 1.0, 1) for k in range(10))
