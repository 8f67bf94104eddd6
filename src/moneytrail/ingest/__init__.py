"""Ingestion: every format of the data contract into the canonical tables.

Each file is ingested in one transaction, keyed by its content hash: a file
already ingested is skipped, and a run killed mid-file leaves no trace of
that file, so a rerun ends with the same store as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from moneytrail.ingest.bundle import (
    BundlePlan,
    SourceFile,
    plan_bundle,
    plan_files,
    read_csv_header,
)
from moneytrail.ingest.csv_formats import CSV_FORMATS, VALID_WALLET_TYPES, CsvFormat
from moneytrail.ingest.csv_reader import (
    CSV_LOCATION_SQL,
    HeaderError,
    collect_rejects,
    csv_view,
    header_names,
    install_reject_shift,
    read_files_into_batch,
    read_into_batch,
    relabel_set_aside,
    repair_line_ends,
    salvage_file,
)
from moneytrail.ingest.finish import SCRATCH_SETTING, FinishCounts, Rules, check_into, load_checked
from moneytrail.ingest.pipeline import PacsPrefetch, ahead, pacs_batches, pacs_in_process
from moneytrail.ingest.stage import SIDES, Rejected
from moneytrail.schema import TABLES
from moneytrail.store import Warehouse, scalar, temp_directory


@dataclass
class FileResult:
    source: SourceFile
    loaded: int = 0
    quarantined: int = 0
    already_present: int = 0
    skipped: bool = False  # the same file was ingested before


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    def print(self, console: Console) -> None:
        table = RichTable(title="Ingested", show_lines=False)
        for col in ("file", "provider", "format", "loaded", "quarantined", "note"):
            table.add_column(col, justify="right" if col in ("loaded", "quarantined") else "left")
        for f in self.files:
            note = (
                "already ingested"
                if f.skipped
                else (f"{f.already_present} already in store" if f.already_present else "")
            )
            table.add_row(
                f.source.rel,
                f.source.provider,
                f.source.format,
                f"{f.loaded:,}",
                f"{f.quarantined:,}",
                note,
            )
        console.print(table)
        for rel in self.unrecognised:
            console.print(f"[yellow]skipped[/] {rel}: not a format moneytrail reads")
        console.print(f"{self.loaded:,} records loaded, {self.quarantined:,} quarantined.")


def ingest_paths(
    wh: Warehouse,
    paths: list[Path],
    *,
    fmt: str | None = None,
    provider: str | None = None,
    timezone: str | None = None,
    console: Console | None = None,
) -> IngestReport:
    return ingest_plan(wh, plan_files(paths, fmt, provider, timezone), console=console)


def ingest_bundle(wh: Warehouse, bundle: Path, console: Console | None = None) -> IngestReport:
    return ingest_plan(wh, plan_bundle(bundle), console=console)


def ingest_plan(wh: Warehouse, plan: BundlePlan, console: Console | None = None) -> IngestReport:
    report = IngestReport(unrecognised=plan.unrecognised)
    if plan.fx_file is not None:
        load_fx_rates(wh, plan.fx_file)
    total = sum(f.path.stat().st_size for f in plan.files) or 1
    with Progress(
        TextColumn("[bold]ingest[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[file]}"),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=True,
        disable=console is None,
    ) as progress:
        task = progress.add_task("ingest", total=total, file="")
        batches = file_batches(plan.files)
        with closing(_prefetch_pacs(wh.con, batches)) as prefetch:
            for batch in batches:
                progress.update(
                    task,
                    file=batch[0].rel + (f" and {len(batch) - 1} more" if len(batch) > 1 else ""),
                )
                if len(batch) == 1 and batch[0].format not in (*CSV_FORMATS, "pacs008"):
                    report.files.append(ingest_file(wh, batch[0]))
                else:
                    report.files += ingest_batch(wh, batch, prefetch=prefetch)
                progress.advance(task, sum(source.path.stat().st_size for source in batch))
    return report


class _NoPrefetch:
    def items(self, files: list[tuple[str, str]], maxsize: int = 2) -> None:
        return None

    def done(self) -> bool:
        return False

    def close(self) -> None:
        pass


def _prefetch_pacs(
    con: duckdb.DuckDBPyConnection, batches: list[list[SourceFile]]
) -> PacsPrefetch | _NoPrefetch:
    """The reader of the pacs.008 batches that would each have a reader process, started now.

    It runs beside the batches before them (a bundle's CSV files), at a lower
    priority (`pipeline.PREFETCH_NICE`), at most `pipeline.PREFETCH_AHEAD` batches ahead
    of the loading; the batches are then read from its spools.
    A batch whose files' paths the store lists as ingested (a rerun) is left out: it is
    most likely skipped, and if not, it has its own reader as before.
    Nothing to prefetch (no big pacs.008 batch, or one core): a stand-in that has nothing.
    """
    if (os.cpu_count() or 1) < 2 or not PACS_PREFETCH:
        return _NoPrefetch()
    stored = {
        (str(path), str(provider))
        for path, provider in con.execute(
            "SELECT DISTINCT path, provider FROM ingested_files WHERE format = 'pacs008'"
        ).fetchall()
    }
    big = [
        [(s.rel, str(s.path)) for s in batch]
        for batch in batches
        if batch[0].format == "pacs008"
        and sum(s.path.stat().st_size for s in batch) >= PACS_PROCESS_BYTES
        and not all((s.rel, s.provider) in stored for s in batch)
    ]
    if not big:
        return _NoPrefetch()
    spool_dir = temp_directory(con)  # where the store spills: the disk chosen for scratch
    spool_dir.mkdir(parents=True, exist_ok=True)
    return PacsPrefetch(big, PACS_READ_ROWS, spool_dir=spool_dir)


# CSV per batch: big enough to amortise, small enough to keep memory flat (~0.8 GiB)
BATCH_BYTES = 64 << 20


def file_batches(files: list[SourceFile]) -> list[list[SourceFile]]:
    """Runs of consecutive files to ingest together: same provider, format and zone (and header for CSV).

    A bundle's monthly CSV exports and weekly pacs.008 files are many small
    files; each file costs a fixed 0.3 to 0.5 s of planning and commits, so
    ingesting them together is several times faster on small files.
    Platform files stay one file per batch.
    """
    batches: list[list[SourceFile]] = []
    key: tuple[object, ...] | None = None
    size = 0
    for source in files:
        this: tuple[object, ...] | None = None
        if source.format in CSV_FORMATS:
            this = (
                source.provider,
                source.format,
                source.timezone,
                tuple(read_csv_header(source.path)),
            )
        elif source.format == "pacs008":
            this = (source.provider, source.format, source.timezone)
        bytes_ = source.path.stat().st_size
        if this is not None and this == key and size + bytes_ <= BATCH_BYTES:
            batches[-1].append(source)
            size += bytes_
        else:
            batches.append([source])
            key, size = this, bytes_
    return batches


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_file(wh: Warehouse, source: SourceFile) -> FileResult:
    if source.format in CSV_FORMATS or source.format == "pacs008":
        return ingest_batch(wh, [source])[0]
    result = FileResult(source)
    sha = file_sha256(source.path)
    con = wh.con
    seen = scalar(
        con,
        "SELECT count(*) FROM ingested_files WHERE sha256 = ? AND provider = ?",
        [sha, source.provider],
    )
    if seen:
        result.skipped = True
        return result
    with wh.transaction():
        counts = _ingest_platform(con, source)
        result.loaded, result.quarantined = counts.loaded, counts.quarantined
        result.already_present = counts.already_present
        con.execute(
            "INSERT INTO ingested_files VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                sha,
                source.rel,
                source.provider,
                source.format,
                result.loaded,
                result.quarantined,
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )
    _drop_scratch(con)
    return result


def _drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the temporary tables and views a file's ingestion made."""
    for name, kind in con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_catalog = 'temp'"
    ).fetchall():
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS temp.main.{name}")


