"""The trends report: the monthly breakdown, what is changing, and its CSV and HTML files."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from moneytrail.trends.changes import ChangeResult, ChangeRule, detect_changes
from moneytrail.trends.monthly import (
    AMOUNT_BANDS,
    DIMENSION_TITLES,
    DIMENSIONS,
    TYPOLOGY_RULES,
    category_order,
    monthly_breakdown,
    monthly_totals,
)


@dataclass
class TrendReport:
    breakdown: pd.DataFrame  # see monthly.monthly_breakdown
    totals: pd.DataFrame  # month, flagged, usd
    result: ChangeResult
    rule: ChangeRule
    store: Path | None = None

    @property
    def months(self) -> list[date]:
        return list(self.totals["month"])

    @property
    def empty(self) -> bool:
        return self.breakdown.empty

    def rising(self, dimension: str) -> dict[str, float]:
        """Rising categories of a dimension, each with the share above which it was named."""
        return {c.category: c.threshold for c in self.result.changes if c.dimension == dimension}

    def table(self, dimension: str, last: int | None = None, top: int | None = None) -> pd.DataFrame:
        """Rows: categories (amount bands in band order, others largest first); columns: months."""
        sub = self.breakdown[self.breakdown["dimension"] == dimension]
        counts = sub.pivot_table(index="category", columns="month", values="flagged", aggfunc="sum", fill_value=0)
        counts = counts.reindex(category_order(self.breakdown, dimension))
        if last is not None:
            counts = counts.iloc[:, -last:]
        if top is not None and len(counts) > top:
            keep = [c for c in counts.index[:top]] + [c for c in counts.index[top:] if c in self.rising(dimension)]
            other = counts.drop(index=keep).sum().rename("other")
            counts = pd.concat([counts.loc[keep], other.to_frame().T])
        return counts


def build_trends(con: duckdb.DuckDBPyConnection, months: int | None = 12, rule: ChangeRule | None = None,
                 store: Path | None = None) -> TrendReport:
    rule = rule or ChangeRule()
    rule.check()
    breakdown = monthly_breakdown(con, months)
    totals = monthly_totals(breakdown) if not breakdown.empty else pd.DataFrame(columns=["month", "flagged", "usd"])
    return TrendReport(breakdown, totals, detect_changes(breakdown, rule), rule, store)


def write_csv(report: TrendReport, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    monthly = out / "trends_monthly.csv"
    frame = report.breakdown.copy()
    frame["month"] = [f"{m:%Y-%m}" for m in frame["month"]]
    frame["usd"] = frame["usd"].round(2)
    frame["share"] = frame["share"].round(4)
    frame.to_csv(monthly, index=False)
    changes = out / "trends_changes.csv"
    columns = ["dimension", "category", "recent_months", "recent_share", "recent_count", "past_months",
               "past_mean", "past_std", "threshold", "new", "z"]
    pd.DataFrame([c.row() for c in report.result.changes], columns=columns).round(4).to_csv(changes, index=False)
    return [monthly, changes]


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def write_html(report: TrendReport, out: Path, *, show_months: int = 12, top: int = 8) -> Path:
    """One self-contained page: charts as embedded PNG, tables, what is changing, the method."""
    from moneytrail.trends.charts import share_chart, totals_chart

    out.mkdir(parents=True, exist_ok=True)
    recent = report.result.recent_months
    sections = []
    for dim in DIMENSIONS:
        table = report.table(dim, last=show_months, top=top)
        sections.append({
            "title": DIMENSION_TITLES[dim],
            "chart": _data_uri(share_chart(report.breakdown, dim, report.rising(dim), recent)),
            "months": [f"{m:%Y-%m}" for m in table.columns],
            "rows": [(str(cat), [int(v) for v in row], cat in report.rising(dim)) for cat, row in table.iterrows()],
            "totals": [int(v) for v in table.sum()],
        })
    env = Environment(loader=PackageLoader("moneytrail.trends", "templates"), autoescape=select_autoescape())
    page = env.get_template("trends.html").render(
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        store=str(report.store) if report.store else "",
        first=f"{report.months[0]:%Y-%m}", last=f"{report.months[-1]:%Y-%m}",
        flagged=int(report.totals["flagged"].sum()), usd=float(report.totals["usd"].sum()),
        totals_chart=_data_uri(totals_chart(report.totals, recent)),
        changes=report.result.changes, note=report.result.note, rule=report.rule,
        sections=sections, typology_rules=TYPOLOGY_RULES, bands=[b[0] for b in AMOUNT_BANDS],
    )
    path = out / "trends.html"
    path.write_text(page, encoding="utf-8")
    return path
