"""Commands: ``indicators`` (list, show, weights), ``train`` and ``explain``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

from moneytrail.errors import UserError

out = Console()
StoreOpt = Annotated[Path | None, typer.Option("--store", help="DuckDB warehouse file (default: moneytrail.store.default_store_path()).")]
WeightsOpt = Annotated[Path | None, typer.Option("--weights", help="Weights file (default: the shipped weights.json).")]


def register(app: typer.Typer) -> None:
    indicators = typer.Typer(help="The indicator catalogue and the model weights.", no_args_is_help=True)
    app.add_typer(indicators, name="indicators")

    @indicators.command("list")
    def list_() -> None:
        """Every indicator with its role, level and sources."""
        from moneytrail.indicators import load_catalogue

        cat = load_catalogue()
        table = RichTable(title=f"moneytrail indicator catalogue ({len(cat.indicators)} indicators)")
        for c in ("id", "title", "role", "level", "source"):
            table.add_column(c)
        for i in cat.indicators:
            table.add_row(i.id, i.title, i.role, i.level, i.cite())
        out.print(table)

    @indicators.command("show")
    def show(indicator_id: Annotated[str, typer.Argument(help="Indicator id, e.g. MT01.")]) -> None:
        """One indicator: definition, parameters, sources and SQL."""
        from moneytrail.indicators import load_catalogue

        ind = load_catalogue().get(indicator_id)
        if ind is None:
            raise UserError(f"no indicator {indicator_id!r}; see `moneytrail indicators list`")
        out.print(f"[bold]{ind.id}[/] {ind.title}\nrole: {ind.role}   level: {ind.level}\n{ind.definition}")
        out.print(f"threshold: {ind.threshold}")
        for name, p in ind.params.items():
            out.print(f"  param {name} = {p.default!r}  {p.doc}")
        for s in ind.source_refs:
            out.print(f"  source: {s.agency}, {s.document}, {s.year} [{s.tag}]")
        out.print(f"fires: {ind.fires}\nvalue: {ind.value}")

    @indicators.command("weights")
    def weights(weights: WeightsOpt = None) -> None:
        """The models' weights per indicator, as an analyst reads them."""
        from moneytrail.indicators import load_catalogue
        from moneytrail.scoring.model import load_models

        models = load_models(weights)
        titles = {i.id: i.title for i in load_catalogue().indicators}
        table = RichTable(title=f"Weights (trained on: {models.trained_on})")
        table.add_column("feature")
        table.add_column("indicator")
        for name in ("transaction", "consumer", "facilitator", "intermediary"):
            table.add_column(name, justify="right")
        feats: list[str] = []
        all_models = [models.transaction] + [models.subject[r] for r in ("consumer", "facilitator", "intermediary")]
        for m in all_models:
            feats += [f for f in m.features if f not in feats]
        table.add_row("(intercept)", "", *[f"{m.intercept:+.2f}" for m in all_models])
        for f in feats:
            ind = f.split("_", 1)[-1]
            table.add_row(f, titles.get(ind, ""), *[(f"{m.weight_of(f):+.2f}" if f in m.features else "") for m in all_models])
        table.add_row("(Platt a, b)", "", *[f"{m.platt_a:.2f}, {m.platt_b:+.2f}" for m in all_models])
        out.print(table)

    @app.command()
    def train(
        world: Annotated[list[Path] | None, typer.Option("--world", help="A directory written by `moneytrail synth` (bundle/ and truth/); repeat for several worlds.")] = None,
        seeds: Annotated[str | None, typer.Option("--seeds", help="Generate (when missing) and train on the worlds of these seeds, e.g. 101,102,103.")] = None,
        scale: Annotated[float, typer.Option("--scale", help="World scale with --seeds.")] = 0.5,
        work: Annotated[Path, typer.Option("--work", help="Where the --seeds worlds and their stores are kept.")] = Path("/tmp/moneytrail-train"),
        reuse_stores: Annotated[bool, typer.Option("--reuse-stores", help="Use the worlds' train-warehouse.duckdb as they are (skip ingest and resolve).")] = False,
        truth: Annotated[Path | None, typer.Option("--truth", help="The world's truth folder (with --store holding the ingested, resolved world).")] = None,
        store: StoreOpt = None,
        output: Annotated[Path | None, typer.Option("--output", help="Where to write the weights (default: the shipped weights.json).")] = None,
        from_dispositions: Annotated[bool, typer.Option("--from-dispositions", help="Learn from analysts' closed cases over the run in --store.")] = False,
        database: Annotated[str | None, typer.Option("--database", help="Operational store URL, with --from-dispositions.")] = None,
    ) -> None:
        """Fit the transparent models on synthetic worlds' truth, or on analysts' dispositions.

        The shipped weights are rebuilt by `moneytrail train --seeds 101,102,103,104,105,106,109,110,111` (never report those seeds).
        """
        from moneytrail.scoring.model import shipped_weights_path
        from moneytrail.scoring.train import synth_worlds, train_world, train_worlds

        if from_dispositions:
            from moneytrail.cases.dispositions import train_from_dispositions
            from moneytrail.opstore import OpsStore

            if store is None or output is None:
                raise UserError("--from-dispositions needs --store (the run's warehouse) and --output (a new weights file)")
            disp, models = train_from_dispositions(OpsStore(database), store, output)
            out.print(f"learnt from {disp.positive_cases} true-positive and {disp.negative_cases} false-positive cases "
                      f"({disp.positive_transactions:,} abuse and {disp.negative_transactions:,} other transactions)")
            out.print(f"wrote {output}; use it with `moneytrail run --weights {output}`")
            return
        target = output or shipped_weights_path()
        if seeds is not None or world:
            if truth is not None or store is not None:
                raise UserError("--truth/--store train on one store; do not combine them with --world or --seeds")
            seed_list: list[int] | None = None
            worlds = list(world or [])
            if seeds is not None:
                try:
                    seed_list = [int(x) for x in seeds.split(",") if x.strip()]
                except ValueError:
                    raise UserError(f"--seeds takes comma-separated integers, e.g. 101,102,103; got {seeds!r}") from None
                if not seed_list or scale <= 0:
                    raise UserError("--seeds needs at least one seed and a positive --scale")
                worlds += synth_worlds(seed_list, scale, work)
            models = train_worlds(worlds, target, seeds=seed_list, scale=scale, reuse_stores=reuse_stores)
        else:
            if truth is None:
                raise UserError("give --seeds 101,102,103, --world DIR, or --truth DIR/truth with --store STORE")
            models = train_world(None, truth, store, target)
        out.print(f"wrote {target}")
        out.print(f"transaction model: {models.transaction.metrics}")
        for role, m in models.subject.items():
            out.print(f"{role} model: {m.metrics}")

    @app.command()
    def explain(
        provider: Annotated[str | None, typer.Argument(help="Provider of the transaction.")] = None,
        record_id: Annotated[str | None, typer.Argument(help="Record id of the transaction.")] = None,
        subject: Annotated[str | None, typer.Option("--subject", help="Explain a subject's score instead.")] = None,
        link: Annotated[tuple[str, str] | None, typer.Option("--link", help="Explain why two records (PROVIDER:RECORD_ID:PARTY) were linked.")] = None,
        store: StoreOpt = None,
        weights: WeightsOpt = None,
    ) -> None:
        """Why a transaction or subject scored what it did: indicators, values, thresholds, weights, sources."""
        from moneytrail.scoring.model import load_models
        from moneytrail.store import Warehouse, default_store_path

        path = store or default_store_path()
        if not path.exists():
            raise UserError(f"store {path} not found; give --store")
        with Warehouse(path) as wh:
            if link is not None:
                try:
                    from moneytrail.resolve import explain_link, render_link
                except ImportError as exc:
                    raise UserError("link explanations need entity resolution (moneytrail.resolve), not available") from exc
                out.print(render_link(explain_link(wh.con, link[0], link[1])))
                return
            from moneytrail.scoring.explain import explain_subject, explain_transaction

            models = load_models(weights)
            if subject is not None:
                explain_subject(wh.con, models, subject, out)
            elif provider and record_id:
                explain_transaction(wh.con, models, provider, record_id, out)
            else:
                raise UserError("give PROVIDER RECORD_ID, --subject ID or --link A B")
