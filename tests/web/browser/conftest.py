"""The browser tests' world: one scored synthetic world with users and cases, the web
application on a free local port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser.harness import (
    PASSWORD,
    World,
    build_world,
    ensure_chromium,
    ensure_vendor,
    launch,
    make_app,
    serve,
)

SHOTS = Path(os.environ.get("MONEYTRAIL_UI_SHOTS", "/tmp/ui-shots"))


@pytest.fixture(scope="session")
def ui_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("ui-world"), scale=0.2, seed=7)


@pytest.fixture(scope="session")
def base_url(ui_world: World) -> Iterator[str]:
    ensure_vendor()
    with serve(make_app(ui_world)) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ensure_chromium()
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


class Session:
    """One signed-in browser tab, with the page errors and API calls it saw."""

    def __init__(self, page: Any, base_url: str):
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        self.api_calls: list[str] = []
        self.requests: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        page.on("request", self._request)

    def _request(self, request: Any) -> None:
        self.requests.append(request.url)
        if "/api/v1/" in request.url:
            self.api_calls.append(request.url)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def signed_in(browser: Any, base_url: str) -> Iterator[Callable[[str], Session]]:
    """`signed_in("ana")`: a fresh browser context, signed in through the login form."""
    contexts: list[Any] = []

    def open_as(username: str) -> Session:
        context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
        contexts.append(context)
        s = Session(context.new_page(), base_url)
        s.goto("/login")
        s.page.fill("#username", username)
        s.page.fill("#password", PASSWORD)
        s.page.click("#login-form button[type=submit]")
        s.page.wait_for_url(lambda url: "/login" not in url)
        return s

    yield open_as
    for context in contexts:
        context.close()
