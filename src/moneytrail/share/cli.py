"""`moneytrail share ...`: keys, partners, export, match, show."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from moneytrail.errors import UserError

if TYPE_CHECKING:
    from moneytrail.share.partners import Registry

out = Console()
err = Console(stderr=True)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="Share home: keys, secrets, partners (default: $MONEYTRAIL_SHARE_HOME or the data directory).")]
RegistryOpt = Annotated[Path | None, typer.Option("--registry", help="Partner registry file (default: partners.json in the share home).")]
StoreOpt = Annotated[Path | None, typer.Option("--store", help="DuckDB warehouse (default: the case's, else $MONEYTRAIL_STORE or the data directory).")]
UserOpt = Annotated[str | None, typer.Option("--user", help="Act as this user (default: $MONEYTRAIL_USER).")]
DbOpt = Annotated[str | None, typer.Option("--database", help="Operational store URL (default: $MONEYTRAIL_DATABASE_URL or an SQLite file).")]


@contextmanager
def _steps(total: int) -> Iterator[Progress]:
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err, transient=True) as prog:
        yield prog


def _registry(home: Path | None, registry: Path | None) -> Registry:
    from moneytrail.share.keys import share_home
    from moneytrail.share.partners import Registry

    return Registry(registry if registry is not None else share_home(home) / "partners.json")


def register(app: typer.Typer) -> None:
    share = typer.Typer(help="Find overlaps with partner units without handing over personal data.",
                        no_args_is_help=True)
    partner = typer.Typer(help="The units we exchange with.", no_args_is_help=True)
    secret = typer.Typer(help="Secrets shared with partners (they key the encodings).", no_args_is_help=True)
    app.add_typer(share, name="share")
    share.add_typer(partner, name="partner")
    share.add_typer(secret, name="secret")

    @share.command("keygen")
    def keygen(
        name: Annotated[str, typer.Option("--name", help="Our unit's name as partners will know it, e.g. FIU-PH.")],
        force: Annotated[bool, typer.Option("--force", help="Replace an existing key.")] = False,
        home: HomeOpt = None,
    ) -> None:
        """Make our Ed25519 signing key; prints the public key to give partners."""
        from moneytrail.share.keys import generate_identity

        identity = generate_identity(name, home, force=force)
        out.print(f"signing key for [bold]{identity.name}[/] (fingerprint {identity.fingerprint})")
        out.print("public key, for your partners' registries:")
        print(identity.public_key)

    @share.command("whoami")
    def whoami(home: HomeOpt = None) -> None:
        """Our unit's name, public key and fingerprint."""
        from moneytrail.share.keys import load_identity

        identity = load_identity(home)
        out.print(f"{identity.name}  fingerprint {identity.fingerprint}")
        print(identity.public_key)

    @secret.command("new")
    def secret_new(secret_id: Annotated[str, typer.Argument(help="A name for the secret, e.g. fiu-2026-q1.")],
                   home: HomeOpt = None) -> None:
        """Make a fresh 32-byte shared secret (send it to partners over a secure channel)."""
        from moneytrail.share.keys import new_secret

        path = new_secret(secret_id, home)
        out.print(f"secret {secret_id} written to {path} (owner-only); "
                  f"`moneytrail share secret show {secret_id}` prints it for the partner")

    @secret.command("import")
    def secret_import(
        secret_id: Annotated[str, typer.Argument(help="The secret's id, as the partner named it.")],
        file: Annotated[Path, typer.Argument(help="File holding the base64 secret, or - for standard input.")],
        home: HomeOpt = None,
    ) -> None:
        """Store a secret a partner made."""
        from moneytrail.share.keys import import_secret

        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        path = import_secret(secret_id, text, home)
        out.print(f"secret {secret_id} stored in {path}")

    @secret.command("show")
    def secret_show(secret_id: Annotated[str, typer.Argument()], home: HomeOpt = None) -> None:
        """Print a secret (base64) to hand to a partner. Never put it in a package or an e-mail."""
        import base64

        from moneytrail.share.keys import load_secret

        print(base64.b64encode(load_secret(secret_id, home)).decode())

    @secret.command("list")
    def secret_list(home: HomeOpt = None) -> None:
        """The ids of the secrets held here."""
        from moneytrail.share.keys import list_secrets

        for sid in list_secrets(home):
            print(sid)

    @partner.command("add")
    def partner_add(
        name: Annotated[str, typer.Argument(help="The partner unit's name, as it signs its packages.")],
        public_key: Annotated[str, typer.Option("--public-key", help="Their public key (base64), from their `share keygen`.")],
        secret_id: Annotated[str, typer.Option("--secret-id", help="Id of the secret shared with them.")],
        contact: Annotated[str, typer.Option("--contact", help="Contact point of the unit.")] = "",
        replace: Annotated[bool, typer.Option("--replace", help="Replace an existing entry.")] = False,
        home: HomeOpt = None,
        registry: RegistryOpt = None,
    ) -> None:
        """Register a partner unit."""
        reg = _registry(home, registry)
        p = reg.add(name, public_key, secret_id, contact, replace=replace)
        out.print(f"registered {p.name} (key {p.fingerprint}, secret {p.secret_id})")

    @partner.command("list")
    def partner_list(home: HomeOpt = None, registry: RegistryOpt = None) -> None:
        """The registered partners."""
        reg = _registry(home, registry)
        table = Table(title=f"Partners ({reg.path})")
        for c in ("name", "key fingerprint", "secret id", "contact", "added"):
            table.add_column(c)
        for p in reg:
            table.add_row(p.name, p.fingerprint, p.secret_id, p.contact, p.added_at[:10])
        out.print(table)

    @partner.command("remove")
    def partner_remove(name: Annotated[str, typer.Argument()], home: HomeOpt = None,
                       registry: RegistryOpt = None) -> None:
        """Remove a partner: their packages are refused from then on."""
        _registry(home, registry).remove(name)
        out.print(f"removed {name}")

    @share.command("export")
    def export(
        partner_name: Annotated[str, typer.Option("--partner", help="The partner the package is for.")],
        out_file: Annotated[Path, typer.Option("--out", help="Package file to write.")],
        case: Annotated[str | None, typer.Option("--case", help="Export the subjects of this case.")] = None,
        all_subjects: Annotated[bool, typer.Option("--all", help="Export every subject (default: the flagged ones).")] = False,
        store: StoreOpt = None,
        home: HomeOpt = None,
        registry: RegistryOpt = None,
        user: UserOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Write a signed package of encodings of our subjects for a partner."""
        from moneytrail.opstore import OpsStore
        from moneytrail.opstore.cli import cli_actor
        from moneytrail.opstore.users import require
        from moneytrail.share.exchange import export_package
        from moneytrail.share.keys import load_identity
        from moneytrail.share.subjects import all_subjects as every
        from moneytrail.share.subjects import flagged_subjects
        from moneytrail.store import Warehouse

        if case and all_subjects:
            raise UserError("choose one of --case and --all")
        reg = _registry(home, registry)
        p = reg.get(partner_name)
        identity = load_identity(home)
        with OpsStore(database).session() as s:
            actor = cli_actor(s, user)
            require(actor, "share")
            subject_ids: list[str] | None = None
            if case:
                from moneytrail.cases import get_case

                c = get_case(s, case)
                subject_ids = [cs.subject_id for cs in c.subjects]
                store = store or (Path(c.warehouse) if c.warehouse else None)
                selection = f"case {c.ref}"
            else:
                selection = "all" if all_subjects else "flagged"
            with Warehouse(store) as wh, _steps(2) as prog:
                task = prog.add_task("reading and encoding subjects", total=2)
                if subject_ids is None:
                    subject_ids = every(wh.con) if all_subjects else flagged_subjects(wh.con)
                prog.advance(task)
                report = export_package(wh.con, subject_ids, partner=p, identity=identity, out=out_file,
                                        actor=actor.username, session=s, selection=selection,
                                        warehouse=str(wh.path), home=home)
                prog.advance(task)
        out.print(f"wrote {report.path}: {report.subjects:,} subjects ({selection}), {report.clks:,} Bloom filters, "
                  f"{report.tokens:,} identifier tokens, for {report.partner}; package {report.package_id}")

    @share.command("match")
    def match_cmd(
        theirs: Annotated[Path, typer.Argument(help="The partner's package.")],
        out_file: Annotated[Path | None, typer.Option("--out", help="Also write the result as a signed package for them.")] = None,
        threshold: Annotated[float, typer.Option("--threshold", help="Dice a fuzzy match with a date of birth needs.")] = 0.85,
        name_threshold: Annotated[float, typer.Option("--name-threshold", help="Dice a match on the name (town, country) alone needs.")] = 0.9,
        margin: Annotated[float, typer.Option("--margin", help="How far a name-only match must stand above any rival (1: no rival at all).")] = 0.05,
        part: Annotated[bool, typer.Option("--part/--no-part", help="Also match a name that is nearly part of the other (a middle name left out).")] = True,
        fragments: Annotated[bool, typer.Option("--fragments/--no-fragments", help="Let several subjects of one side that match each other (one person the resolver left in pieces) all match one of the other's.")] = True,
        exact: Annotated[bool, typer.Option("--exact/--no-exact", help="Let an exact name match although a longer name that holds it fits too.")] = True,
        case: Annotated[str | None, typer.Option("--case", help="Match only this case's subjects (default: all).")] = None,
        store: StoreOpt = None,
        home: HomeOpt = None,
        registry: RegistryOpt = None,
        user: UserOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Check a partner's package and match it against our subjects."""
        from moneytrail.opstore import OpsStore
        from moneytrail.opstore.cli import cli_actor
        from moneytrail.opstore.users import require
        from moneytrail.share.encodings import ClkSchema
        from moneytrail.share.exchange import match_package
        from moneytrail.share.keys import load_identity
        from moneytrail.share.match import MatchSettings
        from moneytrail.share.package import read_package
        from moneytrail.share.subjects import all_subjects as every
        from moneytrail.store import Warehouse

        reg = _registry(home, registry)
        identity = load_identity(home)
        payload, _ = read_package(theirs, reg)
        strong = ClkSchema.from_dict(payload["schema"]).strong_mask() if payload.get("kind") == "encodings" else 0
        if margin <= 0.0 or not 0.0 < threshold <= 1.0 or not 0.0 < name_threshold <= 1.0:
            raise UserError("--threshold and --name-threshold must be in (0, 1], and --margin above 0")
        settings = MatchSettings(threshold=threshold, weak_threshold=name_threshold, strong_mask=strong,
                                 weak_margin=margin, part_threshold=MatchSettings.part_threshold if part else 1.01,
                                 fragments=fragments, exact_dice=MatchSettings.exact_dice if exact else 1.01)
        with OpsStore(database).session() as s:
            actor = cli_actor(s, user)
            require(actor, "share")
            subject_ids: list[str] | None = None
            if case:
                from moneytrail.cases import get_case

                c = get_case(s, case)
                subject_ids = [cs.subject_id for cs in c.subjects]
                store = store or (Path(c.warehouse) if c.warehouse else None)
            with Warehouse(store) as wh, _steps(2) as prog:
                task = prog.add_task("encoding our subjects and matching", total=2)
                if subject_ids is None:
                    subject_ids = every(wh.con)
                prog.advance(task)
                report = match_package(wh.con, theirs, subject_ids, registry=reg, identity=identity,
                                       actor=actor.username, session=s, out=out_file, warehouse=str(wh.path),
                                       home=home, settings=settings)
                prog.advance(task)
        n_ours = len({r.subject_id for r in report.rows})
        pairs = f" ({len(report.rows):,} pairs)" if n_ours != len(report.rows) else ""
        table = Table(title=f"{n_ours:,} of our {report.ours:,} subjects match {report.partner}'s {report.theirs:,}{pairs}")
        for col in ("our subject", "their reference", "similarity", "evidence"):
            table.add_column(col)
        for r in report.rows:
            table.add_row(r.subject_id, r.their_ref, f"{r.similarity:.3f}", r.via)
        out.print(table)
        if report.result_path is not None:
            out.print(f"result for {report.partner} written to {report.result_path}")

    @share.command("show")
    def show(
        package: Annotated[Path, typer.Argument(help="A package: a partner's encodings or their match result.")],
        home: HomeOpt = None,
        registry: RegistryOpt = None,
        user: UserOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Verify a package and say what it holds; for a match result, which of our subjects matched."""
        from moneytrail.opstore import OpsStore
        from moneytrail.opstore.cli import cli_actor
        from moneytrail.opstore.users import require
        from moneytrail.share.exchange import read_result

        reg = _registry(home, registry)
        with OpsStore(database).session() as s:
            actor = cli_actor(s, user)
            require(actor, "read_shared")
            summary = read_result(package, registry=reg, actor=actor.username, session=s, home=home)
        out.print(f"[bold]{summary.kind}[/] package {summary.package_id} from {summary.partner}, "
                  f"signature verified, made {summary.created_at}")
        for k, v in summary.facts.items():
            out.print(f"  {k}: {v}")
        if summary.rows:
            table = Table(title="Our subjects they matched")
            for c in ("our subject", "our reference", "their reference", "similarity", "evidence"):
                table.add_column(c)
            for r in summary.rows:
                table.add_row(str(r["subject_id"]), str(r["our_ref"]), str(r["their_ref"]),
                              f"{float(r['similarity']):.3f}", str(r["via"]))
            out.print(table)
