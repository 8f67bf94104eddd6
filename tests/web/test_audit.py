"""Every read of personal data leaves an audit entry naming who read what; the chain stays valid."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import API


def _entries(sup: TestClient, **params: str) -> list[dict]:  # type: ignore[type-arg]
    r = sup.get(f"{API}/audit", params={"page_size": 500, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def test_personal_data_reads_are_audited(clients: dict[str, TestClient]) -> None:
    ana, sup = clients["analyst"], clients["supervisor"]
    alerts = ana.get(f"{API}/alerts", params={"page_size": 3}).json()["items"]
    sid = alerts[0]["subject_id"]
    report = ana.get(f"{API}/referrals", params={"page_size": 1}).json()["items"][0]["report_id"]
    reads = {
        f"{API}/subjects/{sid}": ("subject.read", f"subject:{sid}"),
        f"{API}/subjects/{sid}/transactions": ("subject.transactions", f"subject:{sid}"),
        f"{API}/subjects/{sid}/timeline": ("subject.timeline", f"subject:{sid}"),
        f"{API}/network/{sid}": ("network.read", f"subject:{sid}"),
        f"{API}/network/expand/{sid}?top=5": ("network.expand", f"seed:{sid}"),
        f"{API}/transactions?subject_id={sid}&page_size=5": ("transactions.read", f"subject:{sid}"),
        f"{API}/referrals/{report}": ("referral.read", f"referral:{report}"),
        f"{API}/pivot?kind=email&value=nobody@example.org": ("pivot.read", "email:nobody@example.org"),
    }
    for url, (action, target) in reads.items():
        before = len(_entries(sup, target=target, action=action))
        assert ana.get(url).status_code == 200, url
        got = _entries(sup, target=target, action=action)
        assert len(got) == before + 1, (url, action)
        assert got[0]["actor"] == "ana"
    # the queue records which subjects were shown
    shown = _entries(sup, action="alerts.read", actor="ana")[0]
    assert shown["details"]["subjects"]


def test_shared_aggregates_are_not_audited_as_personal_reads(clients: dict[str, TestClient]) -> None:
    lia, sup = clients["liaison"], clients["supervisor"]
    before = {e["id"] for e in _entries(sup, actor="lia")}
    for url in ("/corridors", "/places", "/communities", "/runs", "/trends"):
        assert lia.get(API + url).status_code == 200, url
    after = _entries(sup, actor="lia")
    assert not [e for e in after if e["id"] not in before]


def test_audit_chain_verifies(clients: dict[str, TestClient]) -> None:
    got = clients["supervisor"].get(f"{API}/audit/verify").json()
    assert got["ok"] and got["entries"] > 0 and got["problems"] == []


def test_audit_is_paged_newest_first(clients: dict[str, TestClient]) -> None:
    sup = clients["supervisor"]
    p1 = sup.get(f"{API}/audit", params={"page_size": 2}).json()
    p2 = sup.get(f"{API}/audit", params={"page_size": 2, "page": 2}).json()
    assert p1["total"] == p2["total"] >= 4
    ids = [e["id"] for e in p1["items"] + p2["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4


def test_concurrent_audited_reads_all_succeed_on_sqlite(clients: dict[str, TestClient]) -> None:
    """Parallel requests each append an audit entry; SQLite must not refuse the later ones."""
    from concurrent.futures import ThreadPoolExecutor

    ana, sup = clients["analyst"], clients["supervisor"]
    ids = [a["subject_id"] for a in ana.get(f"{API}/alerts", params={"page_size": 12}).json()["items"]]
    workers = [TestClient(ana.app, cookies=ana.cookies) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda i: workers[i % 4].get(f"{API}/network/{ids[i]}").status_code, range(len(ids))))
    assert codes == [200] * len(ids)
    assert sup.get(f"{API}/audit/verify").json()["ok"]