def _quarantine(
    con: duckdb.DuckDBPyConnection, source: SourceFile, rejected: list[Rejected]
) -> int:
    if rejected:
        # one statement for all rows: executemany runs one statement per row
        rows = pa.table(
            {
                "provider": [source.provider] * len(rejected),
                "file": [source.rel] * len(rejected),
                "location": [r.location for r in rejected],
                "reason": [r.reason for r in rejected],
                "raw": [r.raw for r in rejected],
            }
        )
        con.register("quarantine_rows", rows)
        con.execute("INSERT INTO quarantine SELECT * FROM quarantine_rows")
        con.unregister("quarantine_rows")
    return len(rejected)


def ingest_batch(
    wh: Warehouse, batch: list[SourceFile], *, prefetch: PacsPrefetch | _NoPrefetch | None = None
) -> list[FileResult]:
    """Ingest files of one `file_batches` batch (CSV or pacs.008) in one transaction, each with its own figures.

    Each file is read on its own (so bad records keep their file and line or
    element path, and lines a broken CSV quote swallowed are read again), into
    one table; validation and loading, the costly part, then run once for the
    batch. The outcome is the one of ingesting the files one by one: a file
    already ingested is skipped, and a record id of an earlier file is already
    in store.
    """
    con = wh.con
    results: dict[str, FileResult] = {}
    todo: list[tuple[SourceFile, str]] = []
    shas: set[str] = set()
    hashes = [file_sha256(source.path) for source in batch]
    # One look-up for the batch (one per file cost a statement's fixed price each).
    stored = {
        (str(sha), str(provider))
        for sha, provider in con.execute(
            "SELECT DISTINCT sha256, provider FROM ingested_files "
            "WHERE sha256 IN (SELECT unnest(?::VARCHAR[]))",
            [hashes],
        ).fetchall()
    }
    for source, sha in zip(batch, hashes, strict=True):
        seen = (sha, source.provider) in stored
        if seen or sha in shas or source.rel in results:
            results.setdefault(source.rel, FileResult(source, skipped=True))
        else:
            todo.append((source, sha))
            shas.add(sha)
            results[source.rel] = FileResult(source)
    if todo:
        con.execute(SCRATCH_SETTING)
        try:
            with wh.transaction():
                if todo[0][0].format == "pacs008":
                    _ingest_pacs008(con, [s for s, _ in todo], results, prefetch)
                else:
                    _ingest_csv(con, [s for s, _ in todo], results)
                now = datetime.now(UTC).replace(tzinfo=None)
                con.executemany(
                    "INSERT INTO ingested_files VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        [
                            sha,
                            s.rel,
                            s.provider,
                            s.format,
                            results[s.rel].loaded,
                            results[s.rel].quarantined,
                            now,
                        ]
                        for s, sha in todo
                    ],
                )
        finally:
            con.execute("RESET python_scan_all_frames")
        _drop_scratch(con)
    return [results[s.rel] for s in batch]


