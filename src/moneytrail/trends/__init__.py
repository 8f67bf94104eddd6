"""Trends: flagged activity per month by corridor, channel, amount band and typology,
and the categories whose share rises beyond its past variation.

- :func:`build_trends` builds a :class:`TrendReport` from a warehouse;
- :func:`write_csv` and :func:`write_html` write it out (`moneytrail trends`).
"""

from moneytrail.trends.changes import Change, ChangeResult, ChangeRule, detect_changes
from moneytrail.trends.monthly import AMOUNT_BANDS, DIMENSIONS, TYPOLOGY_RULES, monthly_breakdown
from moneytrail.trends.report import TrendReport, build_trends, write_csv, write_html

__all__ = [
    "AMOUNT_BANDS",
    "DIMENSIONS",
    "TYPOLOGY_RULES",
    "Change",
    "ChangeResult",
    "ChangeRule",
    "TrendReport",
    "build_trends",
    "detect_changes",
    "monthly_breakdown",
    "write_csv",
    "write_html",
]
