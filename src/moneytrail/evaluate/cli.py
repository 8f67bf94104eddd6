"""`moneytrail evaluate`: score a run's output against a synthetic world's truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command(name="evaluate")(evaluate)


def _fmt(v: float | int | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else f"{v:,}"


def evaluate(
    truth: Annotated[Path, typer.Option("--truth", help="The world's truth directory (DIR/truth from `moneytrail synth`).")],
    out: Annotated[Path, typer.Option("--out", help="The run's output directory (transaction_scores.csv, subjects.csv...).")],
    json_path: Annotated[Path | None, typer.Option("--json", help="Where to write the JSON (default OUT/evaluation.json).")] = None,
    beside: Annotated[Path | None, typer.Option("--beside", help="Another run's output (e.g. the baseline) to show in a second column.")] = None,
) -> None:
    """Score a run against the truth: detection, subjects, entity resolution, coverage and quarantine."""
    from moneytrail.errors import UserError
    from moneytrail.evaluate.evaluator import evaluate as run_eval
    from moneytrail.evaluate.evaluator import headline, write_json

    console = Console()
    if not out.is_dir():
        raise UserError(f"{out} is not a directory")
    res = run_eval(truth, out)
    target = json_path or out / "evaluation.json"
    other = None
    if beside is not None:
        other = run_eval(truth, beside)
        res["beside"] = {"out": str(beside), "result": other}
    write_json(res, target)
    t = Table(title=f"evaluation of {out}")
    t.add_column("metric")
    t.add_column("run", justify="right")
    if other is not None:
        t.add_column(beside.name if beside else "beside", justify="right")
        b = dict(headline(other))
    for name, value in headline(res):
        t.add_row(name, _fmt(value), *([_fmt(b.get(name))] if other is not None else []))
    console.print(t)
    console.print(f"written: {target}")
