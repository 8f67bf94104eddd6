"""Commands: ``expand``, ``communities``, ``places`` (and ``network`` to rerun the stage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

from moneytrail.errors import UserError

out = Console()
StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store", help="DuckDB warehouse file (default: moneytrail.store.default_store_path())."
    ),
]
TopOpt = Annotated[int, typer.Option("--top", help="How many rows to show.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _need(con: object, table: str) -> None:
    from moneytrail.store import table_exists

    if not table_exists(con, table):  # type: ignore[arg-type]
        raise UserError(
            f"the store has no {table} table: run `moneytrail run` (or `moneytrail network`) first"
        )


def register(app: typer.Typer) -> None:
    @app.command()
    def expand(
        seed: Annotated[str, typer.Argument(help="A subject id, account, phone or email.")],
        top: TopOpt = 50,
        store: StoreOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Rank the subjects connected to a seed (personalised PageRank), with the paths that link them."""
        from moneytrail.network.expand import expand as run_expand
        from moneytrail.store import Warehouse

        with Warehouse(store) as wh:
            _need(wh.con, "subject_records")
            seeds, found = run_expand(wh.con, seed, top)
        if as_json:
            print(
                json.dumps(
                    {"seed": seed, "subjects": seeds, "connected": [r.__dict__ for r in found]},
                    indent=2,
                )
            )
            return
        table = RichTable(title=f"connected to {seed} ({', '.join(seeds)})")
        for c in ("rank", "subject", "score", "role", "flagged", "path"):
            table.add_column(c)
        for r in found:
            path = "".join(
                (
                    ""
                    if k == 0
                    else (
                        " ≈ " if k - 1 in r.name_steps else " ~ " if k - 1 in r.kin_steps else " → "
                    )
                )
                + v
                for k, v in enumerate(r.path)
            )
            table.add_row(str(r.rank), r.subject_id, f"{r.score:.4f}", r.role, str(r.flagged), path)
        out.print(table)

    @app.command()
    def communities(top: TopOpt = 20, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
        """Facilitator networks and syndicates (Leiden), best score first."""
        from moneytrail.store import Warehouse

        with Warehouse(store) as wh:
            _need(wh.con, "community_summary")
            cur = wh.con.execute(
                "SELECT * FROM community_summary ORDER BY score DESC, facilitators DESC, total_usd DESC LIMIT ?",
                [top],
            )
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
        _print(cols, rows, "communities", as_json)

    @app.command()
    def places(
        top: TopOpt = 20,
        store: StoreOpt = None,
        as_json: JsonOpt = False,
        kind: Annotated[str | None, typer.Option("--kind", help="city, agent or country.")] = None,
    ) -> None:
        """Facilitators' collection points (payout city, agent, country), ranked, with the evidence."""
        from moneytrail.store import Warehouse

        with Warehouse(store) as wh:
            _need(wh.con, "places")
            where = "WHERE kind = ?" if kind else ""
            cur = wh.con.execute(
                f"""SELECT rank, kind, place, country, facilitators, payments, round(total_usd, 2) AS total_usd,
                           CAST(first AS DATE) AS first, CAST(last AS DATE) AS last FROM places {where} ORDER BY rank LIMIT ?""",
                ([kind] if kind else []) + [top],
            )
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
        _print(cols, rows, "places", as_json)

    @app.command()
    def network(store: StoreOpt = None) -> None:
        """Rerun the network stage on a scored store (graph, roles, propagation, communities, places)."""
        from moneytrail.network import run_network
        from moneytrail.store import Warehouse

        with Warehouse(store) as wh:
            _need(wh.con, "subject_records")
            times = run_network(wh.con)
        out.print(", ".join(f"{k} {v:.2f} s" for k, v in times.items()))


def _print(cols: list[str], rows: list[tuple[object, ...]], title: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps([dict(zip(cols, r, strict=True)) for r in rows], indent=2, default=str))
        return
    table = RichTable(title=title)
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in r])
    out.print(table)
