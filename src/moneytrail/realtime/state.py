"""Where the real-time state lives: in the process, or in Redis for several workers.

The state is a set of keys holding small JSON values (a subject's running
aggregates, a device's number of payers...) and append-only lists (a
sender's cross-border transfers, read back only when a payment arrives out of
time order). Every payment is one read-modify-write over a few keys, run by
:meth:`StateStore.run`:

- :class:`MemoryStore` keeps Python objects as they are: the warm-up replay
  writes hundreds of thousands of updates into it, then hands them over;
- :class:`InProcessStore` (one worker) keeps serialised copies behind a lock,
  so a payment that fails half-way leaves no trace;
- :class:`RedisStore` (several workers, values as JSON) watches every key it reads and
  writes in one MULTI/EXEC: if another worker changed one of them meanwhile,
  the payment is computed again. Payments are thereby serialisable, and the
  state is what scoring them one after the other would give.
"""

from __future__ import annotations

import json
import os
import pickle
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import orjson

from moneytrail.errors import UserError

T = TypeVar("T")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def loads(raw: bytes | str) -> Any:
    """orjson reads a payment's values several times faster; the standard library reads
    what orjson refuses (NaN and Infinity, which `dumps` writes as Python's json does).
    Integers beyond 64 bits would come back as floats: the state holds none (counts,
    epoch seconds, amounts as floats)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


class Txn(ABC):
    """One payment's reads and writes."""

    @abstractmethod
    def get(self, keys: Sequence[str]) -> list[Any]:
        """Values of the keys (None when absent); the same object for a key read twice."""

    @abstractmethod
    def get_list(self, key: str) -> list[Any]:
        """The items of a list key (empty when absent)."""

    @abstractmethod
    def set(self, key: str, value: Any) -> None: ...

    @abstractmethod
    def append(self, key: str, item: Any) -> None: ...


class _BufferedTxn(Txn):
    """Reads through `fetch`, caches them, and buffers writes until commit."""

    def __init__(self, fetch: Callable[[list[str]], list[Any]], fetch_list: Callable[[str], list[Any]]) -> None:
        self._fetch = fetch
        self._fetch_list = fetch_list
        self.cache: dict[str, Any] = {}
        self.writes: dict[str, Any] = {}
        self.appends: dict[str, list[Any]] = {}

    def get(self, keys: Sequence[str]) -> list[Any]:
        missing = [k for k in dict.fromkeys(keys) if k not in self.cache]
        if missing:
            self.cache.update(zip(missing, self._fetch(missing), strict=True))
        return [self.cache[k] for k in keys]

    def get_list(self, key: str) -> list[Any]:
        return [*self._fetch_list(key), *self.appends.get(key, [])]

    def set(self, key: str, value: Any) -> None:
        self.cache[key] = value
        self.writes[key] = value

    def append(self, key: str, item: Any) -> None:
        self.appends.setdefault(key, []).append(item)


class StateStore(ABC):
    """A key-value state that runs each payment as one isolated read-modify-write."""

    kind = "state"

    @abstractmethod
    def run(self, fn: Callable[[Txn], T]) -> T:
        """Run `fn` on a transaction and commit its writes (again, on a conflict)."""

    @abstractmethod
    def load(self, values: Iterable[tuple[str, Any]], lists: Iterable[tuple[str, list[Any]]]) -> None:
        """Replace the whole state (the warm-up's result)."""

    @abstractmethod
    def size(self) -> int:
        """Number of keys."""

    @abstractmethod
    def keys(self, prefix: str) -> list[str]:
        """The value keys starting with `prefix`."""

    def close(self) -> None:  # noqa: B027  (nothing to release by default)
        pass


class MemoryStore(StateStore):
    """Plain Python objects, no copies, no lock: for the single-threaded warm-up."""

    kind = "memory"

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.lists: dict[str, list[Any]] = {}

    def run(self, fn: Callable[[Txn], T]) -> T:
        txn = _BufferedTxn(lambda keys: [self.values.get(k) for k in keys], lambda k: self.lists.get(k, []))
        out = fn(txn)
        self.values.update(txn.writes)
        for k, items in txn.appends.items():
            self.lists.setdefault(k, []).extend(items)
        return out

    def load(self, values: Iterable[tuple[str, Any]], lists: Iterable[tuple[str, list[Any]]]) -> None:
        self.values = dict(values)
        self.lists = {k: list(v) for k, v in lists}

    def size(self) -> int:
        return len(self.values) + len(self.lists)

    def keys(self, prefix: str) -> list[str]:
        return [k for k in self.values if k.startswith(prefix)]


