"""`moneytrail resolve`: registered into the main command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def register(app: typer.Typer) -> None:
    @app.command("resolve")
    def resolve_command(
        store: Annotated[
            Path | None,
            typer.Option("--store", help="DuckDB warehouse file (default: $MONEYTRAIL_STORE or your data directory)."),
        ] = None,
        threshold: Annotated[
            float, typer.Option("--threshold", help="Match probability a scored pair needs to link two records.")
        ] = 0.995,
        incremental: Annotated[
            bool,
            typer.Option("--incremental/--full", help="Only link records added since the last run."),
        ] = False,
        out: Annotated[
            Path | None, typer.Option("--out", help="Also write OUT/subject_records.csv.")
        ] = None,
    ) -> None:
        """Resolve parties and referral subjects into subjects (subject_records)."""
        from moneytrail.resolve import ResolveSettings, resolve, resolve_new
        from moneytrail.store import Warehouse

        console = Console(stderr=True)
        settings = ResolveSettings(threshold=threshold)
        with Warehouse(store) as wh:
            report = resolve_new(wh.con, settings) if incremental else resolve(wh.con, settings)
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                target = out / "subject_records.csv"
                wh.con.execute(
                    f"COPY (SELECT subject_id, provider, record_id, party FROM subject_records "
                    f"ORDER BY subject_id, provider, record_id, party) TO '{target}' (HEADER, DELIMITER ',')"
                )
        report.print(console)
