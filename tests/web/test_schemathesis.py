"""Schemathesis against the published OpenAPI document, signed in as an administrator:
generated requests to every operation find no server error, and answers match the schema."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.web.conftest import API, ApiWorld

EXAMPLES = 12  # per operation: about a minute for the whole API on a busy 2-core machine


@pytest.fixture(scope="module")
def admin_token(clients: dict[str, TestClient]) -> str:
    r = clients["admin"].post(f"{API}/auth/tokens", json={"name": "schemathesis"})
    assert r.status_code == 200
    return str(r.json()["token"])


def test_generated_requests_find_no_server_error(api_world: ApiWorld, admin_token: str) -> None:
    # schemathesis' own pytest plugin does not run under this pytest; hypothesis drives it directly
    schema = schemathesis.openapi.from_asgi(f"{API}/openapi.json", api_world.app)
    headers = {"Authorization": f"Bearer {admin_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        try:
            check()
        except Exception as exc:
            raise AssertionError(f"{operation.label}: {exc}") from exc
