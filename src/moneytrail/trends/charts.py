"""Charts of the monthly breakdown, as PNG bytes (matplotlib, no display needed)."""

from __future__ import annotations

import io
from datetime import date

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from moneytrail.trends.monthly import DIMENSION_TITLES, category_order

RISE = "#c0392b"
BAR = "#34495e"
PALETTE = ("#2e86c1", "#28b463", "#af7ac5", "#f39c12", "#8c564b", "#7f8c8d", "#17becf", "#5d6d7e")


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _labels(months: list[date]) -> list[str]:
    return [f"{m:%b}\n{m:%Y}" if i == 0 or m.month == 1 else f"{m:%b}" for i, m in enumerate(months)]


def totals_chart(totals: pd.DataFrame, recent: tuple[date, ...] = ()) -> bytes:
    """Flagged transactions per month; the recent months compared with the past in red."""
    months = list(totals["month"])
    fig, ax = plt.subplots(figsize=(9, 2.8))
    colours = [RISE if m in recent else BAR for m in months]
    ax.bar(range(len(months)), totals["flagged"], color=colours, width=0.7)
    ax.set_xticks(range(len(months)), _labels(months), fontsize=8)
    ax.set_ylabel("flagged transactions")
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title("Flagged activity per month", loc="left", fontsize=11)
    return png(fig)


def share_chart(breakdown: pd.DataFrame, dimension: str, rising: dict[str, float],
                recent: tuple[date, ...] = (), top: int = 6) -> bytes:
    """Monthly share of each category: rising ones bold red, the largest others in colour.

    `rising` maps a rising category to the share above which it was named; that threshold
    is drawn as a dotted line. Categories beyond the `top` largest (and not rising) are
    summed into "other" so the legend stays readable.
    """
    sub = breakdown[breakdown["dimension"] == dimension]
    pivot = sub.pivot_table(index="month", columns="category", values="share", aggfunc="sum").sort_index()
    order = category_order(breakdown, dimension)
    keep = [c for c in order if c in rising] + [c for c in order if c not in rising][: max(top - len(rising), 1)]
    if dimension == "amount_band":
        keep = [c for c in order if c in keep]
    rest = [c for c in pivot.columns if c not in keep]
    months = list(pivot.index)
    x = range(len(months))
    fig, ax = plt.subplots(figsize=(9, 3.4))
    if recent and recent[0] in months:
        start = months.index(recent[0])
        ax.axvspan(start - 0.5, len(months) - 0.5, color="#fdecea", zorder=0, label="_recent")
        ax.text(len(months) - 0.5, 1.0, "recent", transform=ax.get_xaxis_transform(), ha="right",
                va="bottom", fontsize=8, color=RISE)
    colour = iter(PALETTE * 3)
    for cat in keep:
        series = pivot[cat].fillna(0) * 100
        if cat in rising:
            ax.plot(x, series, color=RISE, linewidth=2.6, marker="o", markersize=4, label=f"{cat} (rising)", zorder=3)
            ax.axhline(rising[cat] * 100, color=RISE, linewidth=0.9, linestyle=":", zorder=1,
                       label=f"named above {rising[cat]:.1%}" + (f" ({cat})" if len(rising) > 1 else ""))
        else:
            ax.plot(x, series, color=next(colour), linewidth=1.4, label=cat, zorder=2)
    if rest:
        other = pivot[rest].fillna(0).sum(axis=1) * 100
        ax.plot(x, other, color="#bbbbbb", linewidth=1.2, linestyle="--", label=f"other ({len(rest)})", zorder=1)
    ax.set_xticks(list(x), _labels(months), fontsize=8)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("% of flagged")
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(f"{DIMENSION_TITLES[dimension]}: share of flagged transactions", loc="left", fontsize=11)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return png(fig)
