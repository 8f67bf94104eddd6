"""The API's routes as the tests walk them: the permission each needs, and a call that fills its path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response

from moneytrail.web.deps import Requires

API = "/api/v1"
PUBLIC = {("GET", f"{API}/health"), ("POST", f"{API}/auth/login")}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    permissions: tuple[str, ...] | None  # None: any signed-in user


def _requires(dependant: Any) -> tuple[str, ...] | None:
    for dep in dependant.dependencies:
        if isinstance(dep.call, Requires):
            return dep.call.permissions
        found = _requires(dep)
        if found is not None:
            return found
    return None


def _flatten(routes: list[Any]) -> list[Any]:
    """Every API route with its full path and dependencies. FastAPI >= 0.165 keeps included
    routers as branches (`effective_candidates()`) rather than copying their routes into app.routes."""
    out: list[Any] = []
    for r in routes:
        if isinstance(r, APIRoute):
            out.append(r)
        elif hasattr(r, "effective_candidates"):
            out += _flatten(r.effective_candidates())
        elif getattr(r, "dependant", None) is not None and getattr(r, "methods", None):
            out.append(r)  # an effective route of an included router
    return out


def api_routes(app: FastAPI) -> list[Route]:
    out = []
    for r in _flatten(list(app.routes)):
        if r.path.startswith(API):
            for method in sorted(r.methods or ()):
                out.append(Route(method, r.path, _requires(r.dependant)))
    return out


def fill(path: str, samples: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: samples.get(m.group(1), "x"), path)


def call(client: TestClient, route: Route, samples: dict[str, str]) -> Response:
    url = fill(route.path, samples)
    if route.method == "GET":
        return client.get(url)
    return client.request(route.method, url, json={})
