"""Name what is changing: categories whose share of flagged activity rises beyond its past.

For each dimension (corridor, channel, amount band, typology) and each category, the
share of the month's flagged transactions it holds is a monthly series. The latest
``recent`` months are pooled into one share and compared with the months before
("the past"). A category is named when, together:

- its recent share exceeds ``mean + k * std`` of its past monthly shares (sample std);
- its recent share is at least ``min_rise`` (share points) above the past mean, so a
  category that was flat (std near 0) is not named for a rounding-sized move;
- it holds at least ``min_count`` flagged transactions in the recent months.

A category with no past at all (mean 0, std 0) is named as *new* when the other two
conditions hold. At least ``min_history`` past months with flagged activity are needed;
with fewer, :func:`detect_changes` names nothing and says why.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date

import pandas as pd

from moneytrail.errors import UserError
from moneytrail.trends.monthly import DIMENSION_TITLES, DIMENSIONS


@dataclass(frozen=True)
class ChangeRule:
    """The parameters of "rises beyond its past variation" (CLI options of the same names)."""

    recent: int = 1
    k: float = 2.0
    min_count: int = 5
    min_rise: float = 0.03
    min_history: int = 3
    dimensions: tuple[str, ...] = DIMENSIONS

    def check(self) -> None:
        if self.recent < 1:
            raise UserError(f"--recent must be at least 1 month, not {self.recent}")
        if self.min_history < 2:
            raise UserError(f"--min-history must be at least 2 months (a spread needs two), not {self.min_history}")
        if self.k < 0 or self.min_count < 0 or not 0 <= self.min_rise < 1:
            raise UserError("--k and --min-count must be >= 0 and --min-rise a share between 0 and 1 "
                            f"(got k={self.k}, min-count={self.min_count}, min-rise={self.min_rise})")
        unknown = [d for d in self.dimensions if d not in DIMENSIONS]
        if unknown:
            raise UserError(f"unknown dimension {unknown[0]!r}; use {', '.join(DIMENSIONS)}")


@dataclass(frozen=True)
class Change:
    dimension: str
    category: str
    recent_months: tuple[date, ...]
    recent_share: float
    recent_count: int
    past_months: int
    past_mean: float
    past_std: float
    threshold: float

    @property
    def new(self) -> bool:
        return self.past_mean == 0.0

    @property
    def rise(self) -> float:
        return self.recent_share - self.past_mean

    @property
    def z(self) -> float:
        """How many past standard deviations the recent share lies above the past mean."""
        return self.rise / self.past_std if self.past_std > 0 else math.inf

    def period(self) -> str:
        first, last = self.recent_months[0], self.recent_months[-1]
        return f"{first:%Y-%m}" if first == last else f"{first:%Y-%m} to {last:%Y-%m}"

    def detail(self) -> str:
        """The sentence without the category's name: how much, when, against what."""
        if self.new:
            return (f"new: {self.recent_share:.1%} of flagged activity in {self.period()} "
                    f"({self.recent_count} transactions), none in the {self.past_months} months before")
        return (f"rose to {self.recent_share:.1%} of flagged activity in {self.period()} "
                f"({self.recent_count} transactions), from {self.past_mean:.1%} ± {self.past_std:.1%} "
                f"over the {self.past_months} months before (named above {self.threshold:.1%})")

    def sentence(self) -> str:
        return f"{DIMENSION_TITLES[self.dimension].lower()} {self.category} {self.detail()}"

    def row(self) -> dict[str, object]:
        d = asdict(self)
        d["recent_months"] = self.period()
        d["new"] = self.new
        d["z"] = None if math.isinf(self.z) else round(self.z, 2)
        return d


@dataclass(frozen=True)
class ChangeResult:
    changes: list[Change]
    note: str | None  # why nothing could be tested, if so
    recent_months: tuple[date, ...]
    past_months: tuple[date, ...]


def detect_changes(breakdown: pd.DataFrame, rule: ChangeRule | None = None) -> ChangeResult:
    """Categories of `breakdown` (see monthly.monthly_breakdown) whose share rises beyond its past."""
    rule = rule or ChangeRule()
    rule.check()
    if breakdown.empty:
        return ChangeResult([], "no flagged transactions: nothing to compare", (), ())
    totals = (breakdown[breakdown["dimension"] == DIMENSIONS[0]]
              .groupby("month")["flagged"].sum().sort_index())
    months = list(totals.index)
    active = [m for m in months if totals[m] > 0]
    recent = tuple(months[-rule.recent:])
    past = tuple(m for m in months[:-rule.recent] if m in active)
    if len(past) < rule.min_history:
        have = len(active)
        return ChangeResult(
            [], f"only {have} month{'s' if have != 1 else ''} of flagged activity "
                f"({', '.join(f'{m:%Y-%m}' for m in active)}): naming what is changing needs "
                f"{rule.min_history} past months plus {rule.recent} recent (see --min-history, --recent, --months)",
            recent, past)
    changes: list[Change] = []
    for dim in rule.dimensions:
        sub = breakdown[breakdown["dimension"] == dim]
        counts = sub.pivot_table(index="month", columns="category", values="flagged",
                                 aggfunc="sum", fill_value=0).reindex(months, fill_value=0)
        month_total = counts.sum(axis=1)
        recent_total = int(month_total.loc[list(recent)].sum())
        if recent_total == 0:
            continue
        shares = counts.loc[list(past)].div(month_total.loc[list(past)], axis=0)
        for category in counts.columns:
            n_recent = int(counts.loc[list(recent), category].sum())
            share = n_recent / recent_total
            mean = float(shares[category].mean())
            std = float(shares[category].std(ddof=1))
            threshold = mean + rule.k * std
            if n_recent >= rule.min_count and share > threshold and share - mean >= rule.min_rise:
                changes.append(Change(dim, str(category), recent, share, n_recent, len(past),
                                      mean, std, threshold))
    changes.sort(key=lambda c: (-c.z if not math.isinf(c.z) else -1e9, -c.rise))
    return ChangeResult(changes, None, recent, past)
