"""Run a producer ahead of its consumer: in a thread, or in a process of its own.

Ingesting pacs.008 is two kinds of work: reading the XML (lxml and Arrow, on
the producer's side) and checking and loading the rows (DuckDB, on the
consumer's). `ahead` runs the producer in a thread through a bounded queue;
`pacs_in_process` runs the pacs.008 reader in a child process that sends its
Arrow batches through a pipe, so the reader's Python work (which holds the
GIL) no longer competes with the loading for one interpreter: the two use
two cores. The bounded queue and the pipe keep memory flat whatever the file size.
`PacsPrefetch` starts that reader for the big pacs.008 batches of a plan with the
ingest, before the CSV batches ahead of them, writing to spool files on disk: the
parsing (a bundle's critical path at its end) then fills the core DuckDB leaves idle
while it loads CSV, and the loading of each batch reads its spool as it grows. It
runs at most `PREFETCH_AHEAD` batches ahead of the loading, so the disk the spools
take is bounded whatever the bundle's size.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Generator, Iterable, Iterator, Sequence
from pathlib import Path
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


def _child(request: dict[str, object], out: IO[bytes], *, flush: bool = False) -> bool:
    """The child's side: read the files, send each item as a frame; False after a failure frame.

    `flush`: each frame flushed at once (a spool file, read while it grows).
    """
    files = [(str(rel), str(path)) for rel, path in request["files"]]  # type: ignore[attr-defined]
    done = False
    try:
        for rel, batch, bad in pacs_batches(files, int(request["rows"])):  # type: ignore[call-overload]
            meta = json.dumps(
                {"rel": rel, "rejected": [[r.location, r.reason, r.raw] for r in bad]}
            ).encode()
            body = batch.serialize() if batch.num_rows else b""
            _write_frame(out, b"B", meta)
            out.write(_BODY.pack(len(body)))
            out.write(body)
            if flush:
                out.flush()
    except BrokenPipeError:
        raise
    except UserError as exc:
        _write_frame(out, b"U", str(exc).encode())
    except Exception:
        _write_frame(out, b"X", traceback.format_exc().encode())
    else:
        _write_frame(out, b"D")
        done = True
    out.flush()
    return done


def _read_exact(src: IO[bytes] | _Tail, n: int) -> bytes:
    data = src.read(n)
    if data is None or len(data) != n:
        raise EOFError
    return data


def _read_buffer(src: IO[bytes] | _Tail, n: int) -> pa.Buffer:
    """`n` bytes read straight into an aligned Arrow buffer, which the batch then
    uses as it is (no copy, and not the C heap, where glibc keeps big blocks)."""
    buf = pa.allocate_buffer(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = src.readinto(view[got:])  # type: ignore[union-attr]
        if not k:
            raise EOFError
        got += k
    return buf


def _frames(
    proc: subprocess.Popen[bytes], stderr: IO[bytes], src: IO[bytes] | _Tail | None = None
) -> Iterator[PacsItem]:
    """The items the child sends (on its stdout, or `src`), until its done frame; its failures raised here."""
    if src is None:
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
    if "spools" in request:
        _spool_child(request)
        return
    try:
        _child(request, sys.stdout.buffer)
    except BrokenPipeError:
        os._exit(1)


# --- pacs.008 batches parsed ahead, into spool files ---------------------------------
#
# One child reads the batches in order, each into its spool file, in the frames above.
# The parent reads a batch's spool while it grows (`_Tail`): a short read waits for
# more while the child lives; once the child is gone, what is there is all there is.
# The child starts batch i only once the parent is done with batches 0 .. i-K
# (K = `PREFETCH_AHEAD`): the parent writes a byte to a pipe (the child's "release"
# pipe) for each batch it is done with (read to its end, or passed by), after closing
# its spool, and the child, before starting a batch beyond its allowance, waits for
# those bytes. At most K spools thus hold frames the loading has not read, the one
# it reads included; the spools of the batches done are closed on both sides, and
# their disk space is free. The pipe's end (the parent gone, or closed) ends the child.

# The prefetching child's niceness above its parent's: it takes the core the loading
# leaves idle (between statements, Python work, one-thread statements) and gives way
# when DuckDB runs on every core. When the loading reaches its batches it waits on the
# child, which then gets its parent's priority back where allowed (`_catch_up`).
PREFETCH_NICE = 10
# Batches the child may hold parsed and not yet done with by the loading, the one being
# read included. What the child parses while the loading does the CSV before the pacs.008
# batches is what the prefetch saves: once there, the loading reads a batch a little
# faster than the child parses one (5M, load 5: about 2.6 s a batch against 3.3 CPU s),
# so each batch the bound keeps the child from parsing costs about a second at the end
# (5M, five batches: 2 made the pacs.008 part 3 s longer, 12.3 -> 15.3 s). The bound is
# there for the disk: a batch of 64 MB of pacs.008 is about 56 MB of frames, so 32 batches
# are under 2 GB (a 20M bundle's 20 batches all fit, as before; unbounded, 100M would
# hold some 5.5 GB), little beside the store's own spill at those sizes.
PREFETCH_AHEAD = 32
_TAIL_WAIT = 0.005  # seconds between reads of a spool at its end


def _die_with_parent(parent: int) -> None:
    """Be killed when the parent dies (Linux): nothing else would stop a child writing
    to files; a parent already gone ends the child now."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _spool_child(request: dict[str, object]) -> None:
    _die_with_parent(int(request["parent"]))  # type: ignore[call-overload]
    rows = int(request["rows"])  # type: ignore[call-overload]
    ahead = int(request["ahead"])  # type: ignore[call-overload]
    release = int(request["release"])  # type: ignore[call-overload]
    done = 0  # batches the parent is done with
    for i, (files, fd) in enumerate(zip(request["batches"], request["spools"], strict=True)):  # type: ignore[call-overload]
        while i >= done + ahead:  # batch i waits until the parent is done with batch i - ahead
            got = os.read(release, 4096)
            if not got:
                return  # the parent is gone or closed the pipe: nothing reads the spools
            done += len(got)
        with open(int(fd), "wb") as out:
            if not _child({"files": files, "rows": rows}, out, flush=True):
                return  # the loading stops at that batch: the later ones are not read


