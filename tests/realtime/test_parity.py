"""Parity with the batch run: a world's last payments streamed one by one through the API.

At each checkpoint the payments streamed so far are ingested by the batch
stages into a copy of the warehouse (with the subjects the API gave their
parties) and scored by the batch scoring stage. The API's answer for the
checkpoint payment must then equal the batch's answer for it: the feature
row and every transaction-level indicator, both subjects' feature rows and
sender/receiver-level indicators, the model features, the calibrated score
and the reasons; and the whole real-time state must equal the batch's
``mt_subj``, subject by subject. Refused records must carry the reason the
batch quarantine gives.
"""

from __future__ import annotations

import math
import shutil
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from fastapi.testclient import TestClient

from moneytrail.ingest import ingest_bundle
from moneytrail.realtime.engine import Engine
from moneytrail.realtime.feed import FeedItem, write_bundle
from moneytrail.scoring import score
from moneytrail.store import Warehouse
from tests.realtime.conftest import TOKEN, World, make_app


def _norm(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    return v


def _same(a: Any, b: Any) -> bool:
    a, b = _norm(a), _norm(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, float) and math.isnan(a):
            return isinstance(b, float) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _row(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> dict[str, Any] | None:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description or []]
    rows = cur.fetchall()
    return dict(zip(cols, rows[0], strict=True)) if rows else None


def _diff(what: str, api: dict[str, Any] | None, batch: dict[str, Any] | None) -> list[str]:
    if api is None or batch is None:
        return [] if api is None and batch is None else [f"{what}: api {api is not None}, batch {batch is not None}"]
    return [f"{what}.{k}: api {api.get(k)!r} batch {v!r}" for k, v in batch.items()
            if k in api and not _same(api[k], v)] + [f"{what}: api lacks {k}" for k in batch if k not in api]


def _batch_prefix(path: Path, items: list[FeedItem], answers: list[dict[str, Any]], out: Path,
                  compare: Callable[[duckdb.DuckDBPyConnection], list[str]] | None = None) -> list[str]:
    """Ingest the streamed payments as files, rescore with the batch stage, then compare.

    The comparison runs in the scoring connection: ``mt_txi`` is the stage's temporary table.
    """
    write_bundle(items, out)
    rows = [(p["subject_id"], a["provider"], a["record_id"], p["party"])
            for a in answers for p in a["detail"]["parties"] if p["subject_id"] is not None]
    with Warehouse(path) as wh:
        ingest_bundle(wh, out)
        if rows:
            wh.con.executemany("INSERT INTO subject_records VALUES (?, ?, ?, ?)", rows)
        score(wh.con)
        return compare(wh.con) if compare else []


def _compare(con: duckdb.DuckDBPyConnection, engine: Engine, a: dict[str, Any], touched: set[str] | None) -> list[str]:
    """API answer vs batch for the payment; state vs batch for `touched` subjects (None: all, and no others)."""
    key = [a["provider"], a["record_id"]]
    det = a["detail"]
    problems = _diff("mt_txi", det["transaction"], _row(con, "SELECT * FROM mt_txi WHERE provider = ? AND record_id = ?", key))
    problems += _diff("mt_txf", det["model_features"], _row(con, "SELECT * FROM mt_txf WHERE provider = ? AND record_id = ?", key))
    for who in ("sender", "receiver"):
        sid = a[who]["subject_id"]
        problems += _diff(f"mt_subj[{who}]", det["subjects"][who], _row(con, "SELECT * FROM mt_subj WHERE subject_id = ?", [sid]))
        problems += _diff(f"mt_subi[{who}]", det["subject_indicators"][who], _row(con, "SELECT * FROM mt_subi WHERE subject_id = ?", [sid]))
    ts = _row(con, "SELECT score, reasons FROM transaction_scores WHERE provider = ? AND record_id = ?", key)
    assert ts is not None
    problems += _diff("score", {"score": a["score"], "reasons": ";".join(a["reasons"])}, ts)
    cur = con.execute("SELECT * FROM mt_subj")
    cols = [d[0] for d in cur.description or []]
    batch_ids = set()
    for tup in cur.fetchall():
        b = dict(zip(cols, tup, strict=True))
        batch_ids.add(b["subject_id"])
        if touched is None or b["subject_id"] in touched:
            problems += _diff(f"state[{b['subject_id']}]", engine.subject_features(b["subject_id"]) or {"missing": True}, b)
    others = engine.subject_ids() if touched is None else touched
    extra = [s for s in others if s not in batch_ids and engine.subject_features(s) is not None]
    problems += [f"state has subject {s} the batch lacks" for s in extra[:5]]
    return problems


def test_stream_equals_batch_on_every_prefix(world: World, tmp_path: Path) -> None:
    engine = Engine.from_warehouse(world.warehouse)
    batch = tmp_path / "batch.duckdb"
    shutil.copy(world.warehouse, batch)
    quarantined_before = _quarantine(batch)
    n = len(world.later)
    checkpoints = {n // 6, n // 3, n // 2, 2 * n // 3, 5 * n // 6, n - 1}
    pending: list[FeedItem] = []
    answered: list[dict[str, Any]] = []
    refused: Counter[str] = Counter()
    seen_formats = set()
    compared = 0
    with TestClient(make_app(engine)) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        for i, item in enumerate(world.later):
            r = client.post("/api/v1/score", params={"detail": "true"}, json=item.body)
            pending.append(item)
            if r.status_code == 422:
                refused[r.json()["detail"]] += 1
            else:
                assert r.status_code == 200, r.text
                answered.append(r.json())
                seen_formats.add(item.format)
            if i not in checkpoints:
                continue
            check = None
            if answered and answered[-1]["record_id"] in item.raw:
                # the whole state at the end; before, the subjects these payments touched
                touched = None if i == n - 1 else {a[w]["subject_id"] for a in answered for w in ("sender", "receiver")}
                last = answered[-1]

                def check(con: duckdb.DuckDBPyConnection, last: dict[str, Any] = last,
                          touched: set[str] | None = touched) -> list[str]:
                    return _compare(con, engine, last, touched)

                compared += 1
            problems = _batch_prefix(batch, pending, answered, tmp_path / f"delta{i}", check)
            assert not problems, f"checkpoint {i}: " + "\n".join(problems[:20])
            pending, answered = [], []
    assert compared >= 4
    assert seen_formats == {"remittance-csv", "wallet-csv", "card-csv", "pacs008"}
    # every refused record is one the batch quarantines, for the same reason
    assert refused, "the world's later payments include malformed records"
    assert _quarantine(batch) - quarantined_before == refused


def _quarantine(path: Path) -> Counter[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return Counter(r[0] for r in con.execute("SELECT reason FROM quarantine").fetchall())
