"""Configuration files: overrides apply, bad values give one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from moneytrail.errors import UserError
from moneytrail.indicators import build_config, compute_indicators, load_config

try:  # tests/ may or may not be a package
    from tests.indicators.builders import tx, warehouse
except ModuleNotFoundError:
    from indicators.builders import tx, warehouse  # type: ignore[no-redef]


def test_defaults_come_from_the_catalogue() -> None:
    cfg = build_config()
    assert cfg.value("MT01", "max_usd") == 200
    assert cfg.value("MT09", "min_age") == 40


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"indicators": {"MT01": {"max_usd": "lots"}}}, "indicators.MT01.max_usd: must be a number"),
        ({"indicators": {"MT01": {"max_usd": -5}}}, "indicators.MT01.max_usd: must be >= 0"),
        ({"indicators": {"MT03": {"start_hour": 25}}}, "must be <= 23"),
        ({"indicators": {"MT99": {"x": 1}}}, "indicators.MT99: no such indicator"),
        ({"indicators": {"MT01": {"maxusd": 1}}}, "MT01 has no parameter 'maxusd'"),
        ({"indicators": {"MT01": {"by_corridor": {"USPH": {"max_usd": 1}}}}}, "bad key 'USPH'"),
        ({"indicators": {"MT20": {"by_corridor": {"*-PH": {"min_count": 2}}}}}, "only transaction-level"),
        ({"indicators": {"MT04": {"words": []}}}, "non-empty list"),
        ({"high_risk_countries": ["Philippines"]}, "high_risk_countries"),
        ({"scoring": {"target_precision": 1.5}}, "scoring.target_precision"),
        ({"colour": "blue"}, "colour"),
        ({"disabled": ["MT77"]}, "disabled: no such indicator"),
    ],
)
def test_bad_values_are_one_line_user_errors(raw: dict, message: str) -> None:
    with pytest.raises(UserError) as exc:
        build_config(raw, source="my.yaml")
    text = str(exc.value)
    assert message in text
    assert "\n" not in text
    assert text.startswith("my.yaml")


def test_yaml_and_toml_files(tmp_path: Path) -> None:
    y = tmp_path / "c.yaml"
    y.write_text("indicators:\n  MT01:\n    max_usd: 150\n    by_corridor:\n      '*-TH': {max_usd: 120}\n")
    cfg = load_config(y)
    assert cfg.value("MT01", "max_usd") == 150
    assert cfg.overrides["MT01"]["max_usd"][0].key == "*-TH"
    t = tmp_path / "c.toml"
    t.write_text("[indicators.MT09]\nmin_age = 45\n[scoring]\nalert_budget = 500\n")
    cfg = load_config(t)
    assert cfg.value("MT09", "min_age") == 45
    assert cfg.alert_budget == 500
    bad = tmp_path / "bad.yaml"
    bad.write_text("indicators: [\n")
    with pytest.raises(UserError, match="cannot parse"):
        load_config(bad)
    with pytest.raises(UserError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_corridor_and_currency_overrides_change_what_fires() -> None:
    rows = [tx(record_id="PH", usd=150), tx(record_id="TH", usd=150, r_country="TH", r="malee srisuk"),
            tx(record_id="AUD", usd=150, amount=230, currency="AUD", s_country="AU")]
    cfg = build_config({"indicators": {"MT01": {"by_corridor": {"*-TH": {"max_usd": 120}},
                                                "by_currency": {"AUD": {"max_usd": 100}}}}})
    wh = warehouse(None, rows)
    compute_indicators(wh.con, cfg)
    fired = dict(wh.con.execute("SELECT record_id, f_MT01 FROM mt_txi").fetchall())
    assert fired == {"PH": 1, "TH": 0, "AUD": 0}
    thr = wh.con.execute("SELECT threshold FROM transaction_indicators WHERE record_id = 'PH' AND indicator_id = 'MT01'").fetchone()
    assert thr is not None and "5-200 USD" in thr[0]
    wh.close()


def test_disabled_indicator_never_fires() -> None:
    wh = warehouse(None, [tx(record_id="X", hour=23)])
    compute_indicators(wh.con, build_config({"disabled": ["MT03"]}))
    assert wh.con.execute("SELECT f_MT03 FROM mt_txi").fetchone() == (0,)
    wh.close()
