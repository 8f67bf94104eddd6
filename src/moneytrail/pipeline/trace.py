"""Where a batch run spends memory and disk: per-stage peaks, and (MONEYTRAIL_TRACE) per statement.

A thread samples, every `interval` seconds, the run's resident memory and the bytes
of DuckDB's spill files it holds open (the warehouse's temp directory and Splink's
own), and keeps each stage's peaks; `run.json` gets them as `stage_peaks`. With
`MONEYTRAIL_TRACE=1` it also notes the line of moneytrail code the main thread is
in (the statement being run) and writes every sample to `OUT/trace.jsonl`, and the
lines where the spill grew most to `run.json` (`trace_top`). Linux only (/proc); elsewhere
the peaks stay 0.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

PACKAGE_DIR = str(Path(__file__).resolve().parents[1])  # .../src/moneytrail
SPLINK_SPILL_PREFIX = "moneytrail-splink-"  # resolve/splink_model.py's temp directories
MIB = 2**20


def tracing() -> bool:
    """Whether MONEYTRAIL_TRACE asks for the per-statement trace."""
    return os.environ.get("MONEYTRAIL_TRACE", "").strip().lower() not in ("", "0", "false", "no")


def rss_bytes() -> int:
    """Resident bytes of this process (0 where /proc is missing)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def spill_bytes(temp_dirs: tuple[str, ...]) -> int:
    """Disk bytes of the spill files this process holds open under `temp_dirs` or in
    Splink's spill directories (deleted-but-open files count too)."""
    total, seen = 0, set()
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    for fd in fds:
        link = f"/proc/self/fd/{fd}"
        try:
            target = os.readlink(link)
            if not (
                target.startswith(temp_dirs) or f"/{SPLINK_SPILL_PREFIX}" in target
            ):
                continue
            st = os.stat(link)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def free_disk(path: Path) -> int:
    """Free bytes on the disk holding `path` (or its nearest existing parent: DuckDB
    makes its temp directory only when it first spills)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def _location() -> str:
    """The innermost line of moneytrail code (outside this module) the main thread is in."""
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(PACKAGE_DIR) and not name.endswith("trace.py"):
            rel = name[len(PACKAGE_DIR) + 1 :]
            return f"{rel}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back
    return "?"


@dataclass
class _Line:
    seconds: float = 0.0
    peak_rss: int = 0
    peak_spill: int = 0
    spill_growth: int = 0  # sum of the rises of spill seen while in this line


@dataclass
class RunTracer:
    """Samples memory and spill while a run goes; `stage(name)` marks the stages."""

    temp_dirs: tuple[str, ...]
    trace_file: Path | None = None
    interval: float = 0.5
    peaks: dict[str, dict[str, float]] = field(default_factory=dict)
    lines: dict[str, _Line] = field(default_factory=dict)
    min_free_disk: int | None = None
    _stage: str = "start"
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _out: IO[str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> RunTracer:
        if self.trace_file is not None:
            self._out = self.trace_file.open("w")
        self._thread = threading.Thread(target=self._run, name="moneytrail-trace", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample(time.perf_counter(), None)
        if self._out is not None:
            self._out.close()

    @contextmanager
    def stage(self, name: str, con: Any = None) -> Iterator[None]:
        """Mark a stage; with a trace and a DuckDB connection `con`, note at its end the
        temporary tables left (they live in memory, or in the spill beyond the limit)."""
        with self._lock:
            self._stage = name
            self.peaks.setdefault(name, {"peak_rss_mib": 0.0, "peak_spill_mib": 0.0})
        self._sample(time.perf_counter(), None)
        try:
            yield
        finally:
            self._sample(time.perf_counter(), None)
            if self._out is not None and con is not None:
                self._note_tables(name, con)

    def _note_tables(self, stage: str, con: Any) -> None:
        with suppress(Exception):  # a note only: never fail the run for it
            temp = con.execute(
                "SELECT table_name, estimated_size FROM duckdb_tables() WHERE temporary "
                "ORDER BY estimated_size DESC"
            ).fetchall()
            memory = con.execute(
                "SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory() "
                "WHERE memory_usage_bytes + temporary_storage_bytes > 0"
            ).fetchall()
            line = {"stage": stage, "event": "end", "temp_table_rows": dict(temp),
                    "memory_mib": {t: [round(m / MIB), round(d / MIB)] for t, m, d in memory}}
            with self._lock:
                assert self._out is not None
                self._out.write(json.dumps(line) + "\n")
                self._out.flush()

    def _run(self) -> None:
        last = time.perf_counter()
        prev_spill = 0
        while not self._stop.wait(self.interval):
            now = time.perf_counter()
            prev_spill = self._sample(now, (now - last, prev_spill))
            last = now

    def _sample(self, now: float, since: tuple[float, int] | None) -> int:
        rss, spill = rss_bytes(), spill_bytes(self.temp_dirs)
        with suppress(OSError):
            free = free_disk(Path(self.temp_dirs[0]))
            self.min_free_disk = free if self.min_free_disk is None else min(self.min_free_disk, free)
        with self._lock:
            stage = self._stage
            peak = self.peaks.get(stage)  # none before the first stage
            if peak is not None:
                peak["peak_rss_mib"] = max(peak["peak_rss_mib"], round(rss / MIB, 1))
                peak["peak_spill_mib"] = max(peak["peak_spill_mib"], round(spill / MIB, 1))
        if self._out is None or since is None:
            return spill
        where = _location()
        line = self.lines.setdefault(f"{stage} | {where}", _Line())
        line.seconds += since[0]
        line.peak_rss = max(line.peak_rss, rss)
        line.peak_spill = max(line.peak_spill, spill)
        line.spill_growth += max(spill - since[1], 0)
        with self._lock:
            self._out.write(
                json.dumps({"t": round(now, 2), "stage": stage, "at": where,
                            "rss_mib": round(rss / MIB), "spill_mib": round(spill / MIB)}) + "\n"
            )
            self._out.flush()
        return spill

    def top(self, n: int = 15) -> list[dict[str, Any]]:
        """The lines with the largest spill (then the longest), for run.json."""
        ranked = sorted(self.lines.items(), key=lambda kv: (-kv[1].peak_spill, -kv[1].seconds))
        return [
            {"at": at, "seconds": round(v.seconds, 1), "peak_rss_mib": round(v.peak_rss / MIB),
             "peak_spill_mib": round(v.peak_spill / MIB),
             "spill_growth_mib": round(v.spill_growth / MIB)}
            for at, v in ranked[:n]
        ]
