"""Build a whole world: people, flows, the providers' files, referrals and the truth."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from moneytrail.synth import behaviour as B
from moneytrail.synth import ledger as L
from moneytrail.synth import malformed, referrals, truth, writers
from moneytrail.synth import places as P
from moneytrail.synth.population import Population


@dataclass
class WorldResult:
    out: Path
    bundle: Path
    truth: Path
    summary: dict[str, Any]
    seconds: float


def _stream(seed: int, k: int) -> np.random.Generator:
    return np.random.default_rng([seed, k])


@contextmanager
def _progress(show: bool, console: Console | None) -> Iterator[Progress | None]:
    if not show:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                  TimeElapsedColumn(), console=console or Console(stderr=True), transient=False) as prog:
        yield prog


def generate(out: Path | str, scale: float = 1.0, seed: int = 1, *, show_progress: bool = False,
             console: Console | None = None) -> WorldResult:
    """Write `out/bundle/` and `out/truth/` for a world of about `50_000 * scale` transactions."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    t0 = time.perf_counter()
    out = Path(out)
    bundle, truth_dir = out / "bundle", out / "truth"
    for d in (bundle, truth_dir):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    with _progress(show_progress, console) as prog:
        task = prog.add_task("people and payments", total=14) if prog else None

        def step() -> None:
            if prog is not None and task is not None:
                prog.advance(task)

        pop = Population(_stream(seed, 1))
        w = B.World(_stream(seed, 2), scale, pop)
        for fn in (B.build_merchants, B.build_networks, B.consumer_payments, B.network_flows, B.offender_context,
                   B.general_population, B.local_residents, B.migrants, B.ofw_remittances, B.students,
                   B.adult_webcam, B.romance, B.charity, B.suppliers):
            fn(w)
            step()
        fx = L.fx_table(_stream(seed, 3))
        w.ledger.finish(fx, pop["zone"])
        malformed.assign(w.ledger, _stream(seed, 4))
        ledger = w.ledger
        wtask = prog.add_task("writing the bundle", total=ledger.n) if prog else None

        def advance(n: int) -> None:
            if prog is not None and wtask is not None:
                prog.advance(wtask, n)

        ctx = writers.Ctx(bundle, pop, ledger, seed, fx, advance)
        rid = np.empty(ledger.n, dtype=object)
        files = np.empty(ledger.n, dtype=object)
        sources: list[tuple[str, str, str, str]] = []
        bad: list[tuple[str, str, str, str, str]] = []
        for provider in L.PROVIDERS:
            fmt = L.FORMATS[provider]
            if fmt == "remittance-csv":
                res = writers.write_remittance(ctx, provider)
            elif fmt == "wallet-csv":
                res = writers.write_wallet(ctx, provider)
            elif fmt == "card-csv":
                res = writers.write_card(ctx, provider)
            else:
                res = writers.write_pacs008(ctx, provider)
            sl = ledger.provider_slice(L.PROV[provider])
            rid[sl] = res.record_id
            files[sl] = res.file
            sources += res.files
            bad += res.malformed
        specs = referrals.build(pop, ledger, w.consumers, w.networks, _stream(seed, 5), scale)
        rt = referrals.write(bundle, pop, specs, rid, ledger.c["prov"], _stream(seed, 6), seed)
        sources += rt.files
        bad += rt.malformed
        _write_sources(bundle, sources)
        _write_fx(bundle, fx)
        ttask = prog.add_task("writing the truth", total=3) if prog else None
        truth.write_transactions(truth_dir, ledger, pop, rid, files)
        truth.append_referral_parties(truth_dir, rt.parties)
        if prog is not None and ttask is not None:
            prog.advance(ttask)
        truth.write_persons(truth_dir, pop)
        if prog is not None and ttask is not None:
            prog.advance(ttask)
        aligned = [(L.PROVIDERS[int(ledger.c["prov"][row])], str(rid[row]), prov, rep, seq)
                   for row, prov, rep, seq in rt.aligned]
        truth.write_small(truth_dir, bad, aligned)
        s = truth.summary(ledger, pop, w.networks, rt.n_reports, len(aligned), len(bad), scale, seed)
        truth.write_summary(truth_dir, s)
        if prog is not None and ttask is not None:
            prog.advance(ttask)
    return WorldResult(out, bundle, truth_dir, s, time.perf_counter() - t0)


def _write_sources(bundle: Path, rows: list[tuple[str, str, str, str]]) -> None:
    with open(bundle / "sources.csv", "w", encoding="utf-8", newline="") as f:
        f.write("path,format,provider,timezone\n")
        for path, fmt, provider, tz in rows:
            f.write(f"{path},{fmt},{provider},{tz}\n")


def _write_fx(bundle: Path, fx: np.ndarray) -> None:
    with open(bundle / "fx_rates.csv", "w", encoding="utf-8", newline="") as f:
        f.write("date,currency,usd_per_unit\n")
        for m in range(L.N_MONTHS):
            day = np.datetime64("2024-01", "M") + np.timedelta64(m, "M")
            for j, cur in enumerate(P.CURRENCIES):
                f.write(f"{day}-01,{cur},{fx[m, j]:.8g}\n")
