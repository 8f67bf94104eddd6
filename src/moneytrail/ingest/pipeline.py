"""Run a producer ahead of its consumer: in a thread, or in a process of its own.

Ingesting pacs.008 is two kinds of work: reading the XML (lxml and Arrow, on
the producer's side) and checking and loading the rows (DuckDB, on the
consumer's). `ahead` runs the producer in a thread through a bounded queue;
`pacs_in_process` runs the pacs.008 reader in a child process that sends its
Arrow batches through a pipe, so the reader's Python work (which holds the
GIL) no longer competes with the loading for one interpreter: the two use
two cores. The bounded queue and the pipe keep memory flat whatever the file size.
"""

from __future__ import annotations

import json
import os
import queue
import struct
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Generator, Iterable, Iterator
from typing import IO, TypeVar

import pyarrow as pa

from moneytrail.errors import UserError
from moneytrail.ingest.stage import STAGE_SCHEMA, Rejected

T = TypeVar("T")

_DONE = object()


class _Failed:
    """What the producer raised, carried to the consumer to be raised there."""

    def __init__(self, exc: BaseException):
        self.exc = exc


def ahead(items: Iterable[T], maxsize: int = 2, name: str = "producer") -> Generator[T, None, None]:
    """Yield `items`, produced in a background thread up to `maxsize` items ahead.

    An exception of the producer is raised in the consumer at the point the
    items stop, after every item produced before it. When the consumer stops
    early (an exception, `close()`), the producer is told to stop and joined,
    so no thread outlives the iteration.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # carried to the consumer, raised there
            put(_Failed(exc))
            return
        put(_DONE)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


# --- pacs.008 in a child process ---------------------------------------------------
#
# The child (`main` below, in a fresh interpreter) reads a JSON request on stdin
# and writes frames on stdout: a kind byte, an 8-byte length, the payload.
#   B: a JSON header {"rel", "rejected"}; then an 8-byte length and the batch as an
#      Arrow IPC message (nothing when the batch has no rows)
#   U: a UserError's message;  X: any other failure (its traceback);  D: done
# The child dies of a broken pipe at its next frame when the parent is gone.

_FRAME = struct.Struct("<cQ")
_BODY = struct.Struct("<Q")

PacsItem = tuple[str, pa.RecordBatch, list[Rejected]]
_EMPTY = pa.RecordBatch.from_pylist([], schema=STAGE_SCHEMA)


def pacs_batches(files: list[tuple[str, str]], read_rows: int) -> Iterator[PacsItem]:
    """Each file's staging batches and rejections, in file order: (rel, batch, rejected).

    `files` are (rel, path). An unreadable file is a one-line UserError naming it.
    """
    from moneytrail.ingest.pacs008 import read_pacs008

    for rel, path in files:
        try:
            for batch, bad in read_pacs008(path, read_rows):
                yield rel, batch, bad
        except OSError as exc:
            raise UserError(
                f"{rel}: cannot read the file ({exc.strerror or exc}); nothing of its batch "
                "was stored: make the file readable and run the ingest again"
            ) from exc


def _write_frame(out: IO[bytes], kind: bytes, *parts: bytes | pa.Buffer) -> None:
    out.write(_FRAME.pack(kind, sum(len(p) for p in parts)))
    for p in parts:
        out.write(p)


def _child(request: dict[str, object], out: IO[bytes]) -> None:
    """The child's side: read the files, send each item as a frame."""
    files = [(str(rel), str(path)) for rel, path in request["files"]]  # type: ignore[attr-defined]
    try:
        for rel, batch, bad in pacs_batches(files, int(request["rows"])):  # type: ignore[call-overload]
            meta = json.dumps(
                {"rel": rel, "rejected": [[r.location, r.reason, r.raw] for r in bad]}
            ).encode()
            body = batch.serialize() if batch.num_rows else b""
            _write_frame(out, b"B", meta)
            out.write(_BODY.pack(len(body)))
            out.write(body)
    except BrokenPipeError:
        raise
    except UserError as exc:
        _write_frame(out, b"U", str(exc).encode())
    except Exception:
        _write_frame(out, b"X", traceback.format_exc().encode())
    else:
        _write_frame(out, b"D")
    out.flush()


def _read_exact(src: IO[bytes], n: int) -> bytes:
    data = src.read(n)
    if data is None or len(data) != n:
        raise EOFError
    return data


def _read_buffer(src: IO[bytes], n: int) -> pa.Buffer:
    """`n` bytes read straight into an aligned Arrow buffer, which the batch then
    uses as it is (no copy, and not the C heap, where glibc keeps big blocks)."""
    buf = pa.allocate_buffer(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = src.readinto(view[got:])  # type: ignore[attr-defined]
        if not k:
            raise EOFError
        got += k
    return buf


def _frames(proc: subprocess.Popen[bytes], stderr: IO[bytes]) -> Iterator[PacsItem]:
    """The items the child sends, until its done frame; its failures raised here."""
    assert proc.stdout is not None
    src = proc.stdout
    while True:
        try:
            kind, size = _FRAME.unpack(_read_exact(src, _FRAME.size))
            payload = _read_exact(src, size) if size else b""
            body = None
            if kind == b"B":
                (body_size,) = _BODY.unpack(_read_exact(src, _BODY.size))
                body = _read_buffer(src, body_size) if body_size else None
        except EOFError:
            code = proc.wait()
            stderr.seek(0)
            tail = stderr.read()[-2000:].decode("utf-8", "replace").strip()
            raise RuntimeError(
                f"the pacs.008 reader process stopped (exit code {code}) before the end"
                + (f": {tail}" if tail else "")
            ) from None
        if kind == b"D":
            return
        if kind == b"U":
            raise UserError(payload.decode())
        if kind == b"X":
            raise RuntimeError("the pacs.008 reader process failed:\n" + payload.decode())
        meta = json.loads(payload)
        batch = _EMPTY if body is None else pa.ipc.read_record_batch(body, STAGE_SCHEMA)
        yield meta["rel"], batch, [Rejected(*r) for r in meta["rejected"]]


def pacs_in_process(
    files: list[tuple[str, str]], read_rows: int, maxsize: int = 2
) -> Generator[PacsItem, None, None]:
    """`pacs_batches` run in a child process, up to `maxsize` items (and a pipe's worth) ahead.

    The child's errors are raised here: a UserError as itself, anything else
    (a crash, a kill) as a RuntimeError. When the consumer stops early the
    child is killed and reaped, so no process outlives the iteration.
    """
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from moneytrail.ingest.pipeline import main; main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            bufsize=1 << 20,
        )
        received = ahead(_frames(proc, stderr), maxsize=maxsize, name="pacs008-receiver")
        try:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"files": files, "rows": read_rows}).encode())
            proc.stdin.close()
            # Not `yield from`: on close it would join the receiver (blocked in a read
            # until the child's next frame) before the child is killed below.
            for item in received:  # noqa: UP028
                yield item
        finally:
            if proc.poll() is None:
                proc.kill()
            received.close()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def main() -> None:
    """Entry point of the child process; a parent gone (broken pipe) ends it quietly."""
    request = json.loads(sys.stdin.buffer.read())
    try:
        _child(request, sys.stdout.buffer)
    except BrokenPipeError:
        os._exit(1)
