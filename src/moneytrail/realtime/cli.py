"""Commands: ``moneytrail realtime score``, ``replay``, ``split`` and ``warm``.

The API itself (``POST /api/v1/score``) is served by the web application
(``moneytrail web``), which mounts :func:`moneytrail.realtime.api.make_router`.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from moneytrail.errors import UserError

console = Console()
StoreOpt = Annotated[Path | None, typer.Option("--store", help="The batch run's warehouse (default: moneytrail.store.default_store_path()).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Indicator parameters (YAML or TOML), as for `moneytrail run`.")]
WeightsOpt = Annotated[Path | None, typer.Option("--weights", help="Weights file (default: the shipped weights.json).")]
ReviewOpt = Annotated[float, typer.Option("--review", help="Score from which a payment is held for review.")]
HoldOpt = Annotated[float, typer.Option("--hold", help="Score from which a payment is held.")]
RedisOpt = Annotated[str | None, typer.Option("--redis", help="Keep the state in Redis, e.g. redis://127.0.0.1:6379/0 (default: in process).")]
NamespaceOpt = Annotated[str, typer.Option("--namespace", help="Key prefix of the state in Redis.")]


def _engine(store: Path | None, config: Path | None, weights: Path | None, review: float, hold: float,
            redis: str | None, namespace: str, *, rewarm: bool = False) -> Any:
    from moneytrail.realtime.engine import Engine, Thresholds
    from moneytrail.realtime.state import RedisStore
    from moneytrail.store import default_store_path

    state = RedisStore(redis, namespace) if redis else None
    with console.status("warming the state from the warehouse ..."):
        return Engine.from_warehouse(store or default_store_path(), config=config, weights=weights, store=state,
                                     thresholds=Thresholds(review, hold), rewarm=rewarm)


def _bodies(path: Path) -> list[dict[str, Any]]:
    """A JSON object, a JSON list of objects, or JSON lines."""
    if not path.is_file():
        raise UserError(f"{path} not found")
    text = path.read_text("utf-8").strip()
    try:
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
    except ValueError:
        try:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise UserError(f"{path}: not JSON nor JSON lines ({exc}); give one payment body per line") from None
    if not all(isinstance(i, dict) for i in items):
        raise UserError(f"{path}: every payment must be a JSON object with 'provider' and 'record' or 'pacs008'")
    return items


def _table(answers: list[dict[str, Any]], title: str) -> RichTable:
    table = RichTable(title=title)
    for c in ("provider", "record", "score", "decision", "reasons", "ms"):
        table.add_column(c, justify="right" if c in ("score", "ms") else "left")
    colour = {"hold": "red", "review": "yellow", "allow": "green"}
    for a in answers:
        table.add_row(a["provider"], a["record_id"], f"{a['score']:.3f}",
                      f"[{colour[a['decision']]}]{a['decision']}[/]", ";".join(a["reasons"]), f"{a['elapsed_ms']:.2f}")
    return table


def register(app: typer.Typer) -> None:
    rt = typer.Typer(help="Real-time scoring: one payment at a time, with the batch run's indicators.", no_args_is_help=True)
    app.add_typer(rt, name="realtime")

    @rt.command("score")
    def score_cmd(
        payments: Annotated[Path, typer.Argument(help="JSON file: one payment body, a list of them, or JSON lines.")],
        store: StoreOpt = None, config: ConfigOpt = None, weights: WeightsOpt = None,
        review: ReviewOpt = 0.5, hold: HoldOpt = 0.9, redis: RedisOpt = None,
        namespace: NamespaceOpt = "moneytrail:rt",
        as_json: Annotated[bool, typer.Option("--json", help="Print the answers as JSON lines.")] = False,
    ) -> None:
        """Score payments as POST /api/v1/score would, and print the answers."""
        from moneytrail.realtime.payload import RejectedPayment

        bodies = _bodies(payments)
        engine = _engine(store, config, weights, review, hold, redis, namespace)
        answers = []
        for body in bodies:
            try:
                answers.append(engine.score(body))
            except RejectedPayment as exc:
                console.print(f"[yellow]refused[/] {body.get('provider')}: {exc}")
            except UserError as exc:
                console.print(f"[yellow]not scored[/] {body.get('provider')}: {exc}")
        if as_json:
            for a in answers:
                sys.stdout.write(json.dumps(a) + "\n")
        else:
            console.print(_table(answers, f"{len(answers)} payment(s) scored"))

    @rt.command("replay")
    def replay_cmd(
        bundle: Annotated[Path, typer.Argument(help="A bundle of provider exports (as for `moneytrail run`).")],
        store: StoreOpt = None, config: ConfigOpt = None, weights: WeightsOpt = None,
        review: ReviewOpt = 0.5, hold: HoldOpt = 0.9,
        after: Annotated[str | None, typer.Option("--after", help="Only payments at or after this UTC time (ISO 8601); default: after the warehouse's newest.")] = None,
        limit: Annotated[int, typer.Option("--limit", help="At most this many payments.")] = 100_000,
        show: Annotated[int, typer.Option("--show", help="Print the answers of the first N held or reviewed payments.")] = 20,
    ) -> None:
        """Stream a bundle's payments, oldest first, through real-time scoring (a rehearsal of live traffic)."""
        import duckdb

        from moneytrail.realtime.feed import bundle_payments
        from moneytrail.realtime.payload import RejectedPayment

        engine = _engine(store, config, weights, review, hold, None, "")
        if after:
            try:
                since = datetime.fromisoformat(after)
            except ValueError:
                raise UserError(f"--after {after!r}: use an ISO 8601 time such as 2025-06-01T00:00:00") from None
        else:
            with duckdb.connect(engine.warehouse, read_only=True) as con:
                since = con.execute("SELECT max(ts_utc) FROM transactions").fetchall()[0][0] or datetime.min
        items = [i for i in bundle_payments(bundle) if i.ts is not None and i.ts >= since][:limit]
        if not items:
            raise UserError(f"no payment of {bundle} is at or after {since}; give --after")
        answers, refused, seen = [], Counter[str](), 0
        with Progress(TextColumn("[bold]scoring[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("replay", total=len(items))
            for item in items:
                try:
                    answers.append(engine.score(item.body))
                except RejectedPayment as exc:
                    refused[str(exc)] += 1
                except UserError:
                    seen += 1
                progress.advance(task)
        flagged = [a for a in answers if a["decision"] != "allow"]
        if flagged and show:
            console.print(_table(flagged[:show], f"First {min(show, len(flagged))} of {len(flagged)} held or reviewed"))
        ms = sorted(a["elapsed_ms"] for a in answers) or [0.0]
        decisions = Counter(a["decision"] for a in answers)
        console.print(f"{len(answers):,} scored since {since}: " + ", ".join(f"{decisions[d]:,} {d}" for d in ("allow", "review", "hold"))
                  + f"; engine time p50 {statistics.median(ms):.2f} ms, p99 {ms[int(0.99 * (len(ms) - 1))]:.2f} ms")
        if refused:
            console.print(f"{sum(refused.values())} refused (as the batch would quarantine them): "
                      + "; ".join(f"{n}x {r}" for r, n in refused.most_common(5)))
        if seen:
            console.print(f"{seen} already in the warehouse or scored before")

    @rt.command("split")
    def split_cmd(
        bundle: Annotated[Path, typer.Argument(help="A bundle of provider exports.")],
        out: Annotated[Path, typer.Option("--out", help="Directory for the earlier part (a bundle of its own).")],
        last: Annotated[int | None, typer.Option("--last", help="Keep the last N payments out of it.")] = None,
        at: Annotated[str | None, typer.Option("--at", help="Or cut at this UTC time (ISO 8601).")] = None,
    ) -> None:
        """Cut a bundle in time: the earlier payments (and the referrals) for a batch run, the rest to replay."""
        from moneytrail.realtime.feed import bundle_payments, split_bundle

        if (last is None) == (at is None):
            raise UserError("give --last N or --at TIME")
        if at is not None:
            try:
                cut = datetime.fromisoformat(at)
            except ValueError:
                raise UserError(f"--at {at!r}: use an ISO 8601 time such as 2025-06-01T00:00:00") from None
        else:
            times = [i.ts for i in bundle_payments(bundle) if i.ts is not None]
            if not 0 < (last or 0) < len(times):
                raise UserError(f"--last must be between 1 and {len(times) - 1} (the bundle has {len(times)} payments)")
            cut = times[-(last or 0)]
        _, later = split_bundle(bundle, out, cut)
        console.print(f"wrote {out}: the payments before {cut}, and the referrals; "
                      f"{len(later):,} payments from then on are left to replay")

    @rt.command("warm")
    def warm_cmd(
        store: StoreOpt = None, config: ConfigOpt = None, weights: WeightsOpt = None,
        redis: Annotated[str, typer.Option("--redis", help="Redis URL the workers share.")] = "redis://127.0.0.1:6379/0",
        namespace: NamespaceOpt = "moneytrail:rt",
    ) -> None:
        """Build the shared state in Redis from the warehouse, before starting several workers."""
        engine = _engine(store, config, weights, 0.5, 0.9, redis, namespace, rewarm=True)
        info = engine.info()
        console.print(f"warmed {info['warmed_transactions']:,} transactions into {redis} under {namespace!r}: "
                  f"{info['keys']:,} keys (fingerprint {info['fingerprint']})")
