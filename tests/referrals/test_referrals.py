"""Referral linking, time alignment and pivots on one small hand-made world.

The world is ingested through the real ingestion in two bundles (the second
brings the payments of a referral that matched nothing), resolved, and the
referral stage run after each. Entity resolution is the slow part, so the
world is built once per session; the window-edge tests rerun only the
referral stage with other settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from moneytrail.referrals import ReferralSettings, pivot, run_referrals, unmatched
from moneytrail.store import Warehouse

from .helpers import Bundle, build, links, subject


def first_bundle() -> Bundle:
    b = Bundle()
    # A: email (payer) and phone (payee) through resolve; another consumer of the same facilitator
    b.transfer(transfer_id="A1", created_at="2026-03-01T02:00:00Z", sender_name="John Smith",
               sender_email="js@example.com", receiver_name="Maria Santos",
               receiver_phone="+63 917 555 0101", receiver_city="Angeles", payout_method="cash",
               payout_agent_id="AG-PH-0001", paid_out_at="2026-03-01T06:00:00Z")
    b.transfer(transfer_id="A2", created_at="2026-03-03T02:00:00Z", sender_name="Tom Other",
               sender_email="tom@example.com", sender_country="GB", receiver_name="Maria Santos",
               receiver_phone="09175550101", receiver_city="Angeles", payout_method="cash",
               payout_agent_id="AG-PH-0001")
    b.referral(report_id="R1", subjects=[
        subject("R1", "s1", role="suspect_viewer", display_name="John Smith", emails=["JS@Example.com"]),
        subject("R1", "s2", role="suspect_facilitator", display_name="Maria", phones=["+63 917 555 0101"]),
    ], sessions=[{"from": "s1", "to": "s2", "kind": "video_call", "start": "2026-03-01T02:20:00Z",
                  "end": "2026-03-01T02:40:00Z"}])
    # B: name with date of birth through resolve
    b.transfer(transfer_id="B1", created_at="2026-03-05T02:00:00Z", sender_name="Peter Brown",
               sender_dob="1970-01-02", sender_country="GB", receiver_name="Ana Cruz")
    b.referral(report_id="R2", subjects=[
        subject("R2", "s1", display_name="Peter Brown", dob="1970-01-02", country="GB")])
    # C: IP at a wallet's web payment, just inside (23:59:59) and just outside (24:00:01)
    b.wallet_payment(txn_id="C1", timestamp="2026-03-10T10:00:00Z", payer_account_id="w-ag",
                     payer_name="Alan Grey", payee_account_id="w-lg", payee_name="Liza Go",
                     ip_address="203.0.113.7", device_id="dev-ag")
    b.wallet_payment(txn_id="C2", timestamp="2026-03-10T10:00:00Z", payer_account_id="w-bf",
                     payer_name="Ben Far", payee_account_id="w-lg2", payee_name="Lina Gomez",
                     ip_address="203.0.113.50", device_id="dev-bf")
    b.referral(report_id="R3", subjects=[subject("R3", "s1", ip_events=[
        {"ip": "203.0.113.7", "at": "2026-03-11T09:59:59Z", "event": "login"}])])
    b.referral(report_id="R4", subjects=[subject("R4", "s1", ip_events=[
        {"ip": "203.0.113.50", "at": "2026-03-11T10:00:01Z", "event": "login"}])])
    # D: a shared IP (four people, a cybercafé); one personal device near one event
    for i, (day, dev) in enumerate([("01", "dev-c1"), ("05", "dev-c2"), ("10", ""), ("15", "dev-c4")]):
        b.wallet_payment(txn_id=f"D{i}", timestamp=f"2026-03-{day}T10:00:00Z", payer_account_id=f"w-c{i}",
                         payer_name=["Carl Dean", "Dora Vale", "Eli Moss", "Fay Lund"][i],
                         payee_account_id=f"w-x{i}", payee_name=f"Shop {i}",
                         ip_address="198.51.100.9", device_id=dev)
    b.referral(report_id="R5", subjects=[subject("R5", "s1", ip_events=[
        {"ip": "198.51.100.9", "at": "2026-03-05T12:00:00Z", "event": "login"}])])
    b.referral(report_id="R6", subjects=[subject("R6", "s1", ip_events=[
        {"ip": "198.51.100.9", "at": "2026-03-10T11:00:00Z", "event": "login"}])])
    # E: matches nothing yet
    b.referral(report_id="R8", subjects=[subject("R8", "s1", display_name="Luke",
                                                 emails=["late@example.com"])])
    # F, G: window edges both orders, and login times
    b.transfer(transfer_id="F1", created_at="2026-04-01T12:00:00Z", sender_name="Paul Payer",
               sender_email="paul@example.com", receiver_name="Rita Recv",
               receiver_phone="+63 918 000 0001", receiver_city="Cebu City")
    b.transfer(transfer_id="F2", created_at="2026-04-02T20:00:00Z", sender_name="Paul Payer",
               sender_email="paul@example.com", receiver_name="Zed Else", receiver_phone="+63 918 000 0099")
    b.referral(report_id="R9", subjects=[
        subject("R9", "s1", display_name="Paul", emails=["paul@example.com"],
                ip_events=[{"ip": "192.0.2.77", "at": "2026-03-28T12:30:00Z", "event": "login"}]),
        subject("R9", "s2", display_name="Rita", phones=["+63 918 000 0001"]),
    ], sessions=[
        {"from": "s2", "to": "s1", "kind": "video_call", "start": "2026-04-01T15:00:00Z"},  # +180 min
        {"from": "s1", "to": "s2", "kind": "video_call", "start": "2026-04-01T15:01:00Z"},  # +181 min
        {"from": "s1", "to": "s2", "kind": "chat", "start": "2026-04-01T09:00:00Z"},  # -180 min
        {"from": "s1", "to": "s2", "kind": "chat", "start": "2026-04-01T08:59:00Z"},  # -181 min
    ])
    # H: a viewer known only by a first name and a throw-away email, who pays the
    # facilitator (linked by phone) minutes before both calls; another man pays her too
    for tid, day, name, email in (("H1", "05", "Gary Hart", "gh@example.com"),
                                  ("H2", "12", "Gary Hart", "gh@example.com"),
                                  ("H3", "05", "Hugo Stein", "hs@example.com")):
        b.transfer(transfer_id=tid, created_at=f"2026-05-{day}T01:50:00Z", sender_name=name,
                   sender_email=email, sender_country="US", receiver_name="Nora Lim",
                   receiver_phone="+63 919 000 0042", receiver_city="Davao City")
    b.referral(report_id="R10", subjects=[
        subject("R10", "s1", role="suspect_viewer", display_name="gary", emails=["burner@example.net"]),
        subject("R10", "s2", role="suspect_facilitator", display_name="Nora", phones=["+63 919 000 0042"]),
    ], sessions=[{"from": "s1", "to": "s2", "kind": "video_call", "start": "2026-05-05T02:00:00Z"},
                 {"from": "s1", "to": "s2", "kind": "video_call", "start": "2026-05-12T02:05:00Z"}])
    # N: a viewer whose account gives no name, only a country (DE); a German pays the
    # facilitator 12 minutes before the call, an American too: only the German is his country's
    for tid, name, email, country, phone in (
            ("N1", "B SCHMIDT", "bs@example.de", "DE", "+49 170 0000001"),
            ("N2", "Carl Young", "cy@example.com", "US", "+1 202 555 0142")):
        b.transfer(transfer_id=tid, created_at="2026-06-03T11:41:00Z", sender_name=name,
                   sender_email=email, sender_country=country, sender_phone=phone,
                   receiver_name="Lorena Evangelista", receiver_phone="+63 917 000 0077",
                   receiver_city="Cebu City")
    b.referral(report_id="R11", subjects=[
        subject("R11", "s1", role="suspect_viewer", country="DE"),
        subject("R11", "s2", role="suspect_facilitator", display_name="Lorena Evangelista",
                phones=["+63 917 000 0077"]),
    ], sessions=[{"from": "s1", "to": "s2", "kind": "video_call", "start": "2026-06-03T11:53:00Z"}])
    # S: resolution split both ends: the viewer (linked by email) also pays by another channel as
    # "K WALSH", to the facilitator (linked by phone) under a fuller name with another phone,
    # 15 minutes before a call; "Mary Walsh" pays that name too, but is not named like the viewer
    b.transfer(transfer_id="S1", created_at="2026-07-01T03:00:00Z", sender_name="Keith Walsh",
               sender_email="kw@example.com", sender_country="US", receiver_name="Allan Domingo",
               receiver_phone="+63 917 000 0311", receiver_city="Cebu City")
    for tid, name, email in (("S2", "K WALSH", "k.w.1954@example.net"), ("S3", "Mary Walsh", "mw@example.net")):
        b.transfer(transfer_id=tid, created_at="2026-07-08T03:00:00Z", sender_name=name, sender_email=email,
                   sender_country="US", receiver_name="Allan Aquino Domingo",
                   receiver_phone="+63 918 000 0422", receiver_city="Lapu-Lapu City")
    b.referral(report_id="R12", subjects=[
        subject("R12", "s1", role="suspect_viewer", display_name="Keith Walsh", emails=["kw@example.com"]),
        subject("R12", "s2", role="suspect_facilitator", display_name="Allan A. Domingo",
                phones=["+63 917 000 0311"]),
    ], sessions=[{"from": "s1", "to": "s2", "kind": "video_call", "start": "2026-07-08T03:15:00Z"}])
    return b


def second_bundle() -> Bundle:
    b = Bundle()
    b.transfer("remitnew", transfer_id="E1", created_at="2026-04-10T02:00:00Z", sender_name="Luke Cole",
               sender_email="late@example.com", receiver_name="Maria Santos",
               receiver_phone="+639175550101", receiver_city="Angeles", payout_agent_id="AG-PH-0002")
    return b


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("referrals")
    wh = Warehouse(root / "w.duckdb")
    build(wh, first_bundle(), root / "b1")
    before = {
        "links": links(wh.con),
        "unmatched": {r["record_id"] for r in unmatched(wh.con)},
        "evidence": dict(wh.con.execute(
            "SELECT referral_record_id || '/' || via, evidence FROM referral_links").fetchall()),
        "aligned": wh.con.execute("SELECT * FROM aligned_payments ORDER BY ALL").fetchall(),
        "features": {
            (r[0], r[1]): r[2:]
            for r in wh.con.execute("SELECT * FROM referral_txn_features").fetchall()
        },
    }
    build(wh, second_bundle(), root / "b2")
    yield {"con": wh.con, "before": before, "store": root / "w.duckdb", "wh": wh}
    wh.close()


def con_of(world: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    con: duckdb.DuckDBPyConnection = world["con"]
    return con


# --- linking paths ---------------------------------------------------------


def test_email_and_phone_link_through_resolve(world: dict[str, Any]) -> None:
    lk = world["before"]["links"]
    assert lk[("R1#s1", "resolve")] == {"John Smith"}
    assert lk[("R1#s2", "resolve")] == {"Maria Santos"}
    ev = dict(con_of(world).execute(
        "SELECT referral_record_id, evidence FROM referral_links WHERE via = 'resolve'").fetchall())
    assert "email=js@example.com" in ev["R1#s1"]
    assert "phone=+639175550101" in ev["R1#s2"]


def test_name_and_dob_link_through_resolve(world: dict[str, Any]) -> None:
    assert world["before"]["links"][("R2#s1", "resolve")] == {"Peter Brown"}
    assert world["before"]["evidence"]["R2#s1/resolve"] == "name+dob=peter brown 1970-01-02"


def test_ip_link_inside_window(world: dict[str, Any]) -> None:
    lk = world["before"]["links"]
    assert lk[("R3#s1", "ip")] == {"Alan Grey"}
    ev = con_of(world).execute(
        "SELECT evidence FROM referral_links WHERE referral_record_id = 'R3#s1'").fetchall()[0][0]
    assert "ip 203.0.113.7" in ev and "paywave:C1" in ev and "personal" not in ev


def test_ip_window_edges(world: dict[str, Any], tmp_path: Path) -> None:
    con = con_of(world)
    # without the personal-IP extension: 23:59:59 links, 24:00:01 does not
    run_referrals(con, ReferralSettings(personal_ip_window_days=0))
    strict = links(con)
    assert strict[("R3#s1", "ip")] == {"Alan Grey"}
    assert not any(k[0] == "R4#s1" for k in strict)
    # a 2-hour window drops both
    run_referrals(con, ReferralSettings(ip_window_hours=2, personal_ip_window_days=0))
    assert not any(k[0] in ("R3#s1", "R4#s1") for k in links(con))
    # by default, the personal IP (one payment subject ever) links beyond the window
    run_referrals(con)
    lk = links(con)
    assert lk[("R4#s1", "ip")] == {"Ben Far"}
    ev = con.execute("SELECT evidence FROM referral_links WHERE referral_record_id = 'R4#s1'").fetchall()
    assert "personal ip" in ev[0][0]


def test_shared_ip_links_nothing_but_a_personal_device_does(world: dict[str, Any]) -> None:
    con = con_of(world)
    shared = con.execute("SELECT kind, value, n_subjects FROM referral_shared_ips").fetchall()
    assert ("ip", "198.51.100.9", 4) in shared
    lk = world["before"]["links"]
    # R5: the shared IP, and within the window one device, used by one person only
    assert lk[("R5#s1", "device")] == {"Dora Vale"}
    assert ("R5#s1", "ip") not in lk
    # R6: the shared IP, and the payment in the window carries no device
    assert not any(k[0] == "R6#s1" for k in lk)
    assert "R6#s1" in world["before"]["unmatched"]
    # a looser guard lets the IP link
    run_referrals(con, ReferralSettings(max_subjects_per_ip=4))
    assert links(con)[("R6#s1", "ip")] == {"Eli Moss"}
    run_referrals(con)


def test_a_viewer_known_only_by_his_sessions_links_to_the_man_who_pays_before_each(
    world: dict[str, Any],
) -> None:
    got = world["before"]["links"]
    assert got[("R10#s1", "session")] == {"Gary Hart"}  # not Hugo, whose name is not the viewer's
    assert not any(rec == "R10#s1" and via != "session" for rec, via in got)
    evidence = world["before"]["evidence"]["R10#s1/session"]
    assert "2 session(s)" in evidence and "10 min" in evidence
    aligned = {(r[1], r[4]) for r in world["before"]["aligned"] if r[3] == "R10"}
    assert aligned == {("H1", 0), ("H2", 1)}


def test_a_nameless_viewer_links_to_the_one_payer_from_his_country(world: dict[str, Any]) -> None:
    got = world["before"]["links"]
    assert got[("R11#s1", "session")] == {"B SCHMIDT"}  # not Carl Young, from another country
    assert "account that gives no name" in world["before"]["evidence"]["R11#s1/session"]
    aligned = {(r[1], r[4], r[5]) for r in world["before"]["aligned"] if r[3] == "R11"}
    assert aligned == {("N1", 0, "payment_first")}


def test_a_payment_between_fragments_of_both_ends_is_aligned(world: dict[str, Any]) -> None:
    con = con_of(world)
    split = con.execute(
        """SELECT count(DISTINCT sr.subject_id) FROM subject_records sr
           WHERE sr.record_id IN ('S1', 'S2') AND sr.party = 'sender'"""
    ).fetchall()
    assert split == [(2,)]  # the situation under test: resolution kept "K WALSH" apart
    assert world["before"]["links"][("R12#s1", "resolve")] == {"Keith Walsh"}
    aligned = {(r[1], r[4], r[5]) for r in world["before"]["aligned"] if r[3] == "R12"}
    assert aligned == {("S2", 0, "payment_first")}  # not Mary Walsh's S3


def test_unmatched_kept_then_linked_by_a_later_bundle(world: dict[str, Any]) -> None:
    assert "R8#s1" in world["before"]["unmatched"]
    assert not any(k[0] == "R8#s1" for k in world["before"]["links"])
    con = con_of(world)
    assert links(con)[("R8#s1", "resolve")] == {"Luke Cole"}
    now = {r["record_id"] for r in unmatched(con)}
    assert "R8#s1" not in now and "R6#s1" in now
    # the referral itself was never dropped
    assert con.execute("SELECT count(*) FROM referral_subjects WHERE record_id = 'R8#s1'").fetchall() == [(1,)]


# --- time alignment --------------------------------------------------------


def test_alignment_window_edges_both_orders(world: dict[str, Any]) -> None:
    rows = con_of(world).execute(
        """SELECT provider, record_id, report_id, session_seq, "order", gap_minutes
           FROM aligned_payments WHERE report_id = 'R9' ORDER BY session_seq"""
    ).fetchall()
    assert rows == [
        ("remitco", "F1", "R9", 0, "payment_first", 180.0),  # session by the payee, +180 min
        ("remitco", "F1", "R9", 2, "session_first", 180.0),  # -180 min
    ]


def test_alignment_payment_minutes_before_call(world: dict[str, Any]) -> None:
    rows = world["before"]["aligned"]
    assert ("remitco", "A1", "vidchat", "R1", 0, "payment_first", 20.0) in rows
    # Tom paid the same facilitator but has no platform account: nothing aligned
    assert not any(r[1] == "A2" for r in rows)


def test_alignment_window_is_configurable(world: dict[str, Any]) -> None:
    con = con_of(world)
    run_referrals(con, ReferralSettings(align_window_minutes=182))
    seqs = {r[0] for r in con.execute(
        "SELECT session_seq FROM aligned_payments WHERE report_id = 'R9'").fetchall()}
    assert seqs == {0, 1, 2, 3}
    run_referrals(con, ReferralSettings(align_window_minutes=10))
    assert con.execute("SELECT count(*) FROM aligned_payments WHERE report_id = 'R9'").fetchall() == [(0,)]
    run_referrals(con)


def test_txn_features(world: dict[str, Any]) -> None:
    feats = {
        (r[0], r[1]): r[2:]
        for r in con_of(world).execute("SELECT * FROM referral_txn_features").fetchall()
    }
    # aligned_session, login_time_match, referral_linked_sender, referral_linked_receiver
    assert feats[("remitco", "A1")] == (1, 0, 1, 1)
    assert feats[("remitco", "A2")] == (0, 0, 0, 1)  # another consumer paying a referred facilitator
    assert feats[("remitco", "F1")] == (1, 1, 1, 1)  # 12:xx UTC like the login 4 days before
    assert feats[("remitco", "F2")] == (0, 0, 1, 0)  # 20:00: not the login hour
    assert world["before"]["features"][("remitco", "B1")] == (0, 0, 1, 0)
    assert feats[("paywave", "C1")] == (0, 1, 1, 0)  # the IP event one second before is a login
    assert ("remitco", "E1") not in world["before"]["features"]
    assert feats[("remitnew", "E1")] == (0, 0, 1, 1)


# --- pivots ----------------------------------------------------------------


def _check_john(data: dict[str, Any]) -> None:
    names = [n for s in data["subjects"] for n in s["names"]]
    assert "John Smith" in names
    pay = {p["record_id"]: p for p in data["payments"]}
    assert pay["A1"]["direction"] == "sent"
    assert pay["A1"]["aligned_sessions"][0]["report_id"] == "R1"
    (fac,) = data["facilitators"]
    assert "Maria Santos" in fac["names"]
    places = {(p["payout_city"], p["payout_agent_id"], p["payout_country"]) for p in fac["collection_places"]}
    assert ("ANGELES", "AG-PH-0001", "PH") in places and ("ANGELES", "AG-PH-0002", "PH") in places
    others = {o["subject_id"]: o for o in fac["other_consumers"]}
    other_names = {n for o in others.values() for n in o["names"]}
    assert {"Tom Other", "Luke Cole"} <= other_names
    assert any(o["has_referral"] for o in others.values())  # Luke's referral R8


def test_pivot_from_account(world: dict[str, Any]) -> None:
    data = pivot(con_of(world), "account", "VidChat:u_R1_s1")
    assert [r["record_id"] for r in data["referral_subjects"]] == ["R1#s1"]
    assert data["referral_subjects"][0]["links"][0]["via"] == "resolve"
    _check_john(data)
    # the provider name works too, and an unknown account gives empty lists
    assert pivot(con_of(world), "account", "vidchat:u_R1_s1")["subjects"] == data["subjects"]
    empty = pivot(con_of(world), "account", "VidChat:nobody")
    assert empty["referral_subjects"] == [] and empty["subjects"] == []


def test_pivot_from_email(world: dict[str, Any]) -> None:
    data = pivot(con_of(world), "email", " JS@example.COM ")
    assert data["query"]["normalised"] == "js@example.com"
    _check_john(data)


def test_pivot_from_phone(world: dict[str, Any]) -> None:
    data = pivot(con_of(world), "phone", "+63 917 555 0101")
    assert data["query"]["normalised"] == "+639175550101"
    assert [r["record_id"] for r in data["referral_subjects"]] == ["R1#s2"]
    (subj,) = data["subjects"]
    assert "Maria Santos" in subj["names"] and subj["n_received"] == 3
    assert {p["direction"] for p in data["payments"]} == {"received"}


def test_pivot_from_ip_linked_account(world: dict[str, Any]) -> None:
    data = pivot(con_of(world), "account", "VidChat:u_R3_s1")
    assert data["subjects"][0]["linked_via"] == ["ip"]
    assert data["payments"][0]["record_id"] == "C1"


def test_cli_pivot_json_and_unmatched(world: dict[str, Any]) -> None:
    from moneytrail.cli import app

    wh: Warehouse = world["wh"]
    wh.con.execute("CHECKPOINT")
    # the CLI opens the store itself: hand it over for the duration
    wh.close()
    try:
        runner = CliRunner()
        store = str(world["store"])
        res = runner.invoke(app, ["pivot", "--email", "js@example.com", "--json", "--store", store])
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        assert data["query"]["kind"] == "email" and data["facilitators"]
        res = runner.invoke(app, ["pivot", "--account", "VidChat:u_R1_s1", "--store", store])
        assert res.exit_code == 0, res.output
        assert "Maria Santos" in res.stdout and "AG-PH-0001" in res.stdout
        res = runner.invoke(app, ["referrals", "unmatched", "--json", "--store", store])
        assert res.exit_code == 0, res.output
        assert "R6#s1" in {r["record_id"] for r in json.loads(res.stdout)}
        res = runner.invoke(app, ["referrals", "links", "--via", "device", "--store", store])
        assert res.exit_code == 0 and "R5#s1" in res.stdout
    finally:
        world["wh"] = Warehouse(world["store"])
        world["con"] = world["wh"].con
