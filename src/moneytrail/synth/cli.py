"""`moneytrail synth`: write a synthetic world (bundle and ground truth)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command(name="synth")(synth)


def synth(
    out: Annotated[Path, typer.Option("--out", help="Directory for bundle/ and truth/ (replaced if present).")],
    scale: Annotated[float, typer.Option("--scale", help="World size; 1 is about 50,000 transactions.")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars or summary table.")] = False,
) -> None:
    """Generate a synthetic world: OUT/bundle (the providers' exports) and OUT/truth (what really happened)."""
    from moneytrail.errors import UserError
    from moneytrail.synth.world import generate

    if scale <= 0:
        raise UserError("--scale must be positive")
    console = Console(stderr=True)
    res = generate(out, scale=scale, seed=seed, show_progress=not quiet, console=console)
    if quiet:
        return
    s = res.summary
    t = Table(title=f"synthetic world (scale {scale}, seed {seed}) in {res.seconds:.1f} s")
    t.add_column("figure")
    t.add_column("value", justify="right")
    rows = [
        ("transactions", f"{s['transactions']:,}"),
        ("abuse share", f"{s['abuse_share']:.3f}"),
        ("malformed", f"{s['malformed']:,} ({s['malformed_share']:.2%})"),
        ("persons", f"{s['persons']:,}"),
        ("consumers / lone share", f"{s['consumers']:,} / {s['lone_payer_share']:.2f}"),
        ("US share of consumer payments", f"{s['consumer_flow_by_sender_country_count'].get('US', 0):.2f}"),
        ("abuse payments in 15-200 USD", f"{s['abuse_payment_share_15_200_usd']:.2f}"),
        ("night share abuse / legit", f"{s['night_share_22_06_local']['abuse_payments']:.2f} / "
                                      f"{s['night_share_22_06_local']['legit_transfers']:.2f}"),
        ("referrals / aligned pairs", f"{s['referrals']:,} / {s['aligned_pairs']:,}"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)
    console.print(f"bundle: {res.bundle}\ntruth:  {res.truth}")
