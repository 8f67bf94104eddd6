"""Commands: ``cases`` (sync, list, show, assign, state, comment, attach)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from moneytrail.opstore.cli import DbOpt, UserOpt, cli_actor

out = Console()
RefArg = Annotated[str, typer.Argument(help="Case reference, e.g. C-000012.")]


def register(app: typer.Typer) -> None:
    cases = typer.Typer(help="Alerts become cases; work them here or in the workspace.", no_args_is_help=True)
    app.add_typer(cases, name="cases")

    @cases.command("sync")
    def sync(
        store: Annotated[Path, typer.Option("--store", help="The run's warehouse (OUT/warehouse.duckdb).")],
        user: UserOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Open cases for a run's flagged subjects and networks; update the open ones."""
        from moneytrail.cases import sync_from_run
        from moneytrail.opstore import OpsStore
        from moneytrail.opstore.users import require

        ops = OpsStore(database)
        with ops.session() as s:
            actor = cli_actor(s, user)
            require(actor, "edit_case")
        r = sync_from_run(ops, store, actor.username)
        out.print(f"cases: {r.created} opened, {r.updated} updated, {r.unchanged} unchanged")

    @cases.command("list")
    def list_(
        state: Annotated[str | None, typer.Option("--state", help="new, in_review, escalated, reported, closed_tp, closed_fp or open.")] = None,
        mine: Annotated[bool, typer.Option("--mine", help="Only cases assigned to me.")] = False,
        kind: Annotated[str | None, typer.Option("--kind", help="subject or network.")] = None,
        limit: Annotated[int, typer.Option("--limit")] = 50,
        user: UserOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Cases by score."""
        from moneytrail.cases import list_cases
        from moneytrail.opstore import OpsStore
        from moneytrail.opstore.users import require

        with OpsStore(database).session() as s:
            actor = cli_actor(s, user)
            require(actor, "read_cases")
            rows = list_cases(s, state=state, assignee=actor.username if mine else None, kind=kind, limit=limit)
            table = Table(title=f"Cases ({len(rows)})")
            for col in ("ref", "kind", "state", "score", "assignee", "title"):
                table.add_column(col)
            for case in rows:
                table.add_row(case.ref, case.kind, case.state, f"{case.score:.3f}",
                              case.assignee.username if case.assignee else "", case.title[:70])
            out.print(table)

    @cases.command("show")
    def show(ref: RefArg, user: UserOpt = None, database: DbOpt = None) -> None:
        """One case: subjects, evidence, comments and its audit trail."""
        from moneytrail.cases import context_for
        from moneytrail.opstore import OpsStore

        with OpsStore(database).session() as s:
            ctx = context_for(s, ref, cli_actor(s, user))
        out.print(f"[bold]{ctx.case_id}[/] {ctx.title}")
        out.print(f"kind {ctx.kind} · state {ctx.state} · score {ctx.score:.3f} · assignee {ctx.assignee or '-'}")
        out.print(f"subjects: {', '.join(ctx.subject_ids[:20])}{' ...' if len(ctx.subject_ids) > 20 else ''}")
        for a in ctx.attachments:
            out.print(f"  evidence {a.kind} {a.ref} {a.note}")
        for c in ctx.comments:
            out.print(f"  [dim]{c.at:%Y-%m-%d %H:%M}[/] {c.author}: {c.text}")
        for line in ctx.audit:
            out.print(f"  [dim]{line.at:%Y-%m-%d %H:%M:%S} {line.actor} {line.action}[/]")

    @cases.command("assign")
    def assign_(
        ref: RefArg,
        assignee: Annotated[str, typer.Argument(help="Username, or '-' to unassign.")],
        user: UserOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Assign a case (supervisors)."""
        from moneytrail.cases import assign, get_case
        from moneytrail.opstore import OpsStore
        from moneytrail.opstore.users import get_user

        with OpsStore(database).session() as s:
            actor = cli_actor(s, user)
            case = get_case(s, ref)
            assign(s, case, None if assignee == "-" else get_user(s, assignee), actor)
        out.print(f"{ref} assigned to {assignee}")

    @cases.command("state")
    def state_(
        ref: RefArg,
        new_state: Annotated[str, typer.Argument(help="in_review, escalated, reported, closed_tp, closed_fp, new.")],
        note: Annotated[str, typer.Option("--note", help="Why (kept as a comment).")] = "",
        user: UserOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Move a case to another state."""
        from moneytrail.cases import change_state, get_case
        from moneytrail.opstore import OpsStore

        with OpsStore(database).session() as s:
            actor = cli_actor(s, user)
            case = change_state(s, get_case(s, ref), new_state, actor, note)
            out.print(f"{case.ref} is now {case.state}")

    @cases.command("comment")
    def comment(ref: RefArg, text: Annotated[str, typer.Argument()], user: UserOpt = None, database: DbOpt = None) -> None:
        """Add a comment to a case."""
        from moneytrail.cases import add_comment, get_case
        from moneytrail.opstore import OpsStore

        with OpsStore(database).session() as s:
            add_comment(s, get_case(s, ref), cli_actor(s, user), text)
        out.print("comment added")

    @cases.command("attach")
    def attach_(
        ref: RefArg,
        kind: Annotated[str, typer.Argument(help="transaction, subject or referral.")],
        evidence: Annotated[str, typer.Argument(help="PROVIDER:RECORD_ID, a subject id or a referral id.")],
        note: Annotated[str, typer.Option("--note")] = "",
        user: UserOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Attach evidence to a case."""
        from moneytrail.cases import attach, get_case
        from moneytrail.opstore import OpsStore

        with OpsStore(database).session() as s:
            attach(s, get_case(s, ref), cli_actor(s, user), kind, evidence, note)
        out.print(f"attached {kind} {evidence}")
