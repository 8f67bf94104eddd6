"""Command: ``moneytrail trends``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from moneytrail.errors import UserError
from moneytrail.trends.changes import ChangeRule
from moneytrail.trends.monthly import DIMENSION_TITLES, DIMENSIONS
from moneytrail.trends.report import TrendReport

out = Console()
_DEFAULT = ChangeRule()


def print_report(report: TrendReport, console: Console, show_months: int = 6, top: int = 8) -> None:
    """What is changing first, then one table per dimension (counts per month, latest last)."""
    if report.empty:
        console.print("[yellow]no flagged transactions in the store: nothing to report[/]")
        return
    result = report.result
    if result.note:
        console.print(f"[yellow]{result.note}[/]")
    elif result.changes:
        table = Table(title="What is changing", title_justify="left")
        for col, just in (("dimension", "left"), ("category", "left"), ("recent", "right"), ("past mean ± std", "right"),
                          ("threshold", "right"), ("n recent", "right")):
            table.add_column(col, justify=just)  # type: ignore[arg-type]
        for c in result.changes:
            past = "new" if c.new else f"{c.past_mean:.1%} ± {c.past_std:.1%}"
            table.add_row(DIMENSION_TITLES[c.dimension], f"[bold red]{c.category}[/]", f"{c.recent_share:.1%}",
                          past, f"{c.threshold:.1%}", str(c.recent_count))
        console.print(table)
        for c in result.changes:
            console.print(f"  • {c.sentence()}", highlight=False)
    else:
        console.print("[green]nothing rose beyond its past variation in the recent months[/]")
    # the latest months matter most: show as many as fit rather than let rich drop the last
    show_months = max(1, min(show_months, (console.width - 30) // 10))
    for dim in DIMENSIONS:
        frame = report.table(dim, last=show_months, top=top)
        rising = report.rising(dim)
        table = Table(title=f"{DIMENSION_TITLES[dim]}: flagged transactions per month (share)",
                      title_justify="left", box=box.SIMPLE_HEAD)
        table.add_column(DIMENSION_TITLES[dim], no_wrap=True, max_width=28, overflow="ellipsis")
        for m in frame.columns:
            table.add_column(f"{m:%b %y}", justify="right", no_wrap=True, min_width=7)
        totals = frame.sum()
        for cat, row in frame.iterrows():
            label = f"[bold red]{cat} ▲[/]" if cat in rising else str(cat)
            cells = [f"{int(v)} {v / totals[m]:>3.0%}" if totals[m] else "0" for m, v in row.items()]
            table.add_row(label, *cells)
        console.print(table)


def register(app: typer.Typer) -> None:
    @app.command()
    def trends(
        store: Annotated[Path | None, typer.Option("--store", help="DuckDB warehouse file (default: $MONEYTRAIL_STORE or the data directory).")] = None,
        out_dir: Annotated[Path | None, typer.Option("--out", help="Directory for trends_monthly.csv, trends_changes.csv and trends.html (default: a trends folder beside the store).")] = None,
        months: Annotated[int, typer.Option("--months", help="Months analysed, ending at the latest month with flagged activity.")] = 12,
        recent: Annotated[int, typer.Option("--recent", help="Latest months compared with the months before.")] = _DEFAULT.recent,
        k: Annotated[float, typer.Option("--k", help="Named when the recent share exceeds past mean + k x std.")] = _DEFAULT.k,
        min_count: Annotated[int, typer.Option("--min-count", help="Fewest flagged transactions in the recent months to name a category.")] = _DEFAULT.min_count,
        min_rise: Annotated[float, typer.Option("--min-rise", help="Smallest rise above the past mean, as a share (0.03 = 3 points).")] = _DEFAULT.min_rise,
        min_history: Annotated[int, typer.Option("--min-history", help="Past months with flagged activity needed.")] = _DEFAULT.min_history,
        show: Annotated[int, typer.Option("--show", help="Months shown in the printed tables.")] = 6,
    ) -> None:
        """Flagged activity per month by corridor, channel, amount band and typology, and what is changing."""
        from moneytrail.store import Warehouse, default_store_path
        from moneytrail.trends.report import build_trends, write_csv, write_html

        rule = ChangeRule(recent=recent, k=k, min_count=min_count, min_rise=min_rise, min_history=min_history)
        rule.check()
        path = store or default_store_path()
        if not path.exists():
            raise UserError(f"no warehouse at {path}: run `moneytrail run BUNDLE --out DIR` and pass --store DIR/warehouse.duckdb")
        with out.status("counting flagged activity per month ..."), Warehouse(path) as wh:
            report = build_trends(wh.con, months, rule, store=path)
        print_report(report, out, show_months=show)
        if report.empty:
            return
        target = out_dir or path.parent / "trends"
        with out.status("drawing charts ..."):
            files = [*write_csv(report, target), write_html(report, target)]
        for f in files:
            out.print(f"wrote {f}", highlight=False)
