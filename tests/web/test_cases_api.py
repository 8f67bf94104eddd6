"""The case workflow through the API: list, read, move, assign, comment, attach, reports."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import API


@pytest.fixture(scope="module")
def ref(clients: dict[str, TestClient]) -> str:
    """A subject case of its own for this module, from the last page back (other modules use the
    first), whose subject has payments: a platform report alone can flag a subject with none."""
    sup = clients["supervisor"]
    total = sup.get(f"{API}/cases", params={"state": "new", "kind": "subject", "page_size": 1}).json()["total"]
    for page in range(total, 0, -1):
        case = sup.get(f"{API}/cases", params={"state": "new", "kind": "subject", "page_size": 1,
                                               "page": page}).json()["items"][0]
        sid = sup.get(f"{API}/cases/{case['ref']}").json()["subject_ids"][0]
        if sup.get(f"{API}/subjects/{sid}/transactions", params={"page_size": 1}).json()["items"]:
            return str(case["ref"])
    raise AssertionError("no subject case with payments")


def test_cases_list_filters_and_pages(clients: dict[str, TestClient]) -> None:
    ana = clients["analyst"]
    everything = ana.get(f"{API}/cases", params={"page_size": 500}).json()
    assert everything["total"] == len(everything["items"]) > 0
    scores = [c["score"] for c in everything["items"]]
    assert scores == sorted(scores, reverse=True)
    new = ana.get(f"{API}/cases", params={"state": "new", "page_size": 500}).json()
    assert all(c["state"] == "new" for c in new["items"])
    nets = ana.get(f"{API}/cases", params={"kind": "network", "page_size": 500}).json()
    assert all(c["kind"] == "network" for c in nets["items"])
    assert ana.get(f"{API}/cases", params={"state": "lost"}).status_code == 422


def test_the_workflow(clients: dict[str, TestClient], ref: str) -> None:
    ana, sup = clients["analyst"], clients["supervisor"]
    case = ana.get(f"{API}/cases/{ref}").json()
    assert case["state"] == "new" and "in_review" in case["next_states"] and "reported" not in case["next_states"]

    # the analyst takes it into review, with a note
    r = ana.post(f"{API}/cases/{ref}/state", json={"state": "in_review", "note": "looking at the corridor"})
    assert r.status_code == 200, r.text
    case = r.json()
    assert case["state"] == "in_review" and case["comments"][-1]["text"] == "looking at the corridor"

    # a move the workflow does not allow is a conflict, with the allowed ones named
    r = ana.post(f"{API}/cases/{ref}/state", json={"state": "reported"})
    assert r.status_code == 409 and "in_review" in r.json()["detail"]

    # only a supervisor assigns
    assert ana.post(f"{API}/cases/{ref}/assign", json={"username": "ana"}).status_code == 403
    r = sup.post(f"{API}/cases/{ref}/assign", json={"username": "ana"})
    assert r.status_code == 200 and r.json()["assignee"] == "ana"
    assert sup.post(f"{API}/cases/{ref}/assign", json={"username": "ghost"}).status_code == 404
    mine = ana.get(f"{API}/cases", params={"assignee": "me", "page_size": 500}).json()
    assert ref in {c["ref"] for c in mine["items"]}

    # evidence and comments
    sid = case["subject_ids"][0]
    tx = ana.get(f"{API}/subjects/{sid}/transactions", params={"page_size": 1}).json()["items"][0]
    r = ana.post(f"{API}/cases/{ref}/attachments",
                 json={"kind": "transaction", "ref": f"{tx['provider']}:{tx['record_id']}", "note": "first payment"})
    assert r.status_code == 200 and r.json()["attachments"][-1]["ref"] == f"{tx['provider']}:{tx['record_id']}"
    bad = ana.post(f"{API}/cases/{ref}/attachments", json={"kind": "transaction", "ref": "no-colon"})
    assert bad.status_code == 409
    r = ana.post(f"{API}/cases/{ref}/comments", json={"text": "sender pays three facilitators"})
    assert r.status_code == 200 and r.json()["comments"][-1]["author"] == "ana"
    assert ana.post(f"{API}/cases/{ref}/comments", json={"text": ""}).status_code == 422

    # escalate, then only the supervisor may report
    assert ana.post(f"{API}/cases/{ref}/state", json={"state": "escalated"}).status_code == 200
    assert "reported" not in ana.get(f"{API}/cases/{ref}").json()["next_states"]
    r = ana.post(f"{API}/cases/{ref}/state", json={"state": "reported"})
    assert r.status_code == 403
    assert "reported" in sup.get(f"{API}/cases/{ref}").json()["next_states"]
    assert sup.post(f"{API}/cases/{ref}/state", json={"state": "reported"}).status_code == 200

    # every change is in the case's history, newest first
    history = sup.get(f"{API}/cases/{ref}").json()["history"]
    actions = [h["action"] for h in history]
    assert actions.count("case.state") == 3 and "case.assign" in actions and "case.attach" in actions
    assert history == sorted(history, key=lambda h: h["id"], reverse=True)


def test_unknown_case_is_404(clients: dict[str, TestClient]) -> None:
    r = clients["analyst"].get(f"{API}/cases/C-999999")
    assert r.status_code == 404 and "C-999999" in r.json()["detail"]


def test_goaml_download_and_case_report(clients: dict[str, TestClient]) -> None:
    ana = clients["analyst"]
    ref = ana.get(f"{API}/cases", params={"kind": "subject", "page_size": 1}).json()["items"][0]["ref"]
    r = ana.get(f"{API}/cases/{ref}/report/goaml")
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("application/xml")
    assert f'filename="{ref}-goaml.xml"' in r.headers["content-disposition"]
    assert r.content.startswith(b"<?xml") and b"<report" in r.content
    html = ana.get(f"{API}/cases/{ref}/report/case")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert ref in html.text
    actions = {e["action"] for e in clients["supervisor"].get(
        f"{API}/audit", params={"target": f"case:{ref}", "page_size": 100}).json()["items"]}
    assert {"report.goaml", "report.case"} <= actions
