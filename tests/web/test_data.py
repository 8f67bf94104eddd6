"""What the read routes answer, checked against the warehouse: pages, filters, sorting, shapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from moneytrail.errors import UserError
from moneytrail.web.queries.alerts import normalise_corridor
from tests.web.conftest import API, ApiWorld


@pytest.fixture(scope="module")
def wh(api_world: ApiWorld) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(api_world.warehouse), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    yield con
    con.close()


@pytest.fixture(scope="module")
def ana(clients: dict[str, TestClient]) -> TestClient:
    return clients["analyst"]


def get(c: TestClient, path: str, **params: Any) -> Any:
    r = c.get(API + path, params=params)
    assert r.status_code == 200, (path, params, r.text[:300])
    return r.json()


def test_alert_queue_is_the_flagged_subjects_riskiest_first(ana: TestClient, wh: duckdb.DuckDBPyConnection) -> None:
    flagged = wh.execute("SELECT count(*) FROM subject_scores WHERE flagged = 1").fetchone()[0]  # type: ignore[index]
    page = get(ana, "/alerts", page_size=20)
    assert page["total"] == flagged > 20
    scores = [a["score"] for a in page["items"]]
    assert scores == sorted(scores, reverse=True)
    top = page["items"][0]
    row = wh.execute("SELECT role, score, reasons FROM subject_scores WHERE subject_id = ?", [top["subject_id"]]).fetchone()
    assert row is not None and row[0] == top["role"] and row[1] == pytest.approx(top["score"])
    assert top["reasons"] == [r for r in row[2].split(";") if r]
    assert top["corridors"] and all(">" in c for c in top["corridors"]) and top["payments"] > 0


def test_alert_pages_partition_the_queue(ana: TestClient) -> None:
    everything = get(ana, "/alerts", page_size=500)["items"]
    pages = [get(ana, "/alerts", page_size=7, page=p)["items"] for p in (1, 2, 3)]
    ids = [a["subject_id"] for p in pages for a in p]
    assert len(ids) == len(set(ids)) == 21
    assert ids == [a["subject_id"] for a in everything[:21]]
    beyond = get(ana, "/alerts", page_size=50, page=1000)
    assert beyond["items"] == [] and beyond["total"] == len(everything)


def test_alert_filters(ana: TestClient) -> None:
    facs = get(ana, "/alerts", role="facilitator", page_size=500)
    assert facs["items"] and all(a["role"] == "facilitator" for a in facs["items"])
    high = get(ana, "/alerts", min_score=0.99, page_size=500)
    assert all(a["score"] >= 0.99 for a in high["items"])
    corridor = get(ana, "/alerts", page_size=1)["items"][0]["corridors"][0]
    same = get(ana, "/alerts", corridor=corridor.replace(">", "-").lower(), page_size=500)
    assert same["items"] and all(corridor in a["corridors"] for a in same["items"])
    web = get(ana, "/alerts", channel="web", page_size=500)
    assert all("web" in a["channels"] for a in web["items"])
    by_money = [a["total_usd"] for a in get(ana, "/alerts", sort="-total_usd", page_size=50)["items"]]
    assert by_money == sorted(by_money, reverse=True)
    with_case = get(ana, "/alerts", state="new", page_size=500)
    assert with_case["items"] and all(a["case"] and a["case"]["state"] == "new" for a in with_case["items"])
    without = get(ana, "/alerts", state="none", page_size=500)
    assert all(a["case"] is None for a in without["items"])
    assert with_case["total"] + without["total"] <= get(ana, "/alerts")["total"]
    assert ana.get(f"{API}/alerts", params={"sort": "name"}).status_code == 422


@given(st.sampled_from(["PH", "us", "Gb"]), st.sampled_from([">", "-", " ", "->"]), st.sampled_from(["TH", "co"]))
def test_corridor_notations_normalise_alike(a: str, sep: str, b: str) -> None:
    assert normalise_corridor(f"{a}{sep}{b}") == f"{a.upper()}>{b.upper()}"


@given(st.text(max_size=12))
def test_a_corridor_is_two_country_codes_or_a_clear_error(text: str) -> None:
    try:
        got = normalise_corridor(text)
    except UserError as exc:
        assert "corridor" in str(exc)
    else:
        a, b = got.split(">")
        assert len(a) == len(b) == 2 and a.isalpha() and b.isalpha() and a.isupper()


def test_subject_page(ana: TestClient, wh: duckdb.DuckDBPyConnection) -> None:
    sid = get(ana, "/alerts", role="consumer", page_size=1)["items"][0]["subject_id"]
    s = get(ana, f"/subjects/{sid}")
    assert s["subject_id"] == sid and s["flagged"] is True
    n_records = wh.execute(  # payment records: a linked referral subject is shown as a platform account
        "SELECT count(*) FROM subject_records JOIN parties USING (provider, record_id, party) WHERE subject_id = ?",
        [sid]).fetchone()[0]  # type: ignore[index]
    assert sum(g["records"] for g in s["records_by_provider"]) == n_records
    providers = {r[0] for r in wh.execute("SELECT DISTINCT provider FROM subject_records JOIN parties "
                                          "USING (provider, record_id, party) WHERE subject_id = ?", [sid]).fetchall()}
    assert {g["provider"] for g in s["records_by_provider"]} == providers
    assert {i["kind"] for i in s["identifiers"]} >= {"name", "account"}
    fired = {r[0] for r in wh.execute("SELECT indicator_id FROM subject_indicators WHERE subject_id = ?", [sid]).fetchall()}
    shown = {i["id"] for i in s["indicators"]}
    assert fired & shown and all(i["sources"] and i["cite"] for i in s["indicators"])
    assert s["monthly"] and sum(m["payments"] for m in s["monthly"]) > 0
    assert s["score_history"] and s["score_history"][-1]["score"] == pytest.approx(s["score"])
    assert s["cases"] and s["cases"][0]["ref"].startswith("C-")


def test_subject_transactions_and_timeline(ana: TestClient) -> None:
    sid = get(ana, "/alerts", role="consumer", page_size=1)["items"][0]["subject_id"]
    txs = get(ana, f"/subjects/{sid}/transactions", page_size=500)
    assert txs["total"] == len(txs["items"]) > 0
    times = [t["ts_utc"] for t in txs["items"]]
    assert times == sorted(times, reverse=True)
    for t in txs["items"]:
        end = t["sender"] if t["direction"] == "sent" else t["receiver"]
        assert end["subject_id"] == sid, t
    sent = get(ana, f"/subjects/{sid}/transactions", direction="sent", page_size=500)
    assert sent["total"] and all(t["direction"] == "sent" for t in sent["items"])
    mid = times[len(times) // 2]
    recent = get(ana, f"/subjects/{sid}/transactions", since=mid, page_size=500)
    assert 0 < recent["total"] < txs["total"] and all(t["ts_utc"] >= mid for t in recent["items"])
    tl = get(ana, f"/subjects/{sid}/timeline")
    at = [e["at"] for e in tl["events"]]
    assert at == sorted(at)
    assert sum(e["kind"] == "payment" for e in tl["events"]) == txs["total"]
    assert tl["truncated"] is False
    short = get(ana, f"/subjects/{sid}/timeline", limit=3)
    assert short["truncated"] is True and [e["at"] for e in short["events"]] == at[-3:]


def test_timeline_puts_sessions_beside_payments(ana: TestClient, wh: duckdb.DuckDBPyConnection) -> None:
    row = wh.execute("""SELECT l.subject_id FROM referral_links l JOIN referral_subjects s
                        ON s.provider = l.referral_provider AND s.record_id = l.referral_record_id
                        JOIN referral_sessions x ON x.provider = s.provider
                         AND s.record_id IN (x.from_record_id, x.to_record_id)
                        ORDER BY 1 LIMIT 1""").fetchone()
    assert row is not None
    tl = get(ana, f"/subjects/{row[0]}/timeline")
    kinds = {e["kind"] for e in tl["events"]}
    assert {"payment", "session"} <= kinds


def test_transactions_filters(ana: TestClient, wh: duckdb.DuckDBPyConnection) -> None:
    total = wh.execute("SELECT count(*) FROM transactions").fetchone()[0]  # type: ignore[index]
    assert get(ana, "/transactions", page_size=1)["total"] == total
    flagged = get(ana, "/transactions", flagged=True, sort="-score", page_size=100)
    n_flagged = wh.execute("SELECT count(*) FROM transaction_scores WHERE flagged = 1").fetchone()[0]  # type: ignore[index]
    assert flagged["total"] == n_flagged and all(t["flagged"] for t in flagged["items"])
    scores = [t["score"] for t in flagged["items"]]
    assert scores == sorted(scores, reverse=True)
    ph = get(ana, "/transactions", corridor="US>PH", min_amount=50, page_size=100)
    assert ph["items"] and all(t["sender_country"] == "US" and t["receiver_country"] == "PH"
                               and t["amount_usd"] >= 50 for t in ph["items"])
    window = get(ana, "/transactions", since="2025-03-01T00:00:00Z", until="2025-03-31T23:59:59Z", page_size=500)
    assert window["items"] and all("2025-03" in t["ts_utc"] for t in window["items"])


def test_network_neighbourhood(ana: TestClient) -> None:
    sid = get(ana, "/alerts", role="consumer", page_size=1)["items"][0]["subject_id"]
    net = get(ana, f"/network/{sid}", hops=2)
    ids = {n["id"] for n in net["nodes"]}
    assert sid in ids and next(n for n in net["nodes"] if n["seed"])["id"] == sid
    assert max(n["hop"] for n in net["nodes"]) <= 2 and len(ids) > 1
    assert all(e["source"] in ids and e["target"] in ids for e in net["edges"])
    one_hop = get(ana, f"/network/{sid}", hops=1)
    assert {n["id"] for n in one_hop["nodes"]} <= ids
    small = get(ana, f"/network/{sid}", hops=3, max_nodes=3)
    assert len(small["nodes"]) <= 3
    rich = get(ana, f"/network/{sid}", min_amount=100)
    assert all(e["total_usd"] >= 100 for e in rich["edges"])
    assert ana.get(f"{API}/network/{sid}", params={"hops": 9}).status_code == 422


def test_expand_from_a_subject(ana: TestClient) -> None:
    sid = get(ana, "/alerts", role="consumer", page_size=1)["items"][0]["subject_id"]
    got = get(ana, f"/network/expand/{sid}", top=10)
    assert got["seed_subjects"] == [sid]
    assert got["connected"] and [c["rank"] for c in got["connected"]] == list(range(1, len(got["connected"]) + 1))
    assert all(c["path"][0] == sid and c["path"][-1] == c["subject_id"] for c in got["connected"] if c["path"])
    assert ana.get(f"{API}/network/expand/nobody@nowhere.invalid").status_code == 404


def test_communities_places_corridors(ana: TestClient, wh: duckdb.DuckDBPyConnection) -> None:
    comms = get(ana, "/communities", page_size=500)
    assert comms["total"] == wh.execute("SELECT count(*) FROM community_summary").fetchone()[0]  # type: ignore[index]
    c = get(ana, f"/communities/{comms['items'][0]['community_id']}")
    assert len(c["member_list"]) == c["members"]
    places = get(ana, "/places", kind="city", page_size=500)
    assert places["items"] and all(p["kind"] == "city" for p in places["items"])
    cors = get(ana, "/corridors", flagged_only=True, page_size=500)
    assert cors["items"] and all(x["flagged_payments"] > 0 for x in cors["items"])
    us_ph = next(x for x in cors["items"] if x["sender_country"] == "US" and x["receiver_country"] == "PH")
    n = wh.execute("SELECT count(*) FROM transactions WHERE sender_country = 'US' AND receiver_country = 'PH'").fetchone()[0]  # type: ignore[index]
    assert us_ph["payments"] == n
    assert us_ph["receiver_lat"] == pytest.approx(12.9, abs=3) and us_ph["sender_lon"] < -60


def test_referrals_and_pivot(ana: TestClient) -> None:
    refs = get(ana, "/referrals", linked=True, page_size=500)
    assert refs["items"] and all(r["linked_subjects"] > 0 for r in refs["items"])
    detail = get(ana, f"/referrals/{refs['items'][0]['report_id']}")
    linked = [s for s in detail["subject_list"] if s["links"]]
    assert linked and detail["session_list"]
    account = linked[0]["account_id"]
    pv = get(ana, "/pivot", kind="account", value=f"{detail['platform']}:{account}")
    assert pv["referral_subjects"] and {s["subject_id"] for s in pv["subjects"]} >= {linked[0]["links"][0]["subject_id"]}
    assert ana.get(f"{API}/pivot", params={"kind": "phone", "value": "not a phone"}).status_code == 400


def test_runs_and_indicators(ana: TestClient, wh: duckdb.DuckDBPyConnection) -> None:
    run = get(ana, "/runs")["current"]
    assert run["transactions"] == wh.execute("SELECT count(*) FROM transactions").fetchone()[0]  # type: ignore[index]
    assert run["stage_seconds"] and run["files"]
    assert get(ana, "/runs")["synced"][0]["created"] > 0
    cat = get(ana, "/indicators")
    assert {i["id"] for i in cat} >= {"MT01", "MT20"} and all(i["sources"] for i in cat)


def test_trends(ana: TestClient) -> None:
    t = get(ana, "/trends", months=6)
    assert t["available"] and len(t["data"]["months"]) == 6
    assert {b["dimension"] for b in t["data"]["breakdown"]} >= {"corridor", "channel"}
