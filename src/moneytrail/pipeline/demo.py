"""`moneytrail demo`: a synthetic world, the whole pipeline, and its results."""

from __future__ import annotations

import csv
from pathlib import Path

from rich.console import Console
from rich.table import Table


def run_demo(out: Path, *, scale: float, seed: int, console: Console, show: bool = True) -> None:
    from moneytrail.evaluate.evaluator import evaluate, write_json
    from moneytrail.pipeline.run import run_batch
    from moneytrail.synth.world import generate

    world = out / "world"
    results = out / "results"
    console.rule("[bold]1. A synthetic world[/]")
    generated = generate(world, scale=scale, seed=seed, show_progress=True, console=console)
    console.print(f"{generated.summary['transactions']:,} transactions written to {generated.bundle}")
    console.rule("[bold]2. The batch run[/]")
    store = results / "warehouse.duckdb"
    if store.exists():
        store.unlink()  # a demo always starts from a fresh warehouse
    run_batch(generated.bundle, results, console=console)
    console.rule("[bold]3. Against the ground truth[/]")
    evaluation = evaluate(generated.truth, results)
    write_json(evaluation, results / "evaluation.json")
    if show:
        show_results(results, evaluation, console)
    console.print(f"\nResults: {results}\nWorld and truth: {world}")


def show_results(results: Path, evaluation: dict[str, object], console: Console) -> None:
    with (results / "subjects.csv").open(newline="") as fh:
        subjects = sorted(csv.DictReader(fh), key=lambda r: -float(r["score"]))
    table = Table(title="Top subjects for review")
    for col in ("subject_id", "role", "score", "reasons"):
        table.add_column(col)
    for row in subjects[:15]:
        table.add_row(row["subject_id"], row["role"], f"{float(row['score']):.3f}", row["reasons"][:80])
    console.print(table)
    from moneytrail.evaluate.evaluator import headline

    wanted = ("transactions: average precision", "transactions: precision", "transactions: recall",
              "subjects: consumer precision", "subjects: consumer recall", "subjects: lone consumer recall",
              "subjects: facilitator precision", "subjects: facilitator recall", "quarantine: recall")
    figures = dict(headline(evaluation))
    table = Table(title="Against the ground truth (full table: moneytrail evaluate)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in wanted:
        if figures.get(name) is not None:
            table.add_row(name, f"{float(figures[name] or 0):.3f}")
    console.print(table)
