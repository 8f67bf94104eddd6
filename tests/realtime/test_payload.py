"""One payment read by the real-time path equals the same record read by batch ingestion."""

from __future__ import annotations

import math
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moneytrail.errors import UserError
from moneytrail.ingest import ingest_bundle
from moneytrail.ingest.finish import parse_ts_sql
from moneytrail.realtime.feed import write_bundle
from moneytrail.realtime.payload import (
    Reference,
    RejectedPayment,
    _decimal,
    _round4,
    parse_payment,
    parse_ts,
)
from moneytrail.store import Warehouse
from tests.conftest import remittance_row
from tests.realtime.conftest import World

CON = duckdb.connect()
CON.execute("SET TimeZone = 'UTC'")

dates = st.tuples(st.integers(2019, 2027), st.integers(1, 13), st.integers(1, 31))
times = st.tuples(st.integers(0, 24), st.integers(0, 60), st.integers(0, 59), st.sampled_from(["", ".5", ".123456"]))
offsets = st.sampled_from(["", "", "Z", "+00:00", "+08:00", "-05:00", "+0530", "-03", "z", "+8"])


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    y, m, d = draw(dates)
    text = f"{y:04d}-{m:02d}-{d:02d}"
    if draw(st.booleans()):
        h, mi, s, frac = draw(times)
        clock = draw(st.sampled_from([f"{h:02d}:{mi:02d}:{s:02d}{frac}", f"{h}:{mi}", f"{h:02d}:{mi:02d}"]))
        text += draw(st.sampled_from(["T", " "])) + clock + draw(offsets)
    return text


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(timestamps(), st.sampled_from([
    "2024-03-10T02:30:00", "2024-11-03T01:30:00", "garbage", "2024-1-5", "2024/01/05", "20240105",
    "2024-01-05T24:00:00", "2024-02-30", "2024-01-05T10"])),
       tz=st.sampled_from([None, "UTC", "Asia/Manila", "America/New_York"]))
def test_timestamps_convert_as_the_batch_does(text: str, tz: str | None) -> None:
    expected = CON.execute(f"SELECT {parse_ts_sql('trim($t)', tz)}", {"t": text}).fetchall()[0][0]
    assert parse_ts(text, tz) == expected


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(
    st.integers(0, 6).flatmap(lambda p: st.decimals(min_value=-10**6, max_value=10**7, allow_nan=False,
                                                     allow_infinity=False, places=p)).map(str),
    st.sampled_from(["12,50", "abc", "", " 7 ", "+5", ".5", "5.", "1e3", "0.00005", "-0.00005", "35.00 USD", "N/A"]),
))
def test_amounts_convert_as_the_batch_does(text: str) -> None:
    try:
        expected = CON.execute("SELECT try_cast(trim($t) AS DECIMAL(20,4))", {"t": text}).fetchall()[0][0]
    except duckdb.Error:
        expected = None
    assert _decimal(text) == expected


@settings(max_examples=300, deadline=None)
@given(amount=st.decimals(min_value=0, max_value=10**6, places=2), rate=st.floats(1e-4, 2.0, allow_nan=False))
def test_usd_amounts_round_as_the_batch_does(amount: Decimal, rate: float) -> None:
    expected = CON.execute("SELECT round(CAST(CAST($a AS DECIMAL(20,4)) AS DOUBLE) * $r, 4)", {"a": str(amount), "r": rate}).fetchall()[0][0]
    assert _round4(float(amount) * rate) == expected


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description or []]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    return bool(a == b)


def test_every_record_reads_as_ingestion_reads_it(world: World, tmp_path: Path) -> None:
    """Every later payment of the world (CSV rows of three formats, pacs.008 messages):
    the canonical transaction and parties are the ones batch ingestion stores, field by field,
    and a record ingestion quarantines is refused with the quarantine's reason."""
    items = world.later
    write_bundle(items, tmp_path / "b")
    shutil.copy(world.bundle / "fx_rates.csv", tmp_path / "b" / "fx_rates.csv")
    with Warehouse(tmp_path / "w.duckdb") as wh:
        ingest_bundle(wh, tmp_path / "b")
        ref = Reference.from_warehouse(wh.con)
        refused: list[str] = []
        checked = 0
        for item in items:
            try:
                p = parse_payment(item.body, ref)
            except RejectedPayment as exc:
                refused.append(str(exc))
                continue
            tx = _rows(wh.con, "SELECT * FROM transactions WHERE provider = ? AND record_id = ?", list(p.key))
            assert len(tx) == 1, p.key
            for col, value in tx[0].items():
                if col not in ("source_file", "extra"):
                    assert _equal(p.transaction[col], value), (p.key, col, p.transaction[col], value)
            parties = _rows(wh.con, "SELECT * FROM parties WHERE provider = ? AND record_id = ? ORDER BY party", list(p.key))
            assert sorted(p.parties, key=lambda r: r["party"]) == parties, p.key
            checked += 1
        quarantined = sorted(r[0] for r in wh.con.execute("SELECT reason FROM quarantine").fetchall())
    assert checked > 400
    assert sorted(refused) == quarantined


def test_a_hand_built_record_and_its_refusals() -> None:
    with Warehouse(":memory:") as wh:
        ref = Reference.from_warehouse(wh.con)
    row = remittance_row(transfer_id="T9", send_amount="35.00", receiver_country="Philippines")
    p = parse_payment({"provider": "remitco", "record": row}, ref)
    assert p.transaction["receiver_country"] == "PH"
    assert p.transaction["amount"] == Decimal("35.0000")
    assert {q["party"]: q["name_norm"] for q in p.parties} == {"sender": "smith john", "receiver": "maria santos"}
    assert p.transaction["local_hour"] is not None
    for change, reason in [({"send_amount": "12,50"}, "bad amount: 12,50"),
                           ({"send_currency": "EURO"}, "unknown currency: EURO"),
                           ({"receiver_country": "Atlantis"}, "unknown country: Atlantis"),
                           ({"created_at": "2024-13-45T25:61:00"}, "bad timestamp: 2024-13-45T25:61:00"),
                           ({"sender_name": " "}, "missing sender_name")]:
        with pytest.raises(RejectedPayment, match=reason):
            parse_payment({"provider": "remitco", "record": remittance_row(**change)}, ref)
    with pytest.raises(UserError, match="provider"):
        parse_payment({"record": row}, ref)
    with pytest.raises(UserError, match="cannot tell the record's format"):
        parse_payment({"provider": "x", "record": {"foo": "bar"}}, ref)
    with pytest.raises(UserError, match="time zone"):
        parse_payment({"provider": "remitco", "record": row, "timezone": "Mars/Olympus"}, ref)
    with pytest.raises(RejectedPayment, match="one transaction"):
        parse_payment({"provider": "bank", "pacs008": "<Document xmlns='urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08'/>"}, ref)
    with pytest.raises(RejectedPayment, match="not well-formed"):
        parse_payment({"provider": "bank", "pacs008": "<Document"}, ref)
