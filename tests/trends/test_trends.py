"""moneytrail trends: monthly breakdown, naming what is changing, CSV/HTML output, CLI."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from moneytrail.cli import app
from moneytrail.errors import UserError
from moneytrail.trends import (
    ChangeRule,
    build_trends,
    detect_changes,
    monthly_breakdown,
    write_csv,
    write_html,
)
from moneytrail.trends.monthly import AMOUNT_BANDS, flagged_labels_sql

from .world import Month, build, month, steady


def _named(con: duckdb.DuckDBPyConnection, rule: ChangeRule | None = None) -> set[tuple[str, str]]:
    result = detect_changes(monthly_breakdown(con), rule)
    assert result.note is None, result.note
    return {(c.dimension, c.category) for c in result.changes}


def test_breakdown_counts_only_flagged_and_shares_sum_to_one() -> None:
    con = build(steady(4))
    df = monthly_breakdown(con)
    corridors = df[df["dimension"] == "corridor"]
    jan = corridors[corridors["month"] == month(0)].set_index("category")["flagged"]
    assert jan.to_dict() == {"US → PH": 30, "AU → PH": 10, "GB → PH": 10}  # the 20 unflagged are left out
    sums = df.groupby(["month", "dimension"])["share"].sum()
    assert sums.round(9).eq(1.0).all()


def test_a_corridor_whose_share_jumps_in_the_last_month_is_named() -> None:
    named = _named(build(steady(8, jump_last=25)))
    assert ("corridor", "AU → PH") in named
    assert ("corridor", "US → PH") not in named and ("corridor", "GB → PH") not in named
    # every AU payment is a web remittance of 70 USD: its channel and band rise with it
    assert ("channel", "remittance · web") in named
    assert ("amount_band", "USD 50-100") in named


def test_flat_activity_names_nothing() -> None:
    assert _named(build(steady(8))) == set()


def test_a_rise_too_small_in_count_is_not_named() -> None:
    months = steady(8)
    months[-1].add(3, sender_country="SE")  # new corridor, but only 3 payments
    assert ("corridor", "SE → PH") not in _named(build(months))
    assert ("corridor", "SE → PH") in _named(build(months), ChangeRule(min_count=3))


def test_a_new_corridor_is_named_as_new() -> None:
    months = steady(8)
    months[-1].add(12, sender_country="DE", receiver_country="CO")
    result = detect_changes(monthly_breakdown(build(months)))
    new = [c for c in result.changes if c.category == "DE → CO"]
    assert new and new[0].new and new[0].past_mean == 0
    assert "is new" in new[0].sentence() or "new:" in new[0].sentence()


def test_recent_window_pools_the_latest_months() -> None:
    months = steady(9)
    for m in months[-2:]:
        m.add(12, sender_country="AU", channel="web", usd=70.0)
    result = detect_changes(monthly_breakdown(build(months)), ChangeRule(recent=2))
    au = [c for c in result.changes if c.category == "AU → PH"]
    assert au and len(au[0].recent_months) == 2 and au[0].past_months == 7


def test_one_month_of_data_gives_a_clear_message() -> None:
    result = detect_changes(monthly_breakdown(build(steady(1))))
    assert result.changes == []
    assert result.note is not None and "only 1 month" in result.note and "2025-01" in result.note


def test_months_option_limits_the_window() -> None:
    con = build(steady(8, jump_last=25))
    df = monthly_breakdown(con, months=3)
    assert sorted(set(df["month"])) == [month(5), month(6), month(7)]
    assert detect_changes(df).note is not None  # 2 past months < min_history 3
    with pytest.raises(UserError):
        monthly_breakdown(con, months=0)


def test_no_flagged_data_is_reported_as_such() -> None:
    months = [Month(month(i)).add(10, flagged=0) for i in range(3)]
    report = build_trends(build(months))
    assert report.empty and report.result.changes == []
    assert report.result.note and "no flagged" in report.result.note


def test_missing_scores_table_is_a_user_error() -> None:
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE transactions (provider VARCHAR, record_id VARCHAR)")
    with pytest.raises(UserError, match="transaction_scores"):
        monthly_breakdown(con)


def test_bad_rule_is_a_user_error() -> None:
    with pytest.raises(UserError, match="--recent"):
        ChangeRule(recent=0).check()
    with pytest.raises(UserError, match="--min-history"):
        ChangeRule(min_history=1).check()


def test_typology_rules() -> None:
    m = Month(month(0))
    m.add(1, sender_role="consumer", receiver_role="facilitator", reasons="MT01;MT51")
    m.add(2, format="wallet-csv", txn_type="withdrawal", channel=None, sender_role="facilitator",
          receiver_role="", sender_country="PH")
    m.add(3, sender_role="consumer", receiver_role="facilitator")
    m.add(4, sender_role="consumer", receiver_role="intermediary")
    m.add(5, sender_role="consumer", receiver_role="")
    m.add(6, format="wallet-csv", txn_type="send_money", channel=None, sender_role="intermediary",
          receiver_role="facilitator", sender_country="PH")
    m.add(7, sender_role="", receiver_role="")
    df = monthly_breakdown(build([m]))
    got = df[df["dimension"] == "typology"].set_index("category")["flagged"].to_dict()
    assert got == {
        "platform-linked payment": 1,
        "cash-out": 2,
        "consumer → facilitator": 3,
        "consumer → intermediary": 4,
        "consumer → unflagged receiver": 5,
        "collection between facilitators": 6,
        "flagged payment, no flagged subject": 7,
    }
    channels = df[df["dimension"] == "channel"].set_index("category")["flagged"].to_dict()
    assert channels["e-wallet · withdrawal"] == 2 and channels["e-wallet · send money"] == 6


def _reference_band(usd: float) -> str:
    for label, lo, hi in AMOUNT_BANDS:
        if (lo is None or usd >= lo) and (hi is None or usd < hi):
            return label
    raise AssertionError(usd)


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=0, max_value=5000, allow_nan=False).map(lambda x: round(x, 2)))
def test_amount_band_matches_the_published_bands(usd: float) -> None:
    con = build([Month(month(0)).add(1, usd=usd)])
    band = con.execute(f"SELECT amount_band FROM ({flagged_labels_sql(con)})").fetchone()
    assert band is not None and band[0] == _reference_band(usd)


def test_band_edges() -> None:
    assert [_reference_band(x) for x in (14.99, 15, 49.99, 50, 100, 199.99, 200)] == [
        "USD <15", "USD 15-50", "USD 15-50", "USD 50-100", "USD 100-200", "USD 100-200", "USD 200+"]


def test_csv_and_html_are_written_and_self_contained(tmp_path: Path) -> None:
    report = build_trends(build(steady(8, jump_last=25)))
    files = write_csv(report, tmp_path)
    changes = pd.read_csv(tmp_path / "trends_changes.csv")
    assert ("corridor", "AU → PH") in set(zip(changes["dimension"], changes["category"], strict=True))
    monthly = pd.read_csv(files[0])
    assert set(monthly["dimension"]) == {"corridor", "channel", "amount_band", "typology"}
    html = write_html(report, tmp_path).read_text("utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html)
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 5  # totals + one per dimension
    assert "AU → PH</strong> rose to" in html


def test_cli_prints_and_writes(tmp_path: Path) -> None:
    store = tmp_path / "w.duckdb"
    con = build(steady(8, jump_last=25))
    con.execute(f"ATTACH '{store}' AS disk")
    con.execute("COPY FROM DATABASE memory TO disk")
    con.close()
    res = CliRunner().invoke(app, ["trends", "--store", str(store), "--out", str(tmp_path / "t")])
    assert res.exit_code == 0, res.output
    assert "What is changing" in res.output and "AU → PH" in res.output
    assert (tmp_path / "t" / "trends.html").stat().st_size > 10_000
    res = CliRunner().invoke(app, ["trends", "--store", str(store), "--out", str(tmp_path / "t"), "--months", "2"])
    assert res.exit_code == 0 and "only 2 months" in res.output


def test_cli_on_a_missing_store_is_a_user_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["trends", "--store", str(tmp_path / "none.duckdb")])
    assert res.exit_code != 0 and isinstance(res.exception, UserError)
