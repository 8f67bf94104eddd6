"""Signing in and out, the session cookie, CSRF, bearer tokens, and refusal without a user."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import API, PASSWORD, ApiWorld, login
from tests.web.routes import PUBLIC, api_routes, call


def test_login_sets_a_strict_httponly_cookie_and_answers_the_user(api_world: ApiWorld) -> None:
    c = TestClient(api_world.app)
    r = c.post(f"{API}/auth/login", json={"username": "ana", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["user"]["username"] == "ana" and body["user"]["role"] == "analyst"
    assert "read_personal" in body["user"]["permissions"] and "read_audit" not in body["user"]["permissions"]
    assert len(body["csrf_token"]) >= 32
    cookie = r.headers["set-cookie"].lower()
    assert "moneytrail_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    me = c.get(f"{API}/me")
    assert me.status_code == 200 and me.json()["csrf_token"] == body["csrf_token"]
    assert me.headers["cache-control"] == "no-store" and me.headers["x-frame-options"] == "DENY"


def test_wrong_password_is_refused_with_a_message(api_world: ApiWorld) -> None:
    c = TestClient(api_world.app)
    r = c.post(f"{API}/auth/login", json={"username": "ana", "password": "not the password"})
    assert r.status_code == 401
    assert "wrong username or password" in r.json()["detail"]
    assert "set-cookie" not in r.headers
    assert c.post(f"{API}/auth/login", json={"username": "nobody", "password": PASSWORD}).status_code == 401


def test_logout_ends_the_session(api_world: ApiWorld) -> None:
    c = login(api_world.app, "ana")
    assert c.get(f"{API}/me").status_code == 200
    assert c.post(f"{API}/auth/logout").json() == {"ok": True}
    assert c.get(f"{API}/me").status_code == 401


def test_a_tampered_cookie_is_not_a_session(api_world: ApiWorld) -> None:
    c = login(api_world.app, "ana")
    value = c.cookies.get("moneytrail_session")
    assert value
    c.cookies.set("moneytrail_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert c.get(f"{API}/me").status_code == 401


def test_a_post_with_the_cookie_needs_the_csrf_header(api_world: ApiWorld) -> None:
    c = login(api_world.app, "ana")
    token = c.headers.pop("X-CSRF-Token")
    r = c.post(f"{API}/auth/tokens", json={"name": "x"})
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    r = c.post(f"{API}/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = c.post(f"{API}/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200
    # reading needs no token: GET changes nothing
    assert c.get(f"{API}/me").status_code == 200


def test_bearer_tokens_act_as_their_user_without_csrf(api_world: ApiWorld) -> None:
    c = login(api_world.app, "sue")
    token = c.post(f"{API}/auth/tokens", json={"name": "screening"}).json()["token"]
    machine = TestClient(api_world.app)
    r = machine.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["user"]["username"] == "sue"
    # a POST with a bearer token needs no CSRF header
    r = machine.post(f"{API}/auth/tokens", json={"name": "second"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    bad = machine.get(f"{API}/me", headers={"Authorization": "Bearer mt_not-a-token"})
    assert bad.status_code == 401 and "token" in bad.json()["detail"]


def test_every_route_but_health_and_login_refuses_an_anonymous_caller(
        api_world: ApiWorld, anonymous: TestClient) -> None:
    routes = api_routes(api_world.app)
    assert len(routes) >= 30
    samples = {"subject_id": "S000001", "seed": "S000001", "ref": "C-000001", "community_id": "C00001",
               "report_id": "R1"}
    for route in routes:
        r = call(anonymous, route, samples)
        if (route.method, route.path) in PUBLIC:
            assert r.status_code != 401, route
        else:
            assert r.status_code == 401, (route, r.status_code, r.text[:200])
            assert r.json()["detail"], route
    assert anonymous.get(f"{API}/health").json()["status"] == "ok"


def test_errors_are_json_with_a_message(as_role, api_world: ApiWorld) -> None:  # type: ignore[no-untyped-def]
    c = as_role("analyst")
    r = c.get(f"{API}/subjects/S999999")
    assert r.status_code == 404 and r.json()["status"] == 404 and "S999999" in r.json()["detail"]
    r = c.get(f"{API}/alerts", params={"page_size": 100000})
    assert r.status_code == 422
    assert "page_size" in r.json()["detail"] and r.json()["errors"]
    r = c.get(f"{API}/alerts", params={"corridor": "nowhere"})
    assert r.status_code == 400 and "corridor" in r.json()["detail"]


def test_openapi_document_is_published(anonymous: TestClient) -> None:
    doc = anonymous.get(f"{API}/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert f"{API}/alerts" in doc["paths"] and f"{API}/cases/{{ref}}/state" in doc["paths"]
    alert = doc["components"]["schemas"]["AlertOut"]["properties"]
    assert {"subject_id", "role", "score", "reasons", "corridors", "channels", "case"} <= set(alert)