class _Tail:
    """A spool file read while the child writes it: reads wait at its end while the child lives."""

    def __init__(self, fh: IO[bytes], proc: subprocess.Popen[bytes]):
        self.fh = fh
        self.proc = proc

    def _more(self, retried: list[bool]) -> bool:
        """Whether to read again at the end of the file (after a wait while the child lives)."""
        if self.proc.poll() is None:
            time.sleep(_TAIL_WAIT)
            return True
        if retried:  # the child is gone and a read after its end found nothing more
            return False
        retried.append(True)
        return True

    def read(self, n: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        retried: list[bool] = []
        while got < n:
            data = self.fh.read(n - got)
            if data:
                parts.append(data)
                got += len(data)
            elif not self._more(retried):
                break
        return b"".join(parts)

    def readinto(self, view: memoryview) -> int:
        retried: list[bool] = []
        while True:
            k = self.fh.readinto(view)  # type: ignore[attr-defined]
            if k:
                return int(k)
            if not self._more(retried):
                return 0


class PacsPrefetch:
    """One child process reading `batches` (each a list of (rel, path)) in order, into spool files.

    `items(files)` gives a batch's items as `pacs_in_process` would, read from its
    spool while the child writes it (None for a list of files not prefetched).
    The child runs at most `ahead` batches ahead: it starts a batch once the loading is
    done with the batch `ahead` before it (read it to its end, or asked for a later one).
    `close()` kills the child if it still runs: call it when the ingest ends, whichever way.
    The spools are unlinked at once, open in both processes (the child's ends passed as
    file descriptors): whichever way the two end, the disk space goes with them, and the
    child is killed when its parent dies. A batch's spool is closed on both sides once
    the loading is done with it, which frees its disk space.
    """

    def __init__(
        self,
        batches: Sequence[Sequence[tuple[str, str]]],
        read_rows: int,
        nice: int = PREFETCH_NICE,
        spool_dir: Path | None = None,
        ahead: int | None = None,
    ):
        ahead = PREFETCH_AHEAD if ahead is None else ahead
        if ahead < 1:
            raise ValueError("the prefetch must be allowed at least one batch ahead")
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        # read ends and batch numbers, by batch (a batch listed twice: its first place)
        self._spools: dict[tuple[tuple[str, str], ...], tuple[int, int]] = {}
        self._done = 0  # batches the loading is done with (told to the child)
        ends: list[int] = []  # the child's write ends
        release_read, self._release = os.pipe()
        try:
            # spools beside the store's own spill (`spool_dir`), not on whatever disk holds /tmp
            with tempfile.TemporaryDirectory(prefix="moneytrail-pacs-", dir=spool_dir) as tmp:
                for i, files in enumerate(batches):
                    path = Path(tmp) / f"batch{i}.frames"
                    ends.append(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                    read_end = os.open(path, os.O_RDONLY)
                    path.unlink()
                    key = tuple((str(r), str(p)) for r, p in files)
                    if key in self._spools:
                        os.close(read_end)
                    else:
                        self._spools[key] = (i, read_end)
            request = {
                "batches": [[[str(r), str(p)] for r, p in files] for files in batches],
                "spools": ends,
                "rows": read_rows,
                "parent": os.getpid(),
                "ahead": ahead,
                "release": release_read,
            }
            self._proc = subprocess.Popen(
                [sys.executable, "-c", "from moneytrail.ingest.pipeline import main; main()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                pass_fds=[*ends, release_read],
            )
        except BaseException:
            for _, fd in self._spools.values():
                os.close(fd)
            os.close(self._release)
            self._stderr.close()
            raise
        finally:
            for fd in ends:
                os.close(fd)
            os.close(release_read)
        if nice:  # set here, not by the child: before any `_catch_up`
            with contextlib.suppress(OSError):
                os.setpriority(
                    os.PRIO_PROCESS, self._proc.pid, os.getpriority(os.PRIO_PROCESS, 0) + nice
                )
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(request).encode())
        self._proc.stdin.close()

    def done(self) -> bool:
        """Whether the child has finished (every batch is in its spool, or it failed)."""
        return self._proc.poll() is not None

    def items(
        self, files: Sequence[tuple[str, str]], maxsize: int = 2
    ) -> Generator[PacsItem, None, None] | None:
        found = self._spools.pop(tuple((str(r), str(p)) for r, p in files), None)
        if found is None:
            return None
        i, spool = found
        self._done_until(i)  # the loading is past the batches before this one
        self._catch_up()
        # opened here: a generator never started would not close it (the file object does)
        return self._read(i, open(spool, "rb", buffering=0), maxsize)

    def _done_until(self, n: int) -> None:
        """The loading is done with batches 0 .. n-1: their spools closed (those not read,
        here; the one read, by its reader), and the child told it may go on."""
        if n <= self._done:
            return
        for key, (i, fd) in list(self._spools.items()):
            if i < n:  # passed by (skipped, or read another way): never read now
                del self._spools[key]
                os.close(fd)
        released, self._done = n - self._done, n
        if self._release >= 0 and self._proc.poll() is None:
            # a child gone or killed meanwhile reads nothing more: nothing to tell it
            with contextlib.suppress(OSError):
                os.write(self._release, b"\0" * released)

    def _catch_up(self) -> None:
        """The child back at its parent's priority: the loading has reached its batches and
        waits on it. Lowering a niceness needs the privilege to (root, CAP_SYS_NICE):
        without it the child keeps its lower priority."""
        if self._proc.poll() is not None:
            return
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self._proc.pid, os.getpriority(os.PRIO_PROCESS, 0))

    def _read(self, i: int, fh: IO[bytes], maxsize: int) -> Generator[PacsItem, None, None]:
        finished = False
        with fh:
            received = ahead(
                _frames(self._proc, self._stderr, _Tail(fh, self._proc)),
                maxsize=maxsize,
                name="pacs008-spool",
            )
            try:
                for item in received:  # noqa: UP028 (see pacs_in_process)
                    yield item
                finished = True
            finally:
                if not finished:  # the loading stops here: the child and the later spools go too
                    self._kill()
                received.close()
        if finished:  # its spool closed here (the child closes its end after its done frame)
            self._done_until(i + 1)

    def _kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()

    def close(self) -> None:
        self._kill()
        self._stderr.close()
        for _, fd in self._spools.values():  # the batches not read
            os.close(fd)
        self._spools.clear()
        if self._release >= 0:
            os.close(self._release)
            self._release = -1
