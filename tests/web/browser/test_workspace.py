"""The workspace in Debian's Chromium: what an analyst, a supervisor and a liaison officer
do and see. Each page is also photographed (to /tmp/ui-shots, or $MONEYTRAIL_UI_SHOTS)
for a person to look at."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser.conftest import SHOTS, Session

pytestmark = pytest.mark.slow

SignIn = Callable[[str], Session]


def ready(s: Session, timeout: float = 15_000) -> None:
    s.page.wait_for_selector("body[data-ready]", state="attached", timeout=timeout)


def queue_rows(s: Session) -> list[dict[str, Any]]:
    return list(s.page.eval_on_selector_all(
        "#queue tbody tr[data-subject]",
        """rows => rows.map(r => ({
            subject: r.dataset.subject,
            role: r.cells[2].textContent.trim(),
            score: parseFloat(r.cells[3].textContent),
            selected: r.classList.contains('selected'),
        }))""",
    ))


def api(s: Session, path: str) -> Any:
    response = s.page.request.get(f"{s.base_url}/api/v1{path}")
    assert response.ok, f"{path}: {response.status} {response.text()}"
    return response.json()


def test_a_wrong_password_keeps_the_user_on_the_login_page(browser: Any, base_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(base_url + "/")
    assert "/login?next=" in page.url  # no session: the queue sends the browser to sign in
    page.fill("#username", "ana")
    page.fill("#password", "not the password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:not([hidden])")
    assert "Wrong username or password" in page.inner_text("#login-error")
    assert "/login" in page.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "login-wrong-password.png"))
    context.close()


def test_analyst_opens_the_top_alert_and_its_network(signed_in: SignIn) -> None:
    s = signed_in("ana")
    assert s.page.url.rstrip("/") == s.base_url  # an analyst lands on the queue
    ready(s)
    rows = queue_rows(s)
    assert len(rows) >= 5
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)  # riskiest first
    assert rows[0]["selected"]

    # keyboard: down twice, up once, Enter opens the second row
    for key in ("j", "j", "k"):
        s.page.keyboard.press(key)
    assert [r["selected"] for r in queue_rows(s)][:3] == [False, True, False]
    s.page.keyboard.press("k")
    s.page.keyboard.press("Enter")
    top = rows[0]["subject"]
    s.page.wait_for_url(f"**/subjects/{top}")
    ready(s)
    assert s.page.inner_text("#s-id") == top
    indicators = s.page.locator("#s-indicators table tbody tr")
    assert indicators.count() >= 1  # a flagged subject has indicators, each with sources
    assert s.page.locator("#s-indicators ul.sources li").count() >= 1

    s.page.click("#to-network")
    s.page.wait_for_url(f"**/network?subject={top}")
    s.page.wait_for_selector("body[data-network-rendered]", state="attached", timeout=20_000)
    drawn = s.page.evaluate("window.mtNetworkRendered")
    assert drawn["nodes"] >= 2 and drawn["edges"] >= 1
    assert s.page.evaluate(f"window.mtCy.getElementById('{top}').data('seed')") is True

    # click the farthest subject: its path from the seed is highlighted and described
    far = s.page.evaluate("""() => {
        const n = window.mtCy.nodes().not('[?seed]').max(n => n.data('hop')).ele;
        const p = n.renderedPosition(), box = document.querySelector('#cy').getBoundingClientRect();
        return {id: n.id(), hop: n.data('hop'), x: box.left + p.x, y: box.top + p.y};
    }""")
    s.page.mouse.click(far["x"], far["y"])
    s.page.wait_for_selector("#n-detail h2")
    assert s.page.inner_text("#n-detail h2") == far["id"]
    path_nodes = s.page.evaluate("window.mtCy.nodes('.path').map(n => n.id())")
    assert top in path_nodes and far["id"] in path_nodes
    assert len(path_nodes) >= far["hop"] + 1

    # a minimum amount no link reaches hides everything but the seed
    before = s.page.evaluate("window.mtCy.nodes().not('.filtered').length")
    s.page.fill("#n-filter input[name=min_amount]", "1000000000")
    s.page.wait_for_function("window.mtCy.nodes().not('.filtered').length === 1")
    assert before > 1
    assert "1 of" in s.page.inner_text("#n-visible")
    s.page.fill("#n-filter input[name=min_amount]", "0")
    s.page.wait_for_function(f"window.mtCy.nodes().not('.filtered').length === {before}")

    # expand: the farthest subject's own neighbours join the graph
    s.page.click("#n-expand")
    s.page.wait_for_function("document.querySelector('#n-summary').textContent.includes('expanded')")
    assert s.page.evaluate("window.mtCy.nodes().length") >= drawn["nodes"]
    assert not s.errors, s.errors


def test_analyst_moves_a_case_comments_and_downloads_its_goaml_report(signed_in: SignIn) -> None:
    s = signed_in("ana")
    s.goto("/cases")
    ready(s)
    first = s.page.locator("#cases tbody tr[data-ref]").first
    ref = first.get_attribute("data-ref")
    first.locator("a").click()
    s.page.wait_for_url(f"**/cases/{ref}")
    ready(s)
    before = api(s, f"/cases/{ref}")
    options = s.page.eval_on_selector_all("#state-select option", "os => os.map(o => o.value)")
    assert options == before["next_states"] and options
    target = s.page.input_value("#state-select")  # the page offers a move forward first
    assert target != "new"
    s.page.select_option("#state-select", target)
    s.page.click("#state-form button[type=submit]")
    s.page.wait_for_selector(f"#case[data-state='{target}']")
    assert api(s, f"/cases/{ref}")["state"] == target
    assert target.replace("_", " ") in s.page.inner_text("#c-badges")

    s.page.fill("#comment-form textarea", "Checked the payout agent; escalating tomorrow.")
    s.page.click("#comment-form button[type=submit]")
    s.page.wait_for_selector("#c-comments >> text=Checked the payout agent")
    assert s.page.locator("#c-history li").count() >= 2  # the move and the comment are in the history

    with s.page.expect_download(timeout=30_000) as info:
        s.page.click("#goaml")
    download = info.value
    assert download.suggested_filename == f"{ref}-goaml.xml"
    xml = Path(download.path()).read_bytes()
    root = ET.fromstring(xml)
    assert root.tag.split("}")[-1] == "report"

    with s.page.context.expect_page() as popup:
        s.page.click("#case-report")
    report = popup.value
    report.wait_for_load_state()
    assert ref in report.title()
    assert not s.errors, s.errors


def test_only_a_supervisor_is_offered_assignment(signed_in: SignIn) -> None:
    ana = signed_in("ana")
    ana.goto("/cases")
    ready(ana)
    ref = ana.page.locator("#cases tbody tr[data-ref]").nth(1).get_attribute("data-ref")
    ana.goto(f"/cases/{ref}")
    ready(ana)
    assert ana.page.locator("#assign-form").is_hidden()

    sam = signed_in("sam")
    sam.goto(f"/cases/{ref}")
    ready(sam)
    sam.page.fill("#assign-form input[name=username]", "ana")
    sam.page.click("#assign-form button[type=submit]")
    sam.page.wait_for_selector("#c-facts dd >> text=ana")
    assert api(sam, f"/cases/{ref}")["assignee"] == "ana"


def test_queue_filters_by_role_and_sorts_by_a_column(signed_in: SignIn) -> None:
    s = signed_in("ana")
    ready(s)
    s.page.select_option("#filters select[name=role]", "facilitator")
    s.page.wait_for_selector("body[data-queue-query*='role=facilitator']", state="attached")
    rows = queue_rows(s)
    assert rows and {r["role"] for r in rows} == {"facilitator"}

    s.page.click("#queue th[data-sort=score]")  # second click on the sorted column: lowest first
    s.page.wait_for_selector("body[data-queue-query*='sort=score']", state="attached")
    scores = [r["score"] for r in queue_rows(s)]
    assert scores == sorted(scores)
    s.page.keyboard.press("/")
    assert s.page.evaluate("document.activeElement.id") == "f-q"


def test_a_liaison_officer_sees_only_shared_views(signed_in: SignIn, ui_world: Any) -> None:
    s = signed_in("liam")
    s.page.wait_for_url("**/corridors")
    ready(s)
    nav = s.page.eval_on_selector_all("#nav a", "as => as.map(a => a.textContent.trim())")
    assert nav == ["Corridors & places", "Trends"]
    assert s.page.locator("#p-table tbody tr").count() >= 1
    assert s.page.locator("#p-table a[href^='/subjects/']").count() == 0
    assert "not shared" in s.page.inner_text("#p-table")
    s.shot("liaison-corridors")

    subject = api(signed_in("ana"), "/alerts?page_size=1")["items"][0]["subject_id"]
    s.api_calls.clear()
    for path in (f"/subjects/{subject}", f"/network?subject={subject}", "/cases", f"/subjects/{subject}/timeline"):
        response = s.goto(path)
        assert response.status == 403, path
        assert s.page.locator("#forbidden").is_visible()
    s.shot("liaison-forbidden")
    s.goto("/")
    assert s.page.url.endswith("/corridors")  # the queue is not for this role: sent home
    ready(s)
    personal = [u for u in s.api_calls if any(p in u for p in ("/subjects", "/alerts", "/network", "/cases"))]
    assert personal == []
    # the browser logs each refused page (403) as a failed load; nothing else may go wrong
    assert [e for e in s.errors if "403 (Forbidden)" not in e] == []


def test_every_page_draws_without_errors(signed_in: SignIn) -> None:
    """Each page as the analyst sees it, photographed for a person to look at."""
    s = signed_in("ana")
    alerts = api(s, "/alerts?page_size=50")["items"]
    top = alerts[0]
    with_sessions = next((a["subject_id"] for a in alerts
                          if any(e["kind"] == "session" for e in api(s, f"/subjects/{a['subject_id']}/timeline")["events"])),
                         top["subject_id"])
    community = api(s, "/communities?page_size=1")["items"][0]["community_id"]
    case = api(s, "/cases?page_size=1")["items"][0]["ref"]
    pages = {
        "queue": "/",
        "subject": f"/subjects/{top['subject_id']}",
        "timeline": f"/subjects/{with_sessions}/timeline",
        "network": f"/network?subject={top['subject_id']}",
        "community": f"/network?community={community}",
        "corridors": "/corridors",
        "cases": "/cases",
        "case": f"/cases/{case}",
        "trends": "/trends",
    }
    for name, path in pages.items():
        response = s.goto(path)
        assert response.status == 200, path
        ready(s)
        if name in ("network", "community"):
            s.page.wait_for_selector("body[data-network-rendered]", state="attached")
        assert s.page.locator("#flash").is_hidden(), f"{path}: {s.page.inner_text('#flash')}"
        assert s.shot(name).stat().st_size > 10_000
    assert not s.errors, s.errors
    # offline: every script, style, map and font came from this server
    outside = [u for u in s.requests if not u.startswith((s.base_url, "data:", "blob:"))]
    assert outside == []
    assert any(u.endswith("/static/vendor/world-110m.geojson") for u in s.requests)
