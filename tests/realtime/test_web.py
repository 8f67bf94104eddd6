"""POST /api/v1/score in the web application: its callers and rights, remembered tokens, audit, headers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from moneytrail.opstore import OpsStore
from moneytrail.opstore.audit import entries, verify
from moneytrail.opstore.models import User
from moneytrail.opstore.users import create_user, issue_token, revoke_tokens
from moneytrail.web.score_auth import ScoreAudit, ScoreCaller
from tests.realtime.conftest import World

API = "/api/v1"
PASSWORD = "correct horse battery"


@dataclass
class Web:
    app: FastAPI
    ops: OpsStore
    tokens: dict[str, str]  # username -> bearer token
    payments: Iterator[dict[str, Any]]  # readable payments, each used once

    @property
    def auth(self) -> ScoreCaller:
        caller: ScoreCaller = self.app.state.score_caller
        return caller

    @property
    def audit(self) -> ScoreAudit:
        audit: ScoreAudit = self.app.state.score_audit
        return audit


def _readable(world: World) -> Iterator[dict[str, Any]]:
    for item in world.later:
        if item.format != "pacs008" and "12,50" not in item.raw and "N/A" not in item.raw:
            yield item.body


@pytest.fixture(scope="module")
def web(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    from moneytrail.web.app import create_app

    ops_url = f"sqlite:///{tmp_path_factory.mktemp('rt-web') / 'ops.db'}"
    ops = OpsStore(ops_url)
    tokens = {}
    with ops.session() as s:
        for name, role in (("gateway", "analyst"), ("lia", "liaison"), ("ana", "analyst")):
            user = create_user(s, name, PASSWORD, role)
            tokens[name] = issue_token(s, user, "test")
        s.commit()
    app = create_app(Path(world.warehouse), ops_url, secret_key="test-secret-" + "x" * 32, ui=False)
    yield Web(app, ops, tokens, _readable(world))
    ops.dispose()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_score_route_keeps_the_apis_rights_and_headers(web: Web) -> None:
    c = TestClient(web.app)
    body = next(web.payments)
    assert c.post(f"{API}/score", json=body).status_code == 401
    assert c.post(f"{API}/score", json=body, headers=_bearer("mt_not-a-token")).status_code == 401
    refused = c.post(f"{API}/score", json=body, headers=_bearer(web.tokens["lia"]))
    assert refused.status_code == 403 and "may not score" in refused.json()["detail"]
    r = c.post(f"{API}/score", json=body, headers=_bearer(web.tokens["gateway"]))
    assert r.status_code == 200, r.text
    assert r.json()["decision"] in ("allow", "review", "hold")
    for h, v in (("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"), ("cache-control", "no-store")):
        assert r.headers[h] == v
    assert c.get(f"{API}/health").headers["x-frame-options"] == "DENY"  # the rest of the API too
    assert c.post(f"{API}/score", json=body, headers=_bearer(web.tokens["gateway"])).status_code == 409


def test_a_browser_session_needs_the_csrf_header_and_each_call_is_audited(web: Web) -> None:
    c = TestClient(web.app)
    login = c.post(f"{API}/auth/login", json={"username": "ana", "password": PASSWORD})
    assert login.status_code == 200, login.text
    body = next(web.payments)
    assert c.post(f"{API}/score", json=body).status_code == 403  # the cookie without the CSRF header
    r = c.post(f"{API}/score", json=body, headers={"X-CSRF-Token": login.json()["csrf_token"]})
    assert r.status_code == 200, r.text
    a = r.json()
    with web.ops.session() as s:
        got = entries(s, actor="ana", action="score")
    assert [e.target for e in got] == [f"payment:{a['provider']}:{a['record_id']}"]  # already written
    assert got[0].details["decision"] == a["decision"]


def test_a_revoked_token_is_refused_once_its_memory_runs_out(web: Web) -> None:
    now = [1000.0]
    web.auth.clock = lambda: now[0]
    web.auth.forget()
    with web.ops.session() as s:
        user = create_user(s, "short-lived", PASSWORD, "analyst")
        token = issue_token(s, user, "test")
        s.commit()
    c = TestClient(web.app)
    assert c.post(f"{API}/score", json=next(web.payments), headers=_bearer(token)).status_code == 200
    with web.ops.session() as s:
        again = s.scalar(select(User).where(User.username == "short-lived"))
        assert again is not None
        assert revoke_tokens(s, again) == 1
        s.commit()
    now[0] += web.auth.ttl - 0.5  # still remembered: accepted without asking the store
    assert c.post(f"{API}/score", json=next(web.payments), headers=_bearer(token)).status_code == 200
    now[0] += 1.0  # remembered no longer: the store refuses it
    r = c.post(f"{API}/score", json=next(web.payments), headers=_bearer(token))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    now[0] += 100.0  # a refusal is not remembered either way: still refused, by the store
    assert c.post(f"{API}/score", json=next(web.payments), headers=_bearer(token)).status_code == 401


def test_with_no_memory_every_call_asks_the_store() -> None:
    assert ScoreCaller(ttl=0).ttl == 0
    import os

    os.environ["MONEYTRAIL_SCORE_TOKEN_TTL"] = "0"
    try:
        assert ScoreCaller().ttl == 0
    finally:
        del os.environ["MONEYTRAIL_SCORE_TOKEN_TTL"]
    assert ScoreCaller().ttl == 5.0


def test_a_services_calls_are_audited_in_batches(web: Web) -> None:
    web.audit.close()  # the background writer stops (writing what earlier tests left): this test flushes by hand
    with web.ops.session() as s:
        before = len(entries(s, actor="gateway", action="score.batch"))
    c = TestClient(web.app)
    answers, bodies = [], [next(web.payments) for _ in range(5)]
    for body in bodies:
        r = c.post(f"{API}/score", json=body, headers=_bearer(web.tokens["gateway"]))
        assert r.status_code == 200, r.text
        answers.append(r.json())
    assert c.post(f"{API}/score", json=bodies[0], headers=_bearer(web.tokens["gateway"])).status_code == 409
    with web.ops.session() as s:
        assert len(entries(s, actor="gateway", action="score.batch")) == before  # nothing per call
    assert web.audit.flush() == 1
    with web.ops.session() as s:
        got = entries(s, actor="gateway", action="score.batch")
        assert len(got) == before + 1
        entry = got[0]  # the newest
        assert verify(s).ok
    d = entry.details
    assert d["calls"] == 6 and d["status"] == {"200": 5, "409": 1} and sum(d["decisions"].values()) == 5
    assert d["payments"] == [f"payment:{a['provider']}:{a['record_id']}" for a in answers]
    assert web.audit.flush() == 0  # nothing new: no entry



def test_query_strings_and_xml_take_the_route_with_the_same_answers(web: Web, world: World) -> None:
    """The fast path takes plain JSON posts; `?detail=true` and XML go through FastAPI, refusals look alike."""
    c = TestClient(web.app)
    auth = _bearer(web.tokens["gateway"])
    r = c.post(f"{API}/score", params={"detail": "true"}, json=next(web.payments), headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["detail"]["transaction"] and r.headers["x-frame-options"] == "DENY"
    msg = next(i.body for i in world.later if i.format == "pacs008")
    r = c.post(f"{API}/score", params={"provider": msg["provider"]}, content=msg["pacs008"],
               headers=auth | {"Content-Type": "application/xml"})
    assert r.status_code in (200, 409), r.text  # 409: an earlier test may have scored it
    fast = c.post(f"{API}/score", content=b"{not json", headers=auth)
    routed = c.post(f"{API}/score", params={"detail": "false"}, content=b"{not json", headers=auth)
    assert fast.status_code == routed.status_code == 400
    assert set(fast.json()) == set(routed.json()) == {"status", "detail", "errors"}
    anonymous = c.post(f"{API}/score", json={})
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["status"] == 401
