"""What the browser tests and bench/ui_render.py share: Debian's Chromium (installed when
missing), the workspace's vendored libraries, a small scored world with users and cases,
and the web application served by uvicorn on a free local port.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "correct horse battery"
USERS = {"ana": "analyst", "sam": "supervisor", "liam": "liaison"}


def ensure_chromium() -> Path:
    """Debian's Chromium, installed with apt-get when it is not there yet (we run as root)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if not shutil.which("apt-get") or os.geteuid() != 0:
        raise RuntimeError(f"{CHROMIUM} is missing; install it with `apt-get install -y chromium` as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # the test workers install it one at a time (two at once: "Could not get lock
    # /var/lib/dpkg/lock-frontend"), and apt waits for any other holder of its lock
    wait = ["-o", "DPkg::Lock::Timeout=600"]
    install = ["apt-get", *wait, "install", "-y", "-q", "--no-install-recommends", "chromium"]
    with open("/tmp/moneytrail-chromium-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if CHROMIUM.exists():  # another worker installed it while this one waited
            return CHROMIUM
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:  # a stale package list: refresh it once and try again
            subprocess.run(["apt-get", *wait, "update", "-q"], env=env, capture_output=True, check=False)
            done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if not CHROMIUM.exists():
        raise RuntimeError(f"apt-get install chromium failed: {done.stderr.strip()[-500:]}")
    return CHROMIUM


def ensure_vendor() -> None:
    """The front-end libraries `make install` puts in static/vendor (installed here if missing)."""
    from moneytrail.web.ui.pages import VENDOR_DIR, VENDOR_FILES

    if all((VENDOR_DIR / name).is_file() for name in VENDOR_FILES):
        return
    subprocess.run(["bash", str(ROOT / "scripts" / "web_assets.sh")], check=True, cwd=ROOT)


def launch(playwright: Any) -> Any:
    """Headless Chromium as the workspace's users get it, without Playwright's own browser build."""
    return playwright.chromium.launch(executable_path=str(ensure_chromium()), args=CHROMIUM_ARGS, headless=True)


@dataclass
class World:
    warehouse: Path
    ops_url: str


def build_world(out: Path, *, scale: float = 0.2, seed: int = 7) -> World:
    """A synthetic world, run through the pipeline, with one user per role and the run's cases."""
    from moneytrail.cases import sync_from_run
    from moneytrail.opstore import OpsStore
    from moneytrail.opstore.users import create_user
    from moneytrail.pipeline.run import run_batch
    from moneytrail.synth.world import generate

    generate(out / "world", scale=scale, seed=seed)
    run_batch(out / "world" / "bundle", out / "results")
    warehouse = out / "results" / "warehouse.duckdb"
    ops_url = f"sqlite:///{out / 'ops.db'}"
    store = OpsStore(ops_url)
    try:
        with store.session() as s:
            for username, role in USERS.items():
                create_user(s, username, PASSWORD, role)
        sync_from_run(store, warehouse, actor="batch")
    finally:
        store.dispose()
    return World(warehouse, ops_url)


def make_app(world: World) -> Any:
    """The API engineer's application factory, with the workspace mounted."""
    from moneytrail.web.app import create_app

    return create_app(warehouse=world.warehouse, ops_url=world.ops_url, secret_key="browser-tests-only")


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve `app` from a thread on 127.0.0.1; yields the base URL.

    The socket is bound here (port 0) and handed to uvicorn, so no other test
    process can take the port between choosing it and listening on it; the
    start deadline is generous because the suite shares two cores.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web application did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
