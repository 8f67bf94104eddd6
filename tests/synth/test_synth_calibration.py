"""Calibration against domain/indicators.md, within the stated ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd

from moneytrail.synth import WorldResult
from moneytrail.synth.places import NIGHT_HOURS

PAY = ["consumer_payment", "lone_payer_payment", "syndicate_payment"]


def test_corridors(world: WorldResult) -> None:
    s = world.summary
    assert 0.4 <= s["consumer_flow_by_sender_country_count"]["US"] <= 0.6
    top = list(s["consumer_flow_by_sender_country_count"])[:5]
    assert top[0] == "US" and {"AU", "GB", "CA"} <= set(top)
    recv = s["consumer_flow_by_receiver_country_count"]
    assert next(iter(recv)) == "PH" and recv["PH"] > 0.5


def test_amounts_mostly_15_to_200_usd_and_round(world: WorldResult) -> None:
    s = world.summary
    assert s["abuse_payment_share_15_200_usd"] >= 0.8
    assert s["round_amount_share"]["abuse_payments"] > s["round_amount_share"]["legit_transfers"]


def test_night_time_bias(world: WorldResult) -> None:
    tx = pd.read_csv(world.truth / "transactions.csv", dtype=str)
    hour = tx["local_hour"].astype(int)
    night = hour.isin(list(NIGHT_HOURS))
    abuse = tx["typology"].isin(PAY)
    assert night[abuse].mean() > 0.4
    assert night[abuse].mean() > 2.5 * night[tx["typology"] == "family_remittance"].mean()


def test_heavy_tailed_payments_and_lone_payers(world: WorldResult) -> None:
    persons = pd.read_csv(world.truth / "persons.csv", dtype=str)
    cons = persons[persons["kind"] == "consumer"]
    n = cons["n_abuse_payments"].astype(int).to_numpy()
    lone = cons["lone"] == "1"
    assert abs(lone.mean() - 0.25) < 0.03
    assert (n[lone.to_numpy()] <= 2).all() and (n[~lone.to_numpy()] >= 3).all()
    top = np.sort(n)[::-1][: max(1, round(0.03 * len(n)))]
    assert top.sum() / n.sum() > 0.2
    assert n.max() >= 50


def test_fan_in_and_fan_out(world: WorldResult) -> None:
    assert world.summary["distinct_payers_per_receiver_mean"] > 2
    assert world.summary["distinct_receivers_per_consumer_mean"] > 1.2


def test_quick_cash_out(world: WorldResult) -> None:
    c = world.summary["cash_pickup_minutes_median"]
    assert c["abuse"] < 120 < c["legit"]


def test_hard_negatives_and_population(world: WorldResult) -> None:
    s = world.summary
    by_typ = s["transactions_by_typology"]
    for t in ("family_remittance", "student_support", "adult_webcam", "romance_scam", "charity_sponsorship",
              "supplier_payment", "offender_context", "cash_out", "intermediary_transfer"):
        assert by_typ[t] > 0, t
    roles = s["persons_by_role"]
    assert roles["none"] > 5 * (roles["consumer"] + roles["facilitator"] + roles["intermediary"])
    assert 0.03 < s["abuse_share"] < 0.25


def test_family_remittances_share_surname_and_are_larger(world: WorldResult) -> None:
    tx = pd.read_csv(world.truth / "transactions.csv", dtype=str)
    persons = pd.read_csv(world.truth / "persons.csv", dtype=str).set_index("person_id")
    fam = tx[tx["typology"] == "family_remittance"]
    sur_from = persons.loc[fam["person_from"], "name"].str.split().str[-1].to_numpy()
    sur_to = persons.loc[fam["person_to"], "name"].str.split().str[-1].to_numpy()
    assert (sur_from == sur_to).mean() > 0.6
    abuse = tx[tx["typology"].isin(PAY)]
    assert fam["amount_usd"].astype(float).median() > 2 * abuse["amount_usd"].astype(float).median()


def test_escalation(world: WorldResult) -> None:
    tx = pd.read_csv(world.truth / "transactions.csv", dtype=str)
    pay = tx[tx["typology"] == "consumer_payment"].copy()
    pay["ts"] = pd.to_datetime(pay["ts_utc"])
    pay["usd"] = pay["amount_usd"].astype(float)
    heavy = pay.groupby("person_from").filter(lambda g: len(g) >= 10)
    first = heavy.sort_values("ts").groupby("person_from").head(3)["usd"].median()
    last = heavy.sort_values("ts").groupby("person_from").tail(3)["usd"].median()
    assert last > first
