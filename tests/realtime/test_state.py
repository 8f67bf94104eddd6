"""The state: arrival order does not matter, workers share it in Redis, a failed payment leaves no trace."""

from __future__ import annotations

import math
import random
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moneytrail.errors import UserError
from moneytrail.realtime.engine import Engine
from moneytrail.realtime.state import (
    InProcessStore,
    MemoryStore,
    RedisStore,
    StateStore,
    dumps,
    loads,
)
from tests.realtime.conftest import World

REDIS = "redis://127.0.0.1:6379/0"


def _redis_or_skip() -> None:
    """Redis runs on every machine here: a missing one is a failure, not a skip."""
    try:
        RedisStore(REDIS, "mt-rt-test:probe").close()
    except UserError as exc:
        pytest.fail(f"no Redis at {REDIS} (start it: redis-server --daemonize yes): {exc}")


def _stream(engine: Engine, bodies: list[dict[str, Any]]) -> int:
    n = 0
    for b in bodies:
        try:
            engine.score(b)
            n += 1
        except UserError:
            pass  # a malformed record of the world: refused, as the batch quarantines it
    return n


def _states(engine: Engine) -> dict[str, dict[str, Any] | None]:
    return {s: engine.subject_features(s) for s in engine.subject_ids()}


def _assert_same_states(a: dict[str, dict[str, Any] | None], b: dict[str, dict[str, Any] | None]) -> None:
    assert a.keys() == b.keys()
    for sid, ra in a.items():
        rb = b[sid]
        assert (ra is None) == (rb is None), sid
        for k, v in (ra or {}).items():
            w = (rb or {})[k]
            if isinstance(v, float) or isinstance(w, float):
                assert v is not None and w is not None and math.isclose(v, w, rel_tol=1e-9, abs_tol=1e-9), (sid, k, v, w)
            else:
                assert v == w, (sid, k, v, w)


@pytest.fixture(scope="module")
def in_order(world: World) -> dict[str, dict[str, Any] | None]:
    """The state after the later payments, scored one by one in time order, in process."""
    engine = Engine.from_warehouse(world.warehouse, store=MemoryStore())
    _stream(engine, [i.body for i in world.later])
    return _states(engine)


def test_arrival_order_does_not_change_the_state(world: World, in_order: dict[str, dict[str, Any] | None]) -> None:
    """Late payments (older than their sender's latest) rebuild that sender's windows: same result."""
    bodies = [i.body for i in world.later]
    random.Random(3).shuffle(bodies)
    engine = Engine.from_warehouse(world.warehouse)
    _stream(engine, bodies)
    _assert_same_states(_states(engine), in_order)


@pytest.fixture()
def namespace() -> Iterator[str]:
    _redis_or_skip()
    ns = f"mt-rt-test:{uuid.uuid4().hex[:8]}"
    yield ns
    RedisStore(REDIS, ns).clear()


def test_two_workers_share_the_state_in_redis(world: World, in_order: dict[str, dict[str, Any] | None], namespace: str) -> None:
    first = Engine.from_warehouse(world.warehouse, store=RedisStore(REDIS, namespace), rewarm=True)
    second_store = RedisStore(REDIS, namespace)
    meta = second_store.get_meta()
    second = Engine.from_warehouse(world.warehouse, store=second_store)
    assert second_store.get_meta() == meta, "the second worker attached to the warm state, it did not rebuild it"
    assert second.warmed == first.warmed > 0
    bodies = [i.body for i in world.later]
    done = [0, 0]

    def work(k: int, engine: Engine) -> None:
        done[k] = _stream(engine, bodies[k::2])

    threads = [threading.Thread(target=work, args=(k, e)) for k, e in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(done) > 0.95 * len(bodies)
    _assert_same_states(_states(first), in_order)
    # a payment one worker scored is a duplicate for the other
    with pytest.raises(UserError, match="already scored"):
        second.score(bodies[0]) if done[0] else second.score(bodies[1])


@pytest.mark.parametrize("make", [InProcessStore, MemoryStore, "redis"])
def test_a_failed_payment_leaves_no_trace(make: Any) -> None:
    if make == "redis":
        _redis_or_skip()
        store: StateStore = RedisStore(REDIS, f"mt-rt-test:{uuid.uuid4().hex[:8]}")
    else:
        store = make()
    store.run(lambda txn: txn.set("a", {"n": 1}))

    def half_way(txn: Any) -> None:
        (a,) = txn.get(["a"])
        a["n"] += 1
        txn.set("a", a)
        txn.append("l", 1)
        raise ValueError("boom")

    with pytest.raises(ValueError):
        store.run(half_way)
    if not isinstance(store, MemoryStore):  # the warm-up's store has no isolation, by design
        assert store.run(lambda txn: txn.get(["a"])[0]) == {"n": 1}
        assert store.run(lambda txn: txn.get_list("l")) == []
    if isinstance(store, RedisStore):
        store.clear()


def test_a_warehouse_never_run_scores_from_an_empty_state(tmp_path: Any) -> None:
    """History builds up payment by payment: the third transfer to the same unrelated
    person is the one that makes MT17 (repeated payments) and MT20 (frequent low-value) fire."""
    from moneytrail.store import Warehouse
    from tests.conftest import remittance_row

    Warehouse(tmp_path / "w.duckdb").close()
    engine = Engine.from_warehouse(tmp_path / "w.duckdb")
    assert engine.warmed == 0
    reasons = []
    for i in range(3):
        row = remittance_row(transfer_id=f"T{i}", created_at=f"2026-03-0{i + 1}T02:14:09+08:00")
        reasons.append(set(engine.score({"provider": "remitco", "record": row})["reasons"]))
    assert "MT01" in reasons[0]
    assert not {"MT17", "MT20"} & (reasons[0] | reasons[1])
    assert {"MT17", "MT20"} <= reasons[2]
    state = engine.subject_features("u:remitco:C1")
    assert state is not None and state["n_xb"] == 3 and state["n_low_hr"] == 3


@given(st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                    max_leaves=20))
def test_redis_values_read_back_as_written(value: Any) -> None:
    """orjson reads the values back, the standard library what orjson refuses (NaN, Infinity)."""
    back = loads(dumps(value).encode())
    assert dumps(back) == dumps(value)  # NaN != NaN: compare the text
