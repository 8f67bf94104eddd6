"""Run a producer in a thread of its own, ahead of its consumer, through a bounded queue.

Ingesting pacs.008 is two kinds of work: reading the XML (lxml and Arrow, on
the producer's side) and checking and loading the rows (DuckDB, on the
consumer's). Both release the GIL for most of their time, so on two cores they
overlap; the queue's bound keeps memory flat whatever the file size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

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
