"""`moneytrail pivot` and `moneytrail referrals ...`: registered into the main command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.console import Console
from rich.table import Table

from moneytrail.errors import UserError

StoreOption = Annotated[
    Path | None,
    typer.Option("--store", help="DuckDB warehouse file (default: $MONEYTRAIL_STORE or your data directory)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _ensure_links(con: duckdb.DuckDBPyConnection, err: Console) -> None:
    """Run the referral stage once when the store has never had it."""
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'referral_links'"
    ).fetchall()
    if rows and rows[0][0]:
        return
    from moneytrail.referrals.run import run_referrals

    err.print("[dim]no referral links in this store yet: linking now ...[/]")
    run_referrals(con)


def _out() -> Console:
    """Standard output; wide when it is not a terminal, so tables stay readable in files."""
    return Console() if sys.stdout.isatty() else Console(width=200)


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def _table(title: str, rows: list[dict[str, Any]], cols: list[str]) -> Table:
    t = Table(title=title, title_justify="left", show_lines=False)
    for c in cols:
        t.add_column(c)
    for r in rows:
        t.add_row(*("" if r.get(c) is None else _cell(r.get(c)) for c in cols))
    return t


def _cell(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


def print_pivot(data: dict[str, Any], out: Console) -> None:
    q = data["query"]
    out.print(f"[bold]pivot[/] {q['kind']} {q['value']}  (as stored: {q['normalised']})")
    refs = data["referral_subjects"]
    if refs:
        rows = [
            {**r, "linked_to": [f"{lk['subject_id']} ({lk['via']})" for lk in r["links"]] or "unmatched",
             "ips": len(r["ip_events"])}
            for r in refs
        ]
        out.print(_table("Referral subjects", rows, ["provider", "record_id", "platform", "account_id",
                                                      "screen_name", "display_name", "role",
                                                      "incident_type", "ips", "linked_to"]))
        for r in refs:
            for lk in r["links"]:
                out.print(f"  {r['record_id']} -> {lk['subject_id']} via {lk['via']}: {lk['evidence']}")
    else:
        out.print("No referral subject carries this value.")
    if not data["subjects"]:
        out.print("No payment subject is linked: the referral is kept and links when matching payments arrive.")
        return
    out.print(_table("Linked payment subjects", data["subjects"],
                     ["subject_id", "names", "countries", "linked_via", "n_sent", "usd_sent",
                      "n_received", "usd_received"]))
    pays = [
        {**p, "aligned": "; ".join(f"{a['report_id']}#{a['session_seq']} {a['order']} {a['gap_minutes']} min"
                                   for a in p["aligned_sessions"])}
        for p in data["payments"]
    ]
    title = f"Payments ({len(pays)} of {data['n_payments']}, newest first)"
    out.print(_table(title, pays, ["ts_utc", "direction", "provider", "record_id", "amount", "currency",
                                   "amount_usd", "counterparty_subject_id", "counterparty_name",
                                   "counterparty_country", "aligned"]))
    for f in data["facilitators"]:
        out.print(f"\n[bold]Facilitator {f['subject_id']}[/] {_cell(f['names'])} ({_cell(f['countries'])}): "
                  f"paid {f['n_paid_by_these_subjects']} times, {f['usd_paid_by_these_subjects']} USD by these "
                  f"subjects; received {f['n_received_in_all']} payments, {f['usd_received_in_all']} USD in all")
        out.print(_table("  collects at", f["collection_places"],
                         ["payout_city", "payout_agent_id", "payout_country", "n", "usd", "last_paid_out_at"]))
        if f["other_consumers"]:
            out.print(_table("  other consumers", f["other_consumers"],
                             ["subject_id", "names", "countries", "n_payments", "usd", "has_referral"]))
    if data["truncated"]:
        out.print(f"[yellow]lists cut at the limit:[/] {', '.join(data['truncated'])}")


def register(app: typer.Typer) -> None:
    @app.command("pivot")
    def pivot_command(
        account: Annotated[
            str | None, typer.Option("--account", help="PLATFORM:ACCOUNT_ID, e.g. VidChat:u_88812.")
        ] = None,
        email: Annotated[str | None, typer.Option("--email", help="An email address.")] = None,
        phone: Annotated[str | None, typer.Option("--phone", help="A phone number, international form.")] = None,
        as_json: JsonOption = False,
        limit: Annotated[int, typer.Option("--limit", help="Most rows per list.")] = 200,
        store: StoreOption = None,
    ) -> None:
        """From a platform account, email or phone to the payments, facilitators and places."""
        from moneytrail.referrals.pivot import pivot
        from moneytrail.store import Warehouse

        given = [(k, v) for k, v in (("account", account), ("email", email), ("phone", phone)) if v]
        if len(given) != 1:
            raise UserError("give exactly one of --account PLATFORM:ACCOUNT_ID, --email or --phone")
        kind, value = given[0]
        err = Console(stderr=True)
        with Warehouse(store) as wh:
            _ensure_links(wh.con, err)
            data = pivot(wh.con, kind, value, limit=limit)
        if as_json:
            typer.echo(_dump(data))
        else:
            print_pivot(data, _out())

    referrals = typer.Typer(help="Platform referrals: links to payment subjects, and what matched nothing.",
                            no_args_is_help=True)

    @referrals.command("run")
    def run_command(
        store: StoreOption = None,
        ip_window_hours: Annotated[float, typer.Option("--ip-window-hours")] = 24.0,
        align_window_minutes: Annotated[float, typer.Option("--align-window-minutes")] = 180.0,
    ) -> None:
        """Recompute referral links, aligned payments and per-payment indicators over the store."""
        from moneytrail.referrals.config import ReferralSettings
        from moneytrail.referrals.run import run_referrals
        from moneytrail.store import Warehouse

        settings = ReferralSettings(ip_window_hours=ip_window_hours, align_window_minutes=align_window_minutes)
        with Warehouse(store) as wh:
            report = run_referrals(wh.con, settings)
        Console(stderr=True).print(_dump(report.to_dict()))

    @referrals.command("unmatched")
    def unmatched_command(store: StoreOption = None, as_json: JsonOption = False) -> None:
        """Referral subjects linked to no payment subject (kept until payments arrive)."""
        from moneytrail.referrals.linking import unmatched
        from moneytrail.referrals.pivot import _value
        from moneytrail.store import Warehouse

        with Warehouse(store) as wh:
            _ensure_links(wh.con, Console(stderr=True))
            rows = [{k: _value(v) for k, v in r.items()} for r in unmatched(wh.con)]
        if as_json:
            typer.echo(_dump(rows))
            return
        _out().print(_table(f"Unmatched referral subjects ({len(rows)})", rows,
                               ["provider", "record_id", "platform", "role", "account_id", "display_name",
                                "incident_type", "n_identifiers", "n_ip_events"]))

    @referrals.command("links")
    def links_command(
        store: StoreOption = None,
        as_json: JsonOption = False,
        via: Annotated[str | None, typer.Option("--via", help="Only resolve, ip, device or session links.")] = None,
    ) -> None:
        """Referral subjects and the payment subjects they are linked to, with the evidence."""
        from moneytrail.store import Warehouse

        with Warehouse(store) as wh:
            _ensure_links(wh.con, Console(stderr=True))
            cur = wh.con.execute(
                "SELECT * FROM referral_links WHERE ? IS NULL OR via = ? "
                "ORDER BY referral_provider, referral_record_id, subject_id, via",
                [via, via],
            )
            cols = [d[0] for d in cur.description]
            rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        if as_json:
            typer.echo(_dump(rows))
            return
        _out().print(_table(f"Referral links ({len(rows)})", rows, cols))

    app.add_typer(referrals, name="referrals")