def _csv_rules(fmt: CsvFormat) -> Rules:
    # Required columns are checked by their staging column, reported by their own name.
    reverse = {v: k for k, v in fmt.columns.items() if not v.startswith("'")}
    checks: list[tuple[str, str]] = []
    if fmt.id == "wallet-csv":
        allowed = ", ".join(f"'{t}'" for t in VALID_WALLET_TYPES)
        checks.append(
            (
                f"lower(txn_type) NOT IN ({allowed})",
                f"'unknown type: ' || txn_type || ' (expected one of {allowed.replace(chr(39), '')})'",
            )
        )
    return Rules(
        required=[(reverse[c], c) for c in fmt.required if c in reverse],
        checks=checks,
        required_countries={"wallet-csv": ()}.get(fmt.id, ("from", "to")),
    )


def _ingest_csv(
    con: duckdb.DuckDBPyConnection, files: list[SourceFile], results: dict[str, FileResult]
) -> None:
    """Read each file into `src_all`, then check and load them all at once; fills `results`."""
    first = files[0]
    fmt = CSV_FORMATS[first.format]
    rejected: dict[str, list[Rejected]] = {s.rel: [] for s in files}
    spans: list[tuple[str, int, int]] = []
    batch_names: list[str] | None = None
    readable: list[SourceFile] = []
    for source in files:
        try:
            names = header_names(source.path, fmt)
        except HeaderError as exc:
            rejected[source.rel].append(Rejected("line 1", str(exc)))
            continue
        if batch_names is not None and names != batch_names:  # file_batches groups by header
            raise ValueError(f"{source.rel}: header differs from the rest of its batch")
        batch_names = names
        readable.append(source)
    if batch_names is not None and _read_csv_at_once(con, readable, batch_names, rejected, spans):
        readable = []
    for i, source in enumerate(readable):
        assert batch_names is not None
        names = batch_names
        # Read the file; then read again, as files of their own, the lines a broken quote swallowed.
        pending: list[tuple[Path, int | None]] = [(source.path, None)]
        aside: dict[int, str] = {}  # lines holding a bare CR outside quotes (`repair_line_ends`)
        while pending:
            path, base_line = pending.pop(0)
            copy = repair_line_ends(path, aside)
            read_into_batch(
                con,
                copy or path,
                names,
                source_file=source.rel,
                base_line=base_line,
                first=i == 0 and base_line is None,
            )
            found = collect_rejects(con, base_line or 1)
            if aside:
                relabel_set_aside(found, aside)
            if copy:
                copy.unlink()
            rejected[source.rel] += found.rejected
            if base_line is None:
                spans += [(source.rel, line, span) for line, span in found.spans]
            else:
                path.unlink()
            pending += [(salvage_file(names, lines), line) for line, lines in found.salvage]
    if batch_names is not None:
        raw_text = csv_view(con, "stage", fmt, batch_names)
        checked = check_into(con, "stage", _csv_rules(fmt), first.timezone, carry=("source_file",))
        install_reject_shift(con, spans)
        counts = load_checked(
            con,
            checked,
            provider=first.provider,
            source_file=None,
            fmt=fmt.id,
            naive_tz=first.timezone,
            location_sql=CSV_LOCATION_SQL,
            raw_text=raw_text,
            sides=tuple(
                s for s in SIDES if f"{s}_party" in fmt.columns or f"{s}_party" in fmt.derived
            ),
        )
        for rel, c in counts.files.items():
            r = results[rel]
            r.loaded, r.quarantined, r.already_present = c.loaded, c.quarantined, c.already_present
    for source in files:
        results[source.rel].quarantined += _quarantine(con, source, rejected[source.rel])


