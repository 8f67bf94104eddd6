"""Commands: ``users`` (add, list, token, disable) and ``audit`` (verify, list).

The command line acts for a named user (``--user`` or ``$MONEYTRAIL_USER``) and
checks that user's role, as the web application does: whoever runs it has the
database already, so this records who did what rather than keeping anyone out.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moneytrail.errors import UserError
from moneytrail.opstore.models import User

out = Console()
UserOpt = Annotated[str | None, typer.Option("--user", help="Act as this user (default: $MONEYTRAIL_USER).")]
DbOpt = Annotated[str | None, typer.Option("--database", help="Operational store URL (default: $MONEYTRAIL_DATABASE_URL or an SQLite file).")]


def cli_actor(session: Session, user: str | None) -> User:
    """The user the command acts for."""
    from moneytrail.opstore.users import get_user

    name = user or os.environ.get("MONEYTRAIL_USER")
    if not name:
        raise UserError("say who you are: --user NAME or MONEYTRAIL_USER=NAME (an admin adds users with `moneytrail users add`)")
    actor = get_user(session, name)
    if not actor.active:
        raise UserError(f"user {name!r} is disabled")
    return actor


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def register(app: typer.Typer) -> None:
    users = typer.Typer(help="Users of the workspace and their roles.", no_args_is_help=True)
    audit = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
    app.add_typer(users, name="users")
    app.add_typer(audit, name="audit")

    @users.command("add")
    def add(
        username: Annotated[str, typer.Argument(help="The new user's name.")],
        role: Annotated[str, typer.Option("--role", help="analyst, supervisor, liaison or admin.")],
        password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")] = False,
        user: UserOpt = None,
        database: DbOpt = None,
    ) -> None:
        """Add a user. The first user of an empty store must be an admin and needs no --user."""
        from moneytrail.opstore import OpsStore
        from moneytrail.opstore.audit import record
        from moneytrail.opstore.users import create_user, require

        store = OpsStore(database)
        with store.session() as s:
            first = (s.scalar(select(func.count()).select_from(User)) or 0) == 0
            if first:
                if role != "admin":
                    raise UserError("the first user must be an admin: --role admin")
                actor_name = username
            else:
                actor = cli_actor(s, user)
                require(actor, "manage_users")
                actor_name = actor.username
            created = create_user(s, username, _read_password(password_stdin), role)
            record(s, actor_name, "user.add", f"user:{created.username}", after={"role": role})
        out.print(f"added {username} ({role})")

    @users.command("list")
    def list_(user: UserOpt = None, database: DbOpt = None) -> None:
        """Every user with their role."""
        from moneytrail.opstore import OpsStore
        from moneytrail.opstore.users import require

        with OpsStore(database).session() as s:
            require(cli_actor(s, user), "manage_users")
            table = Table(title="Users")
            for c in ("username", "role", "active", "created"):
                table.add_column(c)
            for u in s.scalars(select(User).order_by(User.username)):
                table.add_row(u.username, u.role, "yes" if u.active else "no", f"{u.created_at:%Y-%m-%d}")
            out.print(table)

    @users.command("token")
    def token(
        username: Annotated[str, typer.Argument(help="The user the token acts for.")],
        name: Annotated[str, typer.Option("--name", help="What the token is for, e.g. the provider's gateway.")] = "api",
        user: UserOpt = None,
        database: DbOpt = None,
    ) -> None:
        """A bearer token for machines (shown once)."""
        from moneytrail.opstore import OpsStore
        from moneytrail.opstore.audit import record
        from moneytrail.opstore.users import get_user, issue_token, require

        with OpsStore(database).session() as s:
            actor = cli_actor(s, user)
            if actor.username != username:
                require(actor, "manage_users")
            target = get_user(s, username)
            value = issue_token(s, target, name)
            record(s, actor.username, "user.token", f"user:{username}", details={"name": name})
        print(value)

    @users.command("disable")
    def disable(username: Annotated[str, typer.Argument()], user: UserOpt = None, database: DbOpt = None) -> None:
        """Disable a user and revoke their tokens."""
        from moneytrail.opstore import OpsStore
        from moneytrail.opstore.audit import record
        from moneytrail.opstore.users import get_user, require, revoke_tokens

        with OpsStore(database).session() as s:
            actor = cli_actor(s, user)
            require(actor, "manage_users")
            target = get_user(s, username)
            target.active = False
            n = revoke_tokens(s, target)
            record(s, actor.username, "user.disable", f"user:{username}", details={"tokens_revoked": n})
        out.print(f"disabled {username}")

    @audit.command("verify")
    def verify_(
        expect: Annotated[str | None, typer.Option("--expect", help="A head hash noted earlier: check it is still in the chain.")] = None,
        database: DbOpt = None,
    ) -> None:
        """Recompute the hash chain; exit 1 if any entry was edited, deleted or inserted."""
        from moneytrail.opstore import OpsStore
        from moneytrail.opstore.audit import verify

        with OpsStore(database).session() as s:
            result = verify(s, expect)
        if result.ok:
            out.print(f"[green]audit trail intact[/]: {result.entries:,} entries; head {result.head}")
            return
        for p in result.problems:
            out.print(f"[red]{p}[/]")
        out.print(f"[red]audit trail BROKEN[/]: {len(result.problems)} problem(s) in {result.entries:,} entries")
        raise typer.Exit(1)

    @audit.command("list")
    def list_audit(
        target: Annotated[str | None, typer.Option("--target", help="e.g. case:C-000001 or subject:S000123")] = None,
        limit: Annotated[int, typer.Option("--limit")] = 50,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
        user: UserOpt = None,
        database: DbOpt = None,
    ) -> None:
        """The newest audit entries."""
        from moneytrail.opstore import OpsStore
        from moneytrail.opstore.audit import entries
        from moneytrail.opstore.users import require

        with OpsStore(database).session() as s:
            require(cli_actor(s, user), "read_audit")
            rows = entries(s, target=target, limit=limit)
            if as_json:
                for e in rows:
                    print(json.dumps({"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                                      "target": e.target, "before": e.before, "after": e.after, "details": e.details}))
                return
            table = Table(title="Audit trail (newest first)")
            for c in ("id", "at", "actor", "action", "target", "change"):
                table.add_column(c)
            for e in rows:
                change = json.dumps(e.after or e.details or {}, default=str)[:60]
                table.add_row(str(e.id), f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.target, change)
            out.print(table)
