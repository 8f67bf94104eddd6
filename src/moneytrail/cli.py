"""The `moneytrail` command line: a thin layer over the stage packages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from moneytrail.errors import UserError

app = typer.Typer(
    name="moneytrail",
    help="Trace the payments behind live-streamed child sexual abuse.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)

StoreOption = Annotated[
    Path | None,
    typer.Option("--store", help="DuckDB warehouse file (default: under your data directory, or $MONEYTRAIL_STORE)."),
]


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Files or bundle directories to ingest.")],
    format: Annotated[str | None, typer.Option("--format", help="Format id; detected when omitted.")] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="Provider name; from the folder when omitted.")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="IANA zone for timestamps without an offset.")] = None,
    store: StoreOption = None,
) -> None:
    """Ingest files or bundles into the warehouse."""
    from moneytrail.ingest import ingest_paths
    from moneytrail.store import Warehouse

    with Warehouse(store) as wh:
        report = ingest_paths(wh, files, fmt=format, provider=provider, timezone=timezone)
    report.print(console)


@app.command()
def status(store: StoreOption = None) -> None:
    """What the warehouse holds, per provider and format, and the quarantine count."""
    from moneytrail.ingest.status import print_status
    from moneytrail.store import Warehouse

    with Warehouse(store) as wh:
        print_status(wh, console)


@app.command()
def run(
    bundle: Annotated[Path, typer.Argument(help="Bundle directory (see the data contract).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the output files.")],
    store: Annotated[
        Path | None,
        typer.Option("--store", help="DuckDB warehouse file (default: OUT/warehouse.duckdb)."),
    ] = None,
    model: Annotated[str, typer.Option("--model", help="default, or baseline (the published rule).")] = "default",
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML or TOML file of indicator parameters and scoring options.")
    ] = None,
    target_precision: Annotated[
        float | None, typer.Option("--target-precision", help="Flag transactions at this precision (default 0.95).")
    ] = None,
    subject_target_precision: Annotated[
        float | None, typer.Option("--subject-target-precision", help="Precision of each role's queue (default 0.9).")
    ] = None,
    alert_budget: Annotated[
        float | None, typer.Option("--alert-budget", help="Flag this many transactions per million instead.")
    ] = None,
    weights: Annotated[Path | None, typer.Option("--weights", help="Model weights from `moneytrail train`.")] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="duckdb (default), or spark: the stages after ingestion on Apache Spark.")
    ] = "duckdb",
    spark_master: Annotated[
        str, typer.Option("--spark-master", help="Spark master URL for --engine spark.")
    ] = "local[*]",
) -> None:
    """Ingest a bundle and write transaction_scores, subjects, subject_records and quarantine."""
    from moneytrail.pipeline.run import run_batch

    scoring = {
        "config": config,
        "target_precision": target_precision,
        "subject_target_precision": subject_target_precision,
        "alert_budget": alert_budget,
        "weights": weights,
    }
    run_batch(bundle, out, store=store, model=model, console=console,
              scoring={k: v for k, v in scoring.items() if v is not None},
              engine=engine, spark_master=spark_master)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Where to write the demo world and results.")] = Path("moneytrail-demo"),
    scale: Annotated[float, typer.Option("--scale", help="World size; 1 is about 50,000 transactions.")] = 0.2,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    open_results: Annotated[bool, typer.Option("--open/--no-open", help="Show the results when done.")] = True,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="End with the workspace open in a browser.")] = True,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port of the workspace.")] = 8000,
) -> None:
    """Generate a synthetic world, run the whole pipeline, open cases, and open the workspace on it."""
    from moneytrail.pipeline.demo import run_demo

    run_demo(out, scale=scale, seed=seed, console=console, show=open_results, serve=serve, port=port)


# Each stage package adds its own commands; the CLI stays a thin table of contents.
def _register_stage_commands() -> None:
    from moneytrail.cases import cli as cases_cli
    from moneytrail.evaluate import cli as evaluate_cli
    from moneytrail.network import cli as network_cli
    from moneytrail.opstore import cli as opstore_cli
    from moneytrail.realtime import cli as realtime_cli
    from moneytrail.referrals import cli as referrals_cli
    from moneytrail.report import cli as report_cli
    from moneytrail.resolve import cli as resolve_cli
    from moneytrail.scoring import cli as scoring_cli
    from moneytrail.share import cli as share_cli
    from moneytrail.synth import cli as synth_cli
    from moneytrail.trends import cli as trends_cli
    from moneytrail.web import cli as web_cli

    for module in (synth_cli, evaluate_cli, resolve_cli, referrals_cli, scoring_cli, network_cli,
                   opstore_cli, cases_cli, trends_cli, web_cli, report_cli, share_cli, realtime_cli):
        module.register(app)


_register_stage_commands()


def main() -> None:
    try:
        app()
    except UserError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        sys.exit(2)