def _read_csv_at_once(
    con: duckdb.DuckDBPyConnection,
    files: list[SourceFile],
    names: list[str],
    rejected: dict[str, list[Rejected]],
    spans: list[tuple[str, int, int]],
) -> bool:
    """Read the batch's files into `src_all` in one statement (DuckDB reads two at once).

    False, with nothing added to `rejected` and `spans`, when a file needs its lines
    read again (a broken quote swallowed some): the caller then reads the files one by
    one, so those lines keep their place right after their file's.
    """
    paths = [s.path for s in files]
    if len({str(p) for p in paths}) < len(paths):
        return False
    asides: list[dict[int, str]] = [{} for _ in files]
    copies = [repair_line_ends(p, aside) for p, aside in zip(paths, asides, strict=True)]
    try:
        found = read_files_into_batch(
            con,
            [c or p for c, p in zip(copies, paths, strict=True)],
            names,
            [s.rel for s in files],
        )
    finally:
        for c in copies:
            if c:
                c.unlink()
    if any(f.salvage for f in found):
        return False
    for source, f, aside in zip(files, found, asides, strict=True):
        if aside:
            relabel_set_aside(f, aside)
        rejected[source.rel] += f.rejected
        spans += [(source.rel, line, span) for line, span in f.spans]
    return True


# pacs.008 rows checked and loaded at a time: memory stays flat in the file size,
# and the parser thread reads the next chunk while DuckDB loads this one.
PACS_CHUNK_ROWS = 100_000
PACS_READ_ROWS = 20_000  # rows of each reader batch
PACS_QUEUE = 3  # reader batches the parser may run ahead
# From this many bytes of pacs.008 in a batch on, the reader runs in a child process
# (`pipeline.pacs_in_process`): its start costs about 0.5 CPU s (imports), a thread
# costs nothing but shares the GIL with the loading.
PACS_PROCESS_BYTES = 16 << 20
# Those batches of a plan read by one process started with the ingest (`_prefetch_pacs`).
PACS_PREFETCH = True
# DuckDB's memory while a pacs.008 batch loads. A transaction keeps the blocks it appended
# (transactions, parties, normalised values) cached up to its memory limit; under this
# budget they are dropped (they are on disk already) or go to the temp directory, so the
# peak stays flat in the file size. 200,000 -> 800,000 transactions, one run each (load
# 15-17): 400MB +15% (555 -> 638 MiB), 200MB +10%, 150MB +4% (474 -> 493 MiB) for 10-20%
# more CPU in the loading process, which is not the critical path (the parser is).
PACS_DUCKDB_MEMORY = "150MB"
# DuckDB's threads while a pacs.008 batch loads beside the parser process. The parser
# holds a core; a second DuckDB thread only competes with it for the other, and
# parallel operators cost CPU of their own (200,000 transactions: loading 2.55 and
# 2.57 CPU s with one thread, 2.69 and 2.61 with two, alternately, load 16).
PACS_DUCKDB_THREADS = 1

