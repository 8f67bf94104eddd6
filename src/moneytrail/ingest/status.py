"""`moneytrail status`: what the warehouse holds."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table as RichTable

from moneytrail.store import Warehouse


def store_summary(wh: Warehouse) -> dict[str, object]:
    con = wh.con
    per_source = con.execute(
        """
        SELECT provider, format, count(*) AS transactions, min(ts_utc) AS first, max(ts_utc) AS last
        FROM transactions GROUP BY ALL ORDER BY provider, format
        """
    ).fetchall()
    referrals = con.execute(
        "SELECT provider, count(*) FROM referrals GROUP BY ALL ORDER BY provider"
    ).fetchall()
    quarantine = con.execute(
        "SELECT provider, count(*) FROM quarantine GROUP BY ALL ORDER BY provider"
    ).fetchall()
    return {
        "store": str(wh.path),
        "files": wh.count("ingested_files"),
        "transactions": wh.count("transactions"),
        "parties": wh.count("parties"),
        "referrals": wh.count("referrals"),
        "quarantined": wh.count("quarantine"),
        "per_source": per_source,
        "referrals_per_provider": referrals,
        "quarantine_per_provider": quarantine,
    }


def print_status(wh: Warehouse, console: Console) -> None:
    s = store_summary(wh)
    out = Console()
    out.print(f"[bold]store[/] {s['store']}")
    table = RichTable(title="Transactions per provider and format")
    for col in ("provider", "format", "transactions", "first (UTC)", "last (UTC)"):
        table.add_column(col, justify="right" if col == "transactions" else "left")
    for provider, fmt, n, first, last in s["per_source"]:  # type: ignore[attr-defined]
        table.add_row(provider, fmt, f"{n:,}", str(first), str(last))
    for provider, n in s["referrals_per_provider"]:  # type: ignore[attr-defined]
        table.add_row(provider, "platform-jsonl", f"{n:,} referrals", "", "")
    out.print(table)
    out.print(
        f"{s['files']:,} files, {s['transactions']:,} transactions, {s['parties']:,} party "
        f"occurrences, {s['referrals']:,} referrals, [bold]{s['quarantined']:,}[/] records in quarantine"
    )
    for provider, n in s["quarantine_per_provider"]:  # type: ignore[attr-defined]
        out.print(f"  quarantine {provider}: {n:,}")
