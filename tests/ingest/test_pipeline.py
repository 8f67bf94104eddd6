"""The pipelined pacs.008 ingest: a parser thread ahead of DuckDB, chunks loaded one after another.

The store must be the one of loading the batch whole (duplicates across chunk
boundaries, ids repeated across files, bad records), an error in the parser
thread must surface as a UserError with nothing of the batch stored, and the
reader's worker threads must give the rows of a single thread.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pytest

from moneytrail.errors import UserError
from moneytrail.ingest import ingest_bundle, pipeline
from moneytrail.ingest.pacs008 import _fast_stream, read_pacs008
from moneytrail.ingest.pipeline import ahead, pacs_in_process
from moneytrail.ingest.stage import Rejected
from moneytrail.store import Warehouse
from tests.ingest.test_bundle_and_idempotency import (
    _assert_gone,
    assert_killed_rerun_matches,
    snapshot,
)
from tests.ingest.test_pacs008 import doc, tx


def _uetr(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def _pacs_bundle(root: Path) -> Path:
    """Two pacs.008 files of one bank: ids repeated inside a file (far apart, so
    across chunks), an id of the first file again in the second, bad records."""
    bank = root / "bank"
    bank.mkdir(parents=True)
    first = [tx(uetr=_uetr(i), amount=f"{10 + i}.00") for i in range(40)]
    first[25] = tx(uetr=_uetr(3), amount="99.00")  # repeat of #3, many rows later
    first[30] = tx(uetr=_uetr(30), amount="x")  # bad amount
    first[31] = tx(uetr=_uetr(31), ccy="ZZZ")  # unknown currency
    first[33] = tx(uetr=_uetr(30), amount="7.00")  # the bad #30's id again: this one is valid
    second = [tx(uetr=_uetr(100 + i)) for i in range(15)]
    second[5] = tx(uetr=_uetr(7))  # an id of the first file: already in store
    second[9] = tx(uetr=_uetr(101))  # repeat inside the second file
    (bank / "a.xml").write_text(doc(*first))
    (bank / "b.xml").write_text(doc(*second, version="09", envelope=True))
    return root


@pytest.fixture
def pacs_bundle(tmp_path: Path) -> Path:
    return _pacs_bundle(tmp_path / "bundle")


def _ingest(store: Path, bundle: Path) -> list[tuple[str, int, int, int]]:
    with Warehouse(store) as wh:
        report = ingest_bundle(wh, bundle)
    return [(f.source.rel, f.loaded, f.quarantined, f.already_present) for f in report.files]


def test_chunks_give_the_store_of_one_chunk(
    tmp_path: Path, pacs_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moneytrail.ingest as ingest

    whole = _ingest(tmp_path / "whole.duckdb", pacs_bundle)
    monkeypatch.setattr(ingest, "PACS_READ_ROWS", 3)  # the reader's batches
    monkeypatch.setattr(ingest, "PACS_CHUNK_ROWS", 4)  # so chunks of 6 rows: boundaries everywhere
    monkeypatch.setattr(ingest, "PACS_QUEUE", 1)
    chunked = _ingest(tmp_path / "chunked.duckdb", pacs_bundle)
    assert chunked == whole
    assert whole == [("bank/a.xml", 37, 3, 0), ("bank/b.xml", 13, 1, 1)]
    a, b = snapshot(tmp_path / "whole.duckdb"), snapshot(tmp_path / "chunked.duckdb")
    assert a == b
    reasons = sorted(q[3].split(":")[0] for q in a["quarantine"])
    assert reasons == [
        "bad amount",
        "duplicate record id in file",
        "duplicate record id in file",
        "unknown currency",
    ]


def test_same_pacs_bundle_twice_adds_nothing(tmp_path: Path, pacs_bundle: Path) -> None:
    store = tmp_path / "s.duckdb"
    _ingest(store, pacs_bundle)
    before = snapshot(store)
    # the same transactions in a new file (another hash): all already in store
    (pacs_bundle / "bank" / "c.xml").write_bytes(
        (pacs_bundle / "bank" / "a.xml").read_bytes() + b"\n"
    )
    again = _ingest(store, pacs_bundle)
    assert again[-1] == ("bank/c.xml", 0, 3, 37)
    after = snapshot(store)
    assert after["transactions"] == before["transactions"] and after["parties"] == before["parties"]


def test_an_error_in_the_parser_thread_is_a_user_error_and_stores_nothing(
    tmp_path: Path, pacs_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moneytrail.ingest import pacs008

    real = pacs008.read_pacs008

    def failing(
        path: Path, *args: object, **kwargs: object
    ) -> Iterator[tuple[pa.RecordBatch, list[Rejected]]]:
        it = cast(Generator[tuple[pa.RecordBatch, list[Rejected]], None, None], real(path, 5))
        try:
            yield next(it)  # some rows reach the store's transaction first
        finally:
            it.close()  # as the reader unwinds when its read fails
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(pacs008, "read_pacs008", failing)
    store = tmp_path / "s.duckdb"
    with pytest.raises(
        UserError,
        match=r"bank/a.xml: cannot read the file \(Input/output error\).*run the ingest again",
    ):
        _ingest(store, pacs_bundle)
    with Warehouse(store) as wh:
        assert wh.count("transactions") == wh.count("parties") == wh.count("ingested_files") == 0
        assert wh.count("quarantine") == 0
    assert not [
        t for t in threading.enumerate() if t.name.startswith(("pacs008-parser", "pacs008-run"))
    ]
    monkeypatch.setattr(pacs008, "read_pacs008", real)
    _ingest(store, pacs_bundle)
    _ingest(tmp_path / "clean.duckdb", pacs_bundle)
    assert snapshot(store) == snapshot(tmp_path / "clean.duckdb")


def test_ahead_keeps_order_raises_after_the_items_and_stops_its_thread() -> None:
    def items() -> Iterator[int]:
        yield from range(50)
        raise ValueError("boom")

    got: list[int] = []
    with pytest.raises(ValueError, match="boom"):
        for x in ahead(items(), maxsize=2, name="t-ahead"):
            got.append(x)
    assert got == list(range(50))

    it = ahead(iter(range(10**9)), maxsize=2, name="t-ahead-stop")
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()  # the consumer stops early: the producer must not run on
    assert not [t for t in threading.enumerate() if t.name == "t-ahead-stop"]


def test_worker_threads_give_the_rows_of_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moneytrail.ingest import pacs008

    monkeypatch.setattr(pacs008, "_RUN", 7)
    txs = [tx(uetr=_uetr(i), amount=f"{i}.00") for i in range(200)]
    txs[150] = "<Note/>" + txs[150]  # another element among the transactions: the fast path stops
    path = tmp_path / "f.xml"
    path.write_text(doc(*txs))

    def rows(workers: int) -> list[dict[str, str | None]]:
        out: list[dict[str, str | None]] = []
        with open(path, "rb") as fh:
            try:
                for batch, _ in _fast_stream(fh, workers):
                    out += batch.to_pylist()
            except pacs008._Unsupported:
                pass
        return out

    one, four = rows(1), rows(4)
    assert one == four and 0 < len(one) < 200 and len(one) % 7 == 0
    everything = [r for batch, _ in read_pacs008(path) for r in batch.to_pylist()]
    assert [r["record_id"] for r in everything] == [_uetr(i) for i in range(200)]


@pytest.mark.slow
def test_killed_pacs_ingest_rerun_matches_uninterrupted_run(tmp_path: Path) -> None:
    """Two banks, one file each of more than one chunk: a kill lands in the middle of a chunked, pipelined load."""
    for bank in ("bank1", "bank2"):
        txs = [
            tx(uetr=f"{bank}-{i}", amount=f"{10 + i % 190}.00" if i % 997 else "oops")
            for i in range(105_000)
        ]
        (tmp_path / "bundle" / bank).mkdir(parents=True)
        (tmp_path / "bundle" / bank / "week.xml").write_text(doc(*txs))
    assert_killed_rerun_matches(tmp_path / "bundle", tmp_path, files=2)


@pytest.mark.parametrize(("limit", "during"), [("2GB", "143.0 MiB"), ("100MB", "95.3 MiB")])
def test_duckdb_memory_is_lowered_while_pacs_loads_then_restored(
    tmp_path: Path, pacs_bundle: Path, monkeypatch: pytest.MonkeyPatch, limit: str, during: str
) -> None:
    """The budget keeps DuckDB's pending appends from growing with the file; it never raises a lower limit."""
    import moneytrail.ingest as ingest

    seen: list[str] = []
    real = ingest._load_pacs_chunk

    def spy(con: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
        return real(con, *args, **kwargs)

    monkeypatch.setattr(ingest, "_load_pacs_chunk", spy)
    with Warehouse(tmp_path / "s.duckdb", memory_limit=limit) as wh:
        before = wh.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        ingest_bundle(wh, pacs_bundle)
        (pacs_bundle / "bank" / "c.xml").write_text(doc(tx(uetr="again")))
        ingest_bundle(wh, pacs_bundle)  # a second batch: the limit does not drift
        after = wh.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert len(seen) == 2 and set(seen) == {during}
    assert after == before


@pytest.mark.parametrize(("process_bytes", "during"), [(0, 1), (1 << 40, 2)])
def test_duckdb_threads_drop_to_one_beside_the_parser_process_then_restored(
    tmp_path: Path,
    pacs_bundle: Path,
    monkeypatch: pytest.MonkeyPatch,
    process_bytes: int,
    during: int,
) -> None:
    """With the parser in a process of its own, DuckDB loads on one thread (the parser
    holds the other core); with the parser thread, DuckDB keeps its threads."""
    import moneytrail.ingest as ingest

    monkeypatch.setattr(ingest, "PACS_PROCESS_BYTES", process_bytes)
    monkeypatch.setattr(ingest, "PACS_PREFETCH", False)
    seen: list[int] = []
    real = ingest._load_pacs_chunk

    def spy(con: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(int(con.execute("SELECT current_setting('threads')").fetchall()[0][0]))
        return real(con, *args, **kwargs)

    monkeypatch.setattr(ingest, "_load_pacs_chunk", spy)
    with Warehouse(tmp_path / "s.duckdb") as wh:
        wh.con.execute("SET threads = 2")
        ingest_bundle(wh, pacs_bundle)
        after = int(wh.con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    assert seen and set(seen) == {during}
    assert after == 2


def _child_pids() -> set[int]:
    """This process's children (Linux)."""
    pids: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        pids |= {int(p) for p in (task / "children").read_text().split()}
    return pids


def test_parser_process_gives_the_store_of_the_parser_thread(
    tmp_path: Path, pacs_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moneytrail.ingest as ingest

    monkeypatch.setattr(ingest, "PACS_PROCESS_BYTES", 1 << 40)
    threaded = _ingest(tmp_path / "thread.duckdb", pacs_bundle)
    monkeypatch.setattr(ingest, "PACS_PROCESS_BYTES", 0)  # every batch in a child process
    monkeypatch.setattr(ingest, "PACS_PREFETCH", False)  # one per batch, when the loading gets there
    monkeypatch.setattr(ingest, "PACS_READ_ROWS", 3)
    monkeypatch.setattr(ingest, "PACS_CHUNK_ROWS", 4)
    spawned: list[object] = []
    real = ingest.pacs_in_process

    def spy(*args: Any, **kwargs: Any) -> Any:
        spawned.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "pacs_in_process", spy)
    in_process = _ingest(tmp_path / "process.duckdb", pacs_bundle)
    assert spawned and in_process == threaded
    assert snapshot(tmp_path / "process.duckdb") == snapshot(tmp_path / "thread.duckdb")
    assert not _child_pids()


@pytest.mark.parametrize("ahead", [1, 8])
def test_prefetched_batches_give_the_store_of_the_parser_thread(
    tmp_path: Path, pacs_bundle: Path, monkeypatch: pytest.MonkeyPatch, ahead: int
) -> None:
    """The batches read by one process started with the ingest, through spool files read
    while they grow, each file in a batch of its own, after a CSV batch: the store of the
    parser thread, no process or spool left; the same when the process may run one batch
    ahead only (it waits for the loading to read each)."""
    import moneytrail.ingest as ingest

    csv = pacs_bundle / "acme"
    csv.mkdir()
    (csv / "x.csv").write_text(
        "transfer_id,created_at,sender_name,sender_country,receiver_name,receiver_country,"
        "send_amount,send_currency\n"
        "T1,2024-05-01T10:00:00Z,Ann Lee,GB,Bob Roy,FR,10.00,GBP\n"
    )
    monkeypatch.setattr(ingest, "PACS_PROCESS_BYTES", 1 << 40)
    threaded = _ingest(tmp_path / "thread.duckdb", pacs_bundle)
    monkeypatch.setattr(ingest, "PACS_PROCESS_BYTES", 0)
    monkeypatch.setattr(ingest, "BATCH_BYTES", 1)  # a batch per file
    monkeypatch.setattr(ingest, "PACS_READ_ROWS", 3)
    monkeypatch.setattr(ingest, "PACS_CHUNK_ROWS", 4)
    monkeypatch.setattr(pipeline, "_TAIL_WAIT", 0.001)
    monkeypatch.setattr(pipeline, "PREFETCH_AHEAD", ahead)
    started: list[Any] = []
    real = ingest.PacsPrefetch

    def spy(*args: Any, **kwargs: Any) -> Any:
        started.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "PacsPrefetch", spy)
    monkeypatch.setattr(ingest, "pacs_in_process", None)  # never called
    spools = set(Path(tempfile.gettempdir()).glob("moneytrail-pacs-*"))
    prefetched = _ingest(tmp_path / "prefetched.duckdb", pacs_bundle)
    assert len(started) == 1 and [len(b) for b in started[0]] == [1, 1]
    assert prefetched == threaded
    assert snapshot(tmp_path / "prefetched.duckdb") == snapshot(tmp_path / "thread.duckdb")
    assert not _child_pids()
    assert set(Path(tempfile.gettempdir()).glob("moneytrail-pacs-*")) == spools


def test_a_rerun_prefetches_no_batch_the_store_lists(
    tmp_path: Path, pacs_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import moneytrail.ingest as ingest

    monkeypatch.setattr(ingest, "PACS_PROCESS_BYTES", 0)
    monkeypatch.setattr(ingest, "BATCH_BYTES", 1)  # a batch per file
    started: list[Any] = []
    real = ingest.PacsPrefetch

    def spy(*args: Any, **kwargs: Any) -> Any:
        started.append([[rel for rel, _ in batch] for batch in args[0]])
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "PacsPrefetch", spy)
    store = tmp_path / "s.duckdb"
    first = _ingest(store, pacs_bundle)
    (pacs_bundle / "bank" / "c.xml").write_text(doc(tx(uetr="again")))
    second = _ingest(store, pacs_bundle)
    assert started == [[["bank/a.xml"], ["bank/b.xml"]], [["bank/c.xml"]]]
    assert second == [(rel, 0, 0, 0) for rel, *_ in first] + [("bank/c.xml", 1, 0, 0)]
    assert not _child_pids()


def test_prefetch_errors_and_early_stop_leave_no_process(pacs_bundle: Path) -> None:
    a = ("bank/a.xml", str(pacs_bundle / "bank" / "a.xml"))
    gone = ("bank/gone.xml", str(pacs_bundle / "bank" / "gone.xml"))
    prefetch = pipeline.PacsPrefetch([[a], [gone], [a]], 10)
    try:
        assert prefetch.items([gone, a]) is None  # not a batch it reads
        first = prefetch.items([a])
        assert first is not None and sum(b.num_rows for _, b, _ in first) == 40
        second = prefetch.items([gone])
        assert second is not None
        with pytest.raises(UserError, match=r"bank/gone.xml: cannot read the file"):
            list(second)
    finally:
        prefetch.close()
    assert not _child_pids()
    # the loading stops early: the child is killed and reaped
    prefetch = pipeline.PacsPrefetch([[a] * 50], 2)
    try:
        items = prefetch.items([a] * 50)
        assert items is not None
        rel, batch, _ = next(items)
        assert rel == "bank/a.xml" and batch.num_rows == 2
        items.close()
        assert not _child_pids()
        assert not [t for t in threading.enumerate() if t.name == "pacs008-spool"]
    finally:
        prefetch.close()


@pytest.mark.parametrize("state", ["writing", "waiting"])
def test_a_prefetch_process_dies_with_its_killed_parent(pacs_bundle: Path, state: str) -> None:
    """Nothing would otherwise stop a child writing to spools no one reads, or waiting
    for the loading to read them (three batches, two ahead at most)."""
    import signal
    import subprocess
    import sys

    a = str(pacs_bundle / "bank" / "a.xml")
    batches = (
        f"[[('bank/a.xml', {a!r})] * 20000]"
        if state == "writing"
        else f"[[(f'bank/a{{i}}.xml', {a!r})] for i in range(3)]"
    )
    wait = (  # until batch 1 is written whole (its done frame last) and batch 2 waits
        "(i, one), (_, two) = sorted(p._spools.values())[1:]\n"
        "while os.pread(one, 9, max(os.fstat(one).st_size - 9, 0)) != b'D' + bytes(8):\n"
        "    time.sleep(0.01)\n"
        "time.sleep(0.3)\n"
        "assert os.fstat(two).st_size == 0\n"
    )
    script = (
        "import os, sys, time\n"
        "from moneytrail.ingest.pipeline import PacsPrefetch\n"
        f"p = PacsPrefetch({batches}, 1, ahead=2)\n"
        + (wait if state == "waiting" else "")
        + "print(p._proc.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert Path(f"/proc/{child}").exists()
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    _assert_gone({child}, timeout=10)


def test_prefetch_spools_go_where_they_are_told(pacs_bundle: Path, tmp_path: Path) -> None:
    a = ("bank/a.xml", str(pacs_bundle / "bank" / "a.xml"))
    spool_dir = tmp_path / "store.tmp"
    spool_dir.mkdir()
    prefetch = pipeline.PacsPrefetch([[a], [a, a]], 10, spool_dir=spool_dir)
    try:
        held = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                if "moneytrail-pacs-" in _link(fd)]
        assert held and all(h.startswith(str(spool_dir)) and h.endswith("(deleted)") for h in held)
        assert list(spool_dir.iterdir()) == []  # unlinked at once: nothing left to clean up
    finally:
        prefetch.close()


def _link(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def _spool_holders(name: str | None, pids: list[int]) -> list[int]:
    """Those of `pids` (0: this process) holding the spool `name` (e.g. 'batch0.frames';
    None: any) open, once per file descriptor."""
    holders = []
    for pid in pids:
        fds = Path(f"/proc/{pid or 'self'}/fd")
        with contextlib.suppress(OSError):  # a process gone holds nothing
            for fd in fds.iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if "moneytrail-pacs-" in link and (
                        name is None or link.endswith(f"/{name} (deleted)")
                    ):
                        holders.append(pid)
    return holders


def _wait_for(cond: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def test_the_prefetch_runs_at_most_its_allowance_ahead(pacs_bundle: Path) -> None:
    """With K = 2 the child holds at most two batches the loading has not read, the one it
    reads included; a batch done with (read, or passed by) is closed in both processes
    (its disk space free), and lets the child go one batch further."""
    path = str(pacs_bundle / "bank" / "a.xml")
    batches = [[(f"bank/a{i}.xml", path)] for i in range(5)]  # five batches of 40 rows
    prefetch = pipeline.PacsPrefetch(batches, 10, nice=0, ahead=2)
    fds = {i: fd for i, fd in prefetch._spools.values()}
    child = prefetch._proc.pid
    done_frame = pipeline._FRAME.pack(b"D", 0)

    def written(i: int) -> bool:  # the child wrote batch i whole (its done frame last)
        size = os.fstat(fds[i]).st_size
        return size >= len(done_frame) and os.pread(fds[i], 9, size - 9) == done_frame

    def started(i: int) -> bool:
        return os.fstat(fds[i]).st_size > 0

    def rows(i: int) -> int:
        items = prefetch.items(batches[i])
        assert items is not None
        return sum(b.num_rows for _, b, _ in items)

    try:
        _wait_for(lambda: written(0) and written(1), "batches 0 and 1 are written")
        time.sleep(1.0)  # without the bound the child would write batch 2 in milliseconds
        assert not started(2) and prefetch._proc.poll() is None  # it waits, alive
        assert rows(0) == 40  # the loading reads batch 0 to its end: the child may start batch 2
        _wait_for(lambda: written(2), "batch 2 is written")
        _wait_for(lambda: not _spool_holders("batch0.frames", [0, child]), "batch 0 is closed")
        assert _spool_holders("batch1.frames", [0]) == [0]  # not read yet: kept
        time.sleep(0.5)
        assert not started(3)
        # the loading asks for batch 3: batches 1 and 2 (passed by) are closed here at once,
        # and the child may write batches 3 and 4
        items = prefetch.items(batches[3])
        assert items is not None
        assert not _spool_holders("batch1.frames", [0, child])
        assert not _spool_holders("batch2.frames", [0, child])
        assert prefetch.items(batches[1]) is None  # passed by: read another way
        assert sum(b.num_rows for _, b, _ in items) == 40
        assert rows(4) == 40
        _wait_for(prefetch.done, "the child has finished")
        assert prefetch._proc.returncode == 0
        assert not _spool_holders(None, [0])  # every spool closed: nothing left on disk
    finally:
        prefetch.close()
    assert not _child_pids()
    with pytest.raises(ValueError, match="at least one batch ahead"):
        pipeline.PacsPrefetch(batches, 10, ahead=0)


@pytest.mark.parametrize("reader", ["prefetch", "in_process"])
def test_a_killed_reader_process_is_an_error(pacs_bundle: Path, reader: str) -> None:
    a = ("bank/a.xml", str(pacs_bundle / "bank" / "a.xml"))
    prefetch = pipeline.PacsPrefetch([[a] * 200], 1) if reader == "prefetch" else None
    try:
        items = (
            prefetch.items([a] * 200, maxsize=1)
            if prefetch
            else pacs_in_process([a] * 200, 1, maxsize=1)
        )
        assert items is not None
        next(items)
        (child,) = _child_pids()
        os.kill(child, 9)
        with pytest.raises(RuntimeError, match="reader process stopped"):
            for _ in items:
                pass
    finally:
        if prefetch:
            prefetch.close()
    assert not _child_pids()


def test_parser_process_errors_and_early_stop_leave_no_process(pacs_bundle: Path) -> None:
    with pytest.raises(
        UserError, match=r"bank/gone.xml: cannot read the file .*run the ingest again"
    ):
        list(pacs_in_process([("bank/gone.xml", str(pacs_bundle / "bank" / "gone.xml"))], 10))
    a = str(pacs_bundle / "bank" / "a.xml")
    items = pacs_in_process([("bank/a.xml", a)] * 50, 2)
    rel, batch, _ = next(items)
    assert rel == "bank/a.xml" and batch.num_rows == 2 and len(_child_pids()) == 1
    items.close()  # the consumer stops early: the child is killed and reaped
    assert not _child_pids()
    assert not [t for t in threading.enumerate() if t.name == "pacs008-receiver"]
    # what the child sends is what the reader yields, rejections included
    c = pacs_bundle / "bank" / "c.xml"
    c.write_text(doc(*(tx(uetr=_uetr(i), amount=None if i % 4 else "1.00") for i in range(30))))
    got = [(r, b.to_pylist(), bad) for r, b, bad in pacs_in_process([("c", str(c))], 7)]
    want = [("c", b.to_pylist(), bad) for b, bad in read_pacs008(c, 7)]
    assert got == want and sum(len(bad) for _, _, bad in got) == 22


def test_chunks_keep_no_seen_ids_for_new_files_and_match_a_whole_load_for_old_paths(
    tmp_path: Path, pacs_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file the store holds nothing of needs no seen-id table (the store's own rows tell
    which ids earlier chunks loaded), so memory stays flat; a new version of a file stored
    before under the same path still gives the store of a whole load."""
    import moneytrail.ingest as ingest

    seen_rows: list[int] = []
    real = ingest._load_pacs_chunk

    def spy(con: Any, *args: Any, **kwargs: Any) -> None:
        real(con, *args, **kwargs)
        seen_rows.append(con.execute("SELECT count(*) FROM pacs_seen").fetchall()[0][0])

    def both(name: str) -> None:
        monkeypatch.setattr(ingest, "PACS_READ_ROWS", 20_000)
        monkeypatch.setattr(ingest, "PACS_CHUNK_ROWS", 100_000)
        _ingest(tmp_path / f"{name}-whole.duckdb", pacs_bundle)
        monkeypatch.setattr(ingest, "PACS_READ_ROWS", 3)
        monkeypatch.setattr(ingest, "PACS_CHUNK_ROWS", 4)
        _ingest(tmp_path / f"{name}-chunked.duckdb", pacs_bundle)

    monkeypatch.setattr(ingest, "_load_pacs_chunk", spy)
    both("first")
    # only b.xml's id of a.xml (already in store) is kept, not the ids loaded
    assert len(seen_rows) > 5 and set(seen_rows) == {0, 1}
    # a.xml again under its path, changed: ids stored before (repeated far apart) and new ones
    a = pacs_bundle / "bank" / "a.xml"
    txs = [tx(uetr=_uetr(i)) for i in range(30, 40)] + [tx(uetr=_uetr(500 + i)) for i in range(20)]
    txs += [tx(uetr=_uetr(35)), tx(uetr=_uetr(505), amount="1.00"), tx(uetr=_uetr(31))]
    for name in ("first-whole", "first-chunked"):
        for suffix in ("", ".wal"):
            src = tmp_path / f"{name}.duckdb{suffix}"
            if src.exists():
                (tmp_path / f"{name.replace('first', 'second')}.duckdb{suffix}").write_bytes(
                    src.read_bytes()
                )
    a.write_text(doc(*txs))
    seen_rows.clear()
    monkeypatch.setattr(ingest, "PACS_READ_ROWS", 20_000)
    monkeypatch.setattr(ingest, "PACS_CHUNK_ROWS", 100_000)
    whole = _ingest(tmp_path / "second-whole.duckdb", pacs_bundle)
    monkeypatch.setattr(ingest, "PACS_READ_ROWS", 3)
    monkeypatch.setattr(ingest, "PACS_CHUNK_ROWS", 4)
    chunked = _ingest(tmp_path / "second-chunked.duckdb", pacs_bundle)
    assert chunked == whole
    assert whole[0] == ("bank/a.xml", 22, 3, 8)  # 8 ids stored before, 3 repeats
    assert max(seen_rows) > 0
    assert snapshot(tmp_path / "second-whole.duckdb") == snapshot(
        tmp_path / "second-chunked.duckdb"
    )