_UNITS = {
    "": 1,
    "b": 1,
    "bytes": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def _size(text: str) -> float:
    """Bytes of a DuckDB size setting such as '10.5 GiB' or '400MB'."""
    m = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]*)\s*", text)
    if m is None or m.group(2).lower() not in _UNITS:
        return float("inf")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


def _restorable(shown: str) -> str:
    """A setting that DuckDB shows as `shown` again. It shows sizes cut to one decimal
    ('1.8 GiB' for 2GB), so setting the shown text back would lose a little each time;
    half a unit of the last digit more is shown the same and stays put."""
    m = re.fullmatch(r"\s*(\d+)\.(\d+)\s*([A-Za-z]+)\s*", shown)
    if m is None:
        return shown
    whole, frac, unit = m.groups()
    return f"{whole}.{frac}5 {unit}"


@contextmanager
def _threads_at_most(con: duckdb.DuckDBPyConnection, threads: int | None) -> Iterator[None]:
    """DuckDB's threads lowered to `threads` (never raised; None: as set) for the block, then restored."""
    if threads is None:
        yield
        return
    current = int(str(scalar(con, "SELECT current_setting('threads')")))
    if threads >= current:
        yield
        return
    con.execute(f"SET threads = {int(threads)}")
    try:
        yield
    finally:
        con.execute(f"SET threads = {current}")


@contextmanager
def _memory_budget(con: duckdb.DuckDBPyConnection, budget: str) -> Iterator[None]:
    """DuckDB's memory limit lowered to `budget` (never raised) for the block, then restored."""
    current = str(scalar(con, "SELECT current_setting('memory_limit')"))
    if _size(budget) >= _size(current):
        yield
        return
    con.execute(f"SET memory_limit = '{budget}'")
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{_restorable(current)}'")


def _ingest_pacs008(
    con: duckdb.DuckDBPyConnection,
    files: list[SourceFile],
    results: dict[str, FileResult],
    prefetch: PacsPrefetch | _NoPrefetch | None = None,
) -> None:
    """Stream the files' transactions a chunk at a time into the store; fills `results`.

    A child process (a thread, for small batches or one core) parses (lxml,
    Arrow) ahead of this one, which checks and loads (DuckDB): on two cores
    the two overlap. Chunks are loaded in order within
    the caller's transaction. A record id valid in an earlier chunk of its file
    is a duplicate: for a file the store held nothing of, the store's own rows
    say so (an earlier chunk loaded it); `pacs_seen` holds the rest (ids
    already in store, files stored before under the same path), which is
    nothing in a plain ingest. The outcome is the one of loading the batch whole.
    """
    _drop_scratch(con)
    con.execute("CREATE OR REPLACE TEMP TABLE pacs_seen (source_file VARCHAR, rid VARCHAR)")
    stored = {
        str(row[0])
        for row in con.execute(
            "SELECT DISTINCT source_file FROM transactions WHERE provider = ? AND source_file IN "
            "(SELECT unnest(?::VARCHAR[]))",
            [files[0].provider, [s.rel for s in files]],
        ).fetchall()
    }
    fresh = [s.rel for s in files if s.rel not in stored]
    rejected: dict[str, list[Rejected]] = {s.rel: [] for s in files}
    pending: list[pa.Table] = []
    staged = ordinal = 0
    paths = [(s.rel, str(s.path)) for s in files]
    size = sum(s.path.stat().st_size for s in files)
    threads: int | None = None  # DuckDB's own setting, beside a parser thread
    spooled = prefetch.items(paths, maxsize=PACS_QUEUE) if prefetch is not None else None
    if spooled is not None:
        items = spooled
        # the reader still runs beside the loading unless it has finished every batch
        threads = None if prefetch is not None and prefetch.done() else PACS_DUCKDB_THREADS
    elif size >= PACS_PROCESS_BYTES and (os.cpu_count() or 1) > 1:
        items = pacs_in_process(paths, PACS_READ_ROWS, maxsize=PACS_QUEUE)
        threads = PACS_DUCKDB_THREADS
    else:
        items = ahead(
            pacs_batches(paths, PACS_READ_ROWS), maxsize=PACS_QUEUE, name="pacs008-parser"
        )
    with (
        _memory_budget(con, PACS_DUCKDB_MEMORY),
        _threads_at_most(con, threads),
        closing(items),
    ):
        for rel, batch, bad in items:
            rejected[rel] += bad
            n = batch.num_rows
            if n:
                table = pa.Table.from_batches([batch])
                table = table.add_column(
                    0, "ordinal", pa.array(np.arange(ordinal + 1, ordinal + n + 1), pa.int64())
                )
                table = table.add_column(1, "fixed_line", pa.nulls(n, pa.int64()))
                table = table.append_column("source_file", pa.array([rel] * n, pa.string()))
                pending.append(table)
                staged += n
                ordinal += n
            if staged >= PACS_CHUNK_ROWS:
                _load_pacs_chunk(con, pending, files[0], results, fresh)
                pending, staged = [], 0
        if pending:
            _load_pacs_chunk(con, pending, files[0], results, fresh)
    for source in files:
        results[source.rel].quarantined += _quarantine(con, source, rejected[source.rel])


