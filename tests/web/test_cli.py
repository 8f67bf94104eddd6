"""`moneytrail serve`: a clear error without a warehouse, and a running server with two workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from moneytrail.cli import app
from tests.web.conftest import API, PASSWORD, seed_ops


def test_serve_without_a_warehouse_says_what_to_do(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--store", str(tmp_path / "missing.duckdb")])
    assert result.exit_code != 0
    assert "no warehouse" in str(result.exception) and "moneytrail run" in str(result.exception)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_with_two_workers(api_warehouse: Path, tmp_path: Path) -> None:
    ops_url = f"sqlite:///{tmp_path / 'ops.db'}"
    seed_ops(ops_url, api_warehouse)
    port = _free_port()
    env = {**os.environ, "MONEYTRAIL_SECRET_KEY": "cli-test-" + "k" * 32}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moneytrail", "serve", "--store", str(api_warehouse), "--port", str(port),
         "--workers", "2", "--ops-url", ops_url],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}{API}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the server did not answer within 90 s"
            time.sleep(0.5)
        with httpx.Client(base_url=base, timeout=30) as c:
            r = c.post("/auth/login", json={"username": "ana", "password": PASSWORD})
            assert r.status_code == 200
            csrf = r.json()["csrf_token"]
            # the session is valid in whichever worker answers: they share the signing key
            for _ in range(6):
                assert c.get("/alerts", params={"page_size": 2}).status_code == 200
            assert c.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
