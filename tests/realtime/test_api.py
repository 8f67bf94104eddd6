"""POST /score through a test app: authentication, answers, refusals, decisions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from moneytrail.errors import UserError
from moneytrail.realtime.engine import Engine, Thresholds
from tests.realtime.conftest import TOKEN, World, make_app


@pytest.fixture(scope="module")
def served(world: World) -> Iterator[tuple[TestClient, Engine]]:
    engine = Engine.from_warehouse(world.warehouse)
    with TestClient(make_app(engine)) as c:
        yield c, engine


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _first(world: World, fmt: str) -> dict[str, Any]:
    return next(i.body for i in world.later if i.format == fmt and "12,50" not in i.raw and "N/A" not in i.raw)


def test_every_route_needs_the_token(served: tuple[TestClient, Engine], world: World) -> None:
    client, _ = served
    body = _first(world, "wallet-csv")
    assert client.post("/api/v1/score", json=body).status_code == 401
    assert client.post("/api/v1/score", json=body, headers=_auth("wrong")).status_code == 401
    assert client.get("/api/v1/score/status").status_code == 401


def test_a_payment_is_scored_once(served: tuple[TestClient, Engine], world: World) -> None:
    client, engine = served
    body = _first(world, "remittance-csv")
    r = client.post("/api/v1/score", json=body, headers=_auth())
    assert r.status_code == 200, r.text
    a = r.json()
    assert 0.0 <= a["score"] <= 1.0
    assert a["decision"] == engine.thresholds.decide(a["score"]) or (
        a["decision"] == "review" and any(a[w]["last_batch"] and a[w]["last_batch"]["flagged"] for w in ("sender", "receiver")))
    assert set(a["reasons"]) == {i["id"] for i in a["indicators"]}  # each reason is explained
    assert a["sender"]["subject_id"] and a["receiver"]["subject_id"]
    again = client.post("/api/v1/score", json=body, headers=_auth())
    assert again.status_code == 409
    assert "already scored" in again.json()["detail"]


def test_payments_already_in_the_warehouse_are_refused(served: tuple[TestClient, Engine], world: World) -> None:
    client, _ = served
    import csv
    from pathlib import Path

    path = next(Path(world.warm_bundle, "remitco").glob("*.csv"))
    row = next(csv.DictReader(path.open()))
    r = client.post("/api/v1/score", json={"provider": "remitco", "record": row}, headers=_auth())
    assert r.status_code == 409
    assert "in the warehouse" in r.json()["detail"]


def test_pacs008_as_json_or_as_xml(served: tuple[TestClient, Engine], world: World) -> None:
    client, _ = served
    msgs = [i.body for i in world.later if i.format == "pacs008"][:2]
    assert len(msgs) == 2
    r = client.post("/api/v1/score", json=msgs[0], headers=_auth())
    assert r.status_code == 200, r.text
    r = client.post("/api/v1/score", params={"provider": msgs[1]["provider"]}, content=msgs[1]["pacs008"],
                    headers=_auth() | {"Content-Type": "application/xml"})
    assert r.status_code == 200, r.text
    assert r.json()["provider"] == msgs[1]["provider"]


def test_bad_requests_get_the_reason(served: tuple[TestClient, Engine], world: World) -> None:
    client, _ = served
    body = _first(world, "card-csv")
    bad = {"provider": body["provider"], "record": body["record"] | {"amount": "12,50", "txn_id": "X-bad"}}
    r = client.post("/api/v1/score", json=bad, headers=_auth())
    assert r.status_code == 422
    assert r.json()["detail"] == "bad amount: 12,50"
    r = client.post("/api/v1/score", content=b"{not json", headers=_auth() | {"Content-Type": "application/json"})
    assert r.status_code == 400
    r = client.post("/api/v1/score", json=[1, 2], headers=_auth())
    assert r.status_code == 400
    r = client.post("/api/v1/score", json={"record": body["record"]}, headers=_auth())
    assert r.status_code == 400
    assert "provider" in r.json()["detail"]


def test_status_and_detail(served: tuple[TestClient, Engine], world: World) -> None:
    client, engine = served
    s = client.get("/api/v1/score/status", headers=_auth()).json()
    assert s["state"] == "in-process" and s["warmed_transactions"] == engine.warmed > 0
    body = [i.body for i in world.later if i.format == "wallet-csv"][5]
    a = client.post("/api/v1/score", params={"detail": "true"}, json=body, headers=_auth()).json()
    det = a["detail"]
    assert det["transaction"]["sender_id"] == a["sender"]["subject_id"]
    assert det["subjects"]["sender"]["n_out"] >= 1  # this payment is in its payer's history
    assert {p["side"] for p in det["parties"]} == {"from", "to"}


def test_thresholds_decide_and_are_checked() -> None:
    t = Thresholds(review=0.3, hold=0.8)
    assert [t.decide(x) for x in (0.1, 0.3, 0.79, 0.8, 1.0)] == ["allow", "review", "review", "hold", "hold"]
    for review, hold in ((0.9, 0.5), (0.0, 0.5), (0.5, 1.5)):
        with pytest.raises(UserError, match="thresholds"):
            Thresholds(review=review, hold=hold)
