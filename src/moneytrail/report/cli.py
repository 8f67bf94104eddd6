"""Commands ``report goaml`` and ``export ftm``: a case (or every flagged subject) for outside tools.

Both act for a named user (``--user`` or ``$MONEYTRAIL_USER``), read the case under audit
(``moneytrail.cases.context_for``) and leave one more audit entry, ``report.goaml`` or
``export.ftm``, naming the file written and its SHA-256. Other report commands add
themselves to ``report_app``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from moneytrail.errors import UserError

out = Console()
err = Console(stderr=True)

report_app = typer.Typer(help="Reports of a case: goAML STR for the FIU, case report for people.", no_args_is_help=True)
export_app = typer.Typer(help="Exports for other tools: FollowTheMoney entities.", no_args_is_help=True)

UserOpt = Annotated[str | None, typer.Option("--user", help="Act as this user (default: $MONEYTRAIL_USER).")]
DbOpt = Annotated[
    str | None,
    typer.Option("--database", help="Operational store URL (default: $MONEYTRAIL_DATABASE_URL or an SQLite file)."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
    app.add_typer(export_app, name="export")


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=err, transient=True, disable=not err.is_terminal)


def _read_case(database: str | None, user: str | None, ref: str) -> tuple[str, Any]:
    """The acting user's name and the case's CaseContext (the read is audited)."""
    from moneytrail.cases import context_for
    from moneytrail.opstore import OpsStore
    from moneytrail.opstore.cli import cli_actor

    with OpsStore(database).session() as s:
        actor = cli_actor(s, user)
        return actor.username, context_for(s, ref, actor)


def _audit(database: str | None, actor: str, action: str, target: str, details: dict[str, Any]) -> None:
    """One audit entry for a file that leaves moneytrail."""
    from moneytrail.opstore import OpsStore
    from moneytrail.opstore.audit import record

    with OpsStore(database).session() as s:
        record(s, actor, action, target, details=details)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@report_app.command("goaml")
def goaml(
    case_id: Annotated[str, typer.Argument(help="Case reference, e.g. C-000012.")],
    out_file: Annotated[Path, typer.Option("--out", help="The XML file to write.")],
    profile: Annotated[
        Path | None, typer.Option("--profile", help="The FIU's goAML profile (default: the shipped example).")
    ] = None,
    xsd: Annotated[
        Path | None, typer.Option("--xsd", help="The FIU's goAML XSD (default: the profile's, or the project's 5.0.1).")
    ] = None,
    user: UserOpt = None,
    database: DbOpt = None,
) -> None:
    """Write a case as a goAML v5 suspicious transaction report, validated against the XSD."""
    from moneytrail.report.goaml import write_goaml
    from moneytrail.report.goaml_profile import load_profile

    loaded = load_profile(profile, xsd)  # a bad profile fails before anything is read
    actor, ctx = _read_case(database, user, case_id)
    with _progress() as bar:
        bar.add_task(f"goAML report of {ctx.case_id} ...")
        result = write_goaml(ctx, out_file, profile=loaded.path, xsd=loaded.xsd_path)
    _audit(database, actor, "report.goaml", f"case:{ctx.case_id}", {
        "file": str(out_file.resolve()), "sha256": result.sha256, "profile": str(loaded.path),
        "fiu": loaded.profile.fiu, "report_code": loaded.profile.reporting_entity.report_code,
        "transactions": result.transactions, "subjects": result.subjects,
    })
    left_out = result.transactions_total - result.transactions
    out.print(
        f"wrote {out_file}: goAML {loaded.profile.reporting_entity.report_code} for {ctx.case_id}, "
        f"{result.transactions} transaction(s)" + (f" ({left_out} lower-scoring left out)" if left_out else "")
        + f", {result.subjects} subject(s), {result.platform_accounts} platform account(s), "
        f"{result.ip_addresses} platform IP address(es); valid against {result.xsd.name}"
    )


@export_app.command("ftm")
def ftm(
    out_file: Annotated[Path, typer.Option("--out", help="The entity file to write (line-delimited JSON).")],
    case: Annotated[str | None, typer.Option("--case", help="Export this case's subjects.")] = None,
    flagged: Annotated[bool, typer.Option("--flagged", help="Export every flagged subject of the warehouse.")] = False,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="The warehouse (default: the case's own with --case; "
                                     "$MONEYTRAIL_STORE or your data directory with --flagged)."),
    ] = None,
    payments: Annotated[
        str, typer.Option("--payments", help="all payments of the subjects, or only the flagged ones.")
    ] = "all",
    user: UserOpt = None,
    database: DbOpt = None,
) -> None:
    """Write subjects, accounts, platform accounts and payments as FollowTheMoney entities."""
    from moneytrail.report.evidence import flagged_subject_ids, gather_subjects, open_warehouse
    from moneytrail.report.ftm import write_ftm
    from moneytrail.store import default_store_path

    if (case is None) == (not flagged):
        raise UserError("say what to export: --case CASE_ID or --flagged (one of them)")
    if payments not in ("all", "flagged"):
        raise UserError(f"--payments is all or flagged, not {payments!r}")
    selection: Literal["all", "flagged"] = "flagged" if payments == "flagged" else "all"
    if case is not None:
        actor, ctx = _read_case(database, user, case)
        warehouse, ids, community, target = store or ctx.warehouse, ctx.subject_ids, ctx.community_id, f"case:{ctx.case_id}"
    else:
        from moneytrail.opstore import OpsStore
        from moneytrail.opstore.audit import record
        from moneytrail.opstore.cli import cli_actor
        from moneytrail.opstore.users import require

        warehouse = store or default_store_path()
        with OpsStore(database).session() as s:
            who = cli_actor(s, user)
            require(who, "read_personal")
            actor = who.username
            record(s, actor, "subject.read", f"warehouse:{warehouse}", details={"purpose": "export.ftm --flagged"})
        ids, community, target = [], None, f"warehouse:{warehouse}"
    with _progress() as bar:
        task = bar.add_task("gathering evidence ...")
        with open_warehouse(warehouse) as con:
            if flagged:
                ids = flagged_subject_ids(con)
                if not ids:
                    raise UserError(f"no flagged subject in {warehouse}: nothing to export")
            ev = gather_subjects(con, ids, community_id=community, transactions=selection)
        bar.update(task, description=f"writing {len(ev.subjects)} subjects, {len(ev.transactions)} payments ...")
        result = write_ftm(ev, out_file)
    _audit(database, actor, "export.ftm", target, {
        "file": str(out_file.resolve()), "sha256": _sha256(out_file), "entities": result.entities,
        "subjects": len(ev.subjects), "payments": len(ev.transactions),
    })
    counts = ", ".join(f"{n} {schema}" for schema, n in result.by_schema.items())
    out.print(f"wrote {out_file}: {result.entities} FollowTheMoney entities ({counts})")


@report_app.command("case")
def case_report(
    case_id: Annotated[str, typer.Argument(help="Case reference, e.g. C-000012.")],
    out_path: Annotated[
        Path, typer.Option("--out", help="A .html file, or a directory for CASE_ID.html (the PDF goes beside it).")
    ] = Path("."),
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write the PDF.")] = True,
    user: UserOpt = None,
    database: DbOpt = None,
) -> None:
    """Write a case report: self-contained HTML (and PDF) with identifiers, indicators, timeline, network, map, audit."""
    from moneytrail.report.case_report import write_case_report

    actor, ctx = _read_case(database, user, case_id)
    with _progress() as bar:
        bar.add_task(f"case report of {ctx.case_id} ...")
        files = write_case_report(ctx, out_path, pdf=pdf)
    _audit(database, actor, "report.case", f"case:{ctx.case_id}",
           {"files": [{"file": str(f.resolve()), "sha256": _sha256(f)} for f in files]})
    out.print(f"wrote {', '.join(str(f) for f in files)}")