class InProcessStore(StateStore):
    """Serialised values in a dict behind a lock: one worker, any number of threads.

    Values are kept pickled (this process's own data, never read from outside):
    each payment works on its own copies, so one that fails half-way leaves no trace.
    """

    kind = "in-process"

    def __init__(self) -> None:
        self._values: dict[str, bytes] = {}
        self._lists: dict[str, list[Any]] = {}
        self._lock = threading.Lock()

    def run(self, fn: Callable[[Txn], T]) -> T:
        def fetch(keys: list[str]) -> list[Any]:
            return [None if (v := self._values.get(k)) is None else pickle.loads(v) for k in keys]

        def fetch_list(key: str) -> list[Any]:
            return [pickle.loads(v) for v in self._lists.get(key, [])]

        with self._lock:
            txn = _BufferedTxn(fetch, fetch_list)
            out = fn(txn)
            for k, v in txn.writes.items():
                self._values[k] = pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL)
            for k, items in txn.appends.items():
                self._lists.setdefault(k, []).extend(pickle.dumps(i) for i in items)
            return out

    def load(self, values: Iterable[tuple[str, Any]], lists: Iterable[tuple[str, list[Any]]]) -> None:
        with self._lock:
            self._values = {k: pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL) for k, v in values}
            self._lists = {k: [pickle.dumps(i) for i in items] for k, items in lists}

    def size(self) -> int:
        return len(self._values) + len(self._lists)

    def keys(self, prefix: str) -> list[str]:
        with self._lock:
            return [k for k in self._values if k.startswith(prefix)]


class RedisStore(StateStore):
    """Keys under a namespace in Redis, shared by every worker; optimistic transactions."""

    kind = "redis"

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", namespace: str = "moneytrail:rt",
                 max_attempts: int = 50) -> None:
        import redis

        self._redis_mod = redis
        self.url = url
        self.ns = namespace.rstrip(":") + ":"
        self.max_attempts = max_attempts
        self.client = redis.Redis.from_url(url)
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise UserError(f"cannot reach Redis at {url}: {exc}; start it or use the in-process state") from exc

    def _k(self, key: str) -> str:
        return self.ns + key

    def run(self, fn: Callable[[Txn], T]) -> T:
        """WATCH and read in one round trip per read, MULTI/writes/EXEC in one more."""
        pool = self.client.connection_pool
        for _ in range(self.max_attempts):
            conn = pool.get_connection()
            clean = False
            try:
                def fetch(keys: list[str], conn: Any = conn) -> list[Any]:
                    full = [self._k(k) for k in keys]
                    conn.send_packed_command(conn.pack_commands([("WATCH", *full), ("MGET", *full)]))
                    conn.read_response()
                    return [None if v is None else loads(v) for v in conn.read_response()]

                def fetch_list(key: str, conn: Any = conn) -> list[Any]:
                    k = self._k(key)
                    conn.send_packed_command(conn.pack_commands([("WATCH", k), ("LRANGE", k, 0, -1)]))
                    conn.read_response()
                    return [loads(v) for v in conn.read_response()]

                txn = _BufferedTxn(fetch, fetch_list)
                try:
                    out = fn(txn)
                except Exception:
                    conn.send_command("UNWATCH")
                    conn.read_response()
                    clean = True
                    raise
                cmds: list[tuple[Any, ...]] = [("MULTI",)]
                if txn.writes:
                    cmds.append(("MSET", *(x for k, v in txn.writes.items() for x in (self._k(k), dumps(v)))))
                cmds += [("RPUSH", self._k(k), *(dumps(i) for i in items)) for k, items in txn.appends.items()]
                cmds.append(("EXEC",))
                conn.send_packed_command(conn.pack_commands(cmds))
                replies = [conn.read_response() for _ in cmds]
                clean = True
                if replies[-1] is not None:
                    return out
                # EXEC aborted: another worker changed a key this payment read; compute it again
            finally:
                if not clean:
                    conn.disconnect()
                pool.release(conn)
        raise UserError(f"the payment kept conflicting with others in Redis after {self.max_attempts} attempts; retry it")

    def load(self, values: Iterable[tuple[str, Any]], lists: Iterable[tuple[str, list[Any]]], batch: int = 5000) -> None:
        self.clear(keep_locks=True)
        pipe = self.client.pipeline(transaction=False)
        n = 0
        for k, v in values:
            pipe.set(self._k(k), dumps(v))
            n += 1
            if n % batch == 0:
                pipe.execute()
        for k, items in lists:
            if items:
                pipe.rpush(self._k(k), *(dumps(i) for i in items))
                n += 1
                if n % batch == 0:
                    pipe.execute()
        pipe.execute()

    def clear(self, *, keep_locks: bool = False) -> None:
        """Delete every key of this namespace (but its locks, with `keep_locks`)."""
        locks = (self.ns + "lock:").encode()
        batch: list[bytes] = []
        for key in self.client.scan_iter(match=self.ns + "*", count=5000):
            if keep_locks and key.startswith(locks):
                continue
            batch.append(key)
            if len(batch) >= 5000:
                self.client.delete(*batch)
                batch = []
        if batch:
            self.client.delete(*batch)

    def size(self) -> int:
        return sum(1 for _ in self.client.scan_iter(match=self.ns + "*", count=5000))

    def keys(self, prefix: str) -> list[str]:
        n = len(self.ns)
        return [k.decode()[n:] for k in self.client.scan_iter(match=self.ns + prefix + "*", count=5000)
                if self.client.type(k) == b"string"]

    def try_lock(self, name: str, seconds: int = 900) -> bool:
        """Take a named lock (so that one worker warms the shared state while the others wait)."""
        return bool(self.client.set(self._k("lock:" + name), str(os.getpid()), nx=True, ex=seconds))

    def unlock(self, name: str) -> None:
        self.client.delete(self._k("lock:" + name))

    def get_meta(self) -> dict[str, Any] | None:
        raw = self.client.get(self._k("meta"))
        return None if raw is None else dict(json.loads(raw))

    def close(self) -> None:
        self.client.close()
