"""`moneytrail demo`: a synthetic world, the whole pipeline, and its results."""

from __future__ import annotations

import csv
from pathlib import Path

from rich.console import Console
from rich.table import Table

DEMO_USERS = (("analyst", "analyst"), ("supervisor", "supervisor"), ("liaison", "liaison"), ("admin", "admin"))


def run_demo(out: Path, *, scale: float, seed: int, console: Console, show: bool = True,
             serve: bool = False, port: int = 8000) -> None:
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
    console.rule("[bold]4. Cases for the analysts[/]")
    ops_url, passwords = prepare_workspace(out, store, console)
    console.print(f"\nResults: {results}\nWorld and truth: {world}")
    if serve:
        from moneytrail.web.cli import serve as serve_workspace

        console.rule("[bold]5. The workspace[/]")
        console.print("Log in as " + ", ".join(f"[bold]{u}[/] / {p}" for u, p in passwords.items()))
        serve_workspace(store, port=port, open_browser=True, ops_url=ops_url)


def prepare_workspace(out: Path, store: Path, console: Console) -> tuple[str, dict[str, str]]:
    """A fresh operational store beside the demo, its users, and the run's alerts as cases."""
    import secrets

    from moneytrail.cases import sync_from_run
    from moneytrail.opstore import OpsStore
    from moneytrail.opstore.users import create_user

    db = out / "workspace.db"
    db.unlink(missing_ok=True)
    url = f"sqlite:///{db.resolve()}"
    ops = OpsStore(url)
    passwords = {name: f"{name}-{secrets.token_hex(4)}" for name, _ in DEMO_USERS}
    with ops.session() as s:
        for name, role in DEMO_USERS:
            create_user(s, name, passwords[name], role)
    report = sync_from_run(ops, store, "admin")
    ops.dispose()
    (out / "workspace-users.txt").write_text(
        "".join(f"{u} {p}\n" for u, p in passwords.items()), encoding="utf-8"
    )
    console.print(f"{report.created} cases opened from the run's alerts in {db}; "
                  f"users and passwords in {out / 'workspace-users.txt'}")
    return url, passwords


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