def _load_pacs_chunk(
    con: duckdb.DuckDBPyConnection,
    tables: list[pa.Table],
    first: SourceFile,
    results: dict[str, FileResult],
    fresh: list[str],
) -> None:
    """Check and load staged rows; DuckDB reads them from Arrow as `stage` (no staging table to write)."""
    rules = Rules(required=[("record_id", "UETR, EndToEndId or TxId"), ("ts", "CreDtTm")])
    stage = pa.concat_tables(tables)  # noqa: F841 (read by the SQL of check_into and load_checked)
    checked = check_into(con, "stage", rules, first.timezone, carry=("source_file",))
    counts = load_checked(
        con,
        checked,
        provider=first.provider,
        source_file=None,
        fmt="pacs008",
        naive_tz=first.timezone,
        seen="pacs_seen",
        fresh_files=fresh,
        sides=("from", "to"),  # a credit transfer has a debtor and a creditor
    )
    for rel, c in counts.files.items():
        r = results[rel]
        r.loaded += c.loaded
        r.quarantined += c.quarantined
        r.already_present += c.already_present


# Referral tables, in the order their rows refer to each other; keys come from the schema.
_PLATFORM_TABLES = (
    "referrals",
    "referral_subjects",
    "referral_identifiers",
    "referral_ip_events",
    "referral_sessions",
)


def _ingest_platform(con: duckdb.DuckDBPyConnection, source: SourceFile) -> FinishCounts:
    from moneytrail.ingest.platform import read_platform_jsonl

    records = read_platform_jsonl(
        source.path, provider=source.provider, source_file=source.rel, timezone=source.timezone
    )
    counts = FinishCounts()
    for table in _PLATFORM_TABLES:
        key = TABLES[table].key
        data: pa.Table = getattr(records, table)
        con.register("incoming", data)
        match = " AND ".join(f"t.{k} IS NOT DISTINCT FROM i.{k}" for k in key)
        inserted = scalar(
            con,
            f"INSERT INTO {table} SELECT * FROM incoming i "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {match})",
        )
        con.unregister("incoming")
        if table == "referrals":
            counts.loaded = int(inserted or 0)
            counts.already_present = data.num_rows - counts.loaded
    counts.quarantined = _quarantine(con, source, records.rejected)
    return counts


def load_fx_rates(wh: Warehouse, path: Path) -> int:
    """Add a bundle's `fx_rates.csv` (date,currency,usd_per_unit) to the store's rates."""
    from moneytrail.errors import UserError

    source = "file:" + file_sha256(path)[:16]
    try:
        inserted = scalar(
            wh.con,
            f"""
            INSERT INTO fx_rates
            SELECT DISTINCT CAST(date AS DATE), upper(trim(currency)), CAST(usd_per_unit AS DOUBLE), '{source}'
            FROM read_csv(?, header = true, all_varchar = true) r
            WHERE NOT EXISTS (SELECT 1 FROM fx_rates f WHERE f.source = '{source}')
            """,
            [str(path)],
        )
    except duckdb.Error as exc:
        raise UserError(
            f"{path}: cannot read exchange rates ({str(exc).splitlines()[0]}); "
            "it needs columns date,currency,usd_per_unit with ISO dates and decimal rates"
        ) from exc
    return int(inserted or 0)


__all__ = ["IngestReport", "ingest_bundle", "ingest_file", "ingest_paths", "ingest_plan"]
