"""CSV formats: what lands in the canonical tables, and what goes to quarantine."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from moneytrail.ingest import ingest_bundle, ingest_paths
from moneytrail.store import Warehouse
from tests.conftest import REMITTANCE_HEADER, remittance_row, write_csv


def rows(wh: Warehouse, sql: str) -> list[tuple]:
    return wh.con.execute(sql).fetchall()


def test_remittance_fields_land_converted(warehouse: Warehouse, tmp_path: Path) -> None:
    write_csv(tmp_path / "b" / "remitco" / "jan.csv", [remittance_row()], REMITTANCE_HEADER)
    report = ingest_bundle(warehouse, tmp_path / "b")
    assert report.loaded == 1 and report.quarantined == 0
    (txn,) = rows(warehouse, "SELECT provider, record_id, format, ts_utc, amount, currency, amount_usd, "
                  "channel, memo, payout_agent_id, paid_out_at, sender_country, receiver_country, "
                  "ip_address, device_id, txn_type FROM transactions")
    assert txn[:3] == ("remitco", "T1", "remittance-csv")
    assert txn[3] == datetime(2026, 2, 28, 18, 14, 9)  # +08:00 converted to UTC
    assert float(txn[4]) == 35.0 and txn[5] == "USD" and txn[6] == 35.0
    assert txn[7:10] == ("web", "school fees", "AG1")
    assert txn[10] == datetime(2026, 2, 28, 19, 0, 0)
    assert txn[11:] == ("US", "PH", "203.0.113.7", "D1", "transfer")
    parties = rows(warehouse, "SELECT party, side, name_norm, dob, phone_e164, email, country, account, "
                   "account_kind, id_type, id_number FROM parties ORDER BY side")
    assert parties[0] == ("sender", "from", "smith john", datetime(1971, 5, 2).date(), "+12025550143",
                          "js@example.com", "US", "C1", "customer", "passport", "X123")
    assert parties[1][:7] == ("receiver", "to", "maria santos", None, "+639175550101", None, "PH")


def test_sender_local_hour_uses_sender_country(warehouse: Warehouse, tmp_path: Path) -> None:
    write_csv(tmp_path / "b" / "r" / "a.csv", [
        remittance_row(transfer_id="GB1", sender_country="GB", created_at="2026-01-10T02:30:00Z"),
        remittance_row(transfer_id="AU1", sender_country="AU", created_at="2026-01-10T02:30:00Z"),
    ], REMITTANCE_HEADER)
    ingest_bundle(warehouse, tmp_path / "b")
    hours = dict(rows(warehouse, "SELECT record_id, local_hour FROM transactions"))
    assert hours == {"GB1": 2, "AU1": 13}  # London in winter is UTC; Sydney is UTC+11


def test_naive_timestamps_use_provider_timezone(warehouse: Warehouse, tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    write_csv(bundle / "files" / "a.csv", [remittance_row(created_at="2026-03-01 08:00:00")], REMITTANCE_HEADER)
    (bundle / "sources.csv").write_text("path,format,provider,timezone\nfiles/a.csv,remittance-csv,manila-mto,Asia/Manila\n")
    ingest_bundle(warehouse, bundle)
    assert rows(warehouse, "SELECT provider, ts_utc FROM transactions") == [
        ("manila-mto", datetime(2026, 3, 1, 0, 0, 0))
    ]


def test_naive_timestamps_default_to_utc(warehouse: Warehouse, tmp_path: Path) -> None:
    write_csv(tmp_path / "b" / "r" / "a.csv", [remittance_row(created_at="2026-03-01T08:00:00")], REMITTANCE_HEADER)
    ingest_bundle(warehouse, tmp_path / "b")
    assert rows(warehouse, "SELECT ts_utc FROM transactions") == [(datetime(2026, 3, 1, 8),)]


def test_fx_rates_file_applies_latest_rate_on_or_before_day(warehouse: Warehouse, tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    write_csv(bundle / "r" / "a.csv", [
        remittance_row(transfer_id="A", send_amount="100", send_currency="AUD", created_at="2026-01-15T00:00:00Z"),
        remittance_row(transfer_id="B", send_amount="100", send_currency="AUD", created_at="2026-02-15T00:00:00Z"),
        remittance_row(transfer_id="C", send_amount="100", send_currency="AUD", created_at="2025-12-01T00:00:00Z"),
    ], REMITTANCE_HEADER)
    (bundle / "fx_rates.csv").write_text("date,currency,usd_per_unit\n2026-01-01,AUD,0.60\n2026-02-01,AUD,0.70\n")
    ingest_bundle(warehouse, bundle)
    usd = dict(rows(warehouse, "SELECT record_id, amount_usd FROM transactions"))
    assert usd["A"] == pytest.approx(60.0)
    assert usd["B"] == pytest.approx(70.0)
    assert usd["C"] == pytest.approx(66.0)  # before the bundle's first rate: the built-in table


QUARANTINE_CASES = [
    ({"created_at": "not a date"}, "bad timestamp: not a date"),
    ({"send_amount": "12,50"}, "bad amount: 12,50"),
    ({"send_amount": "-5"}, "negative amount: -5"),
    ({"send_currency": "XYZ"}, "unknown currency: XYZ"),
    ({"transfer_id": ""}, "missing transfer_id"),
    ({"sender_name": " "}, "missing sender_name"),
    ({"receiver_country": "Narnia"}, "unknown country: Narnia"),
    ({"send_currency": "MNT"}, "no USD rate for MNT"),
]


@pytest.mark.parametrize(("override", "reason"), QUARANTINE_CASES)
def test_bad_records_go_to_quarantine_with_line_and_reason(
    warehouse: Warehouse, tmp_path: Path, override: dict[str, str], reason: str
) -> None:
    good = [remittance_row(transfer_id=f"G{i}") for i in range(3)]
    bad = remittance_row(transfer_id="BAD", **{k: v for k, v in override.items() if k != "transfer_id"})
    if "transfer_id" in override:
        bad["transfer_id"] = override["transfer_id"]
    write_csv(tmp_path / "b" / "p" / "f.csv", [good[0], good[1], bad, good[2]], REMITTANCE_HEADER)
    report = ingest_bundle(warehouse, tmp_path / "b")
    assert report.loaded == 3 and report.quarantined == 1
    ((provider, file, location, got),) = rows(warehouse, "SELECT provider, file, location, reason FROM quarantine")
    assert (provider, file, location) == ("p", "p/f.csv", "line 4")
    assert got.startswith(reason)


def test_broken_quote_loses_only_its_own_record(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "b" / "p" / "f.csv", [remittance_row(transfer_id=f"G{i}") for i in range(5)],
                     REMITTANCE_HEADER)
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("SMITH John", '"SMITH John', 1)  # record G1 gets a stray quote
    path.write_text("\n".join(lines) + "\n")
    ingest_bundle(warehouse, tmp_path / "b")
    assert [r[0] for r in rows(warehouse, "SELECT record_id FROM transactions ORDER BY 1")] == ["G0", "G2", "G3", "G4"]
    ((location, reason),) = rows(warehouse, "SELECT location, reason FROM quarantine")
    assert location == "line 3" and "unreadable CSV record" in reason


def test_wrong_column_count_is_quarantined_and_later_lines_keep_their_numbers(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "b" / "p" / "f.csv", [remittance_row(transfer_id=f"G{i}") for i in range(4)],
                     REMITTANCE_HEADER)
    lines = path.read_text().splitlines()
    lines[2] += ",surplus"
    lines[4] = lines[4].replace("35.00", "abc")
    path.write_text("\n".join(lines) + "\n")
    ingest_bundle(warehouse, tmp_path / "b")
    got = sorted(rows(warehouse, "SELECT location, reason FROM quarantine"))
    assert got[0][0] == "line 3" and "too many columns" in got[0][1]
    assert got[1] == ("line 5", "bad amount: abc")


def test_duplicate_id_within_file_is_quarantined(warehouse: Warehouse, tmp_path: Path) -> None:
    write_csv(tmp_path / "b" / "p" / "f.csv", [remittance_row(), remittance_row(send_amount="9")], REMITTANCE_HEADER)
    ingest_bundle(warehouse, tmp_path / "b")
    assert rows(warehouse, "SELECT amount_usd FROM transactions") == [(35.0,)]
    assert rows(warehouse, "SELECT location, reason FROM quarantine") == [("line 3", "duplicate record id in file: T1")]


def test_missing_required_column_quarantines_the_file_header(warehouse: Warehouse, tmp_path: Path) -> None:
    header = [h for h in REMITTANCE_HEADER if h != "send_currency"]
    path = write_csv(tmp_path / "f.csv", [remittance_row()], header)
    report = ingest_paths(warehouse, [path], fmt="remittance-csv", provider="x")
    assert report.loaded == 0
    assert rows(warehouse, "SELECT location, reason FROM quarantine") == [
        ("line 1", "missing required column(s): send_currency")
    ]


def test_headers_case_insensitive_bom_and_unknown_columns_kept(warehouse: Warehouse, tmp_path: Path) -> None:
    row = remittance_row()
    header = [h.upper() for h in REMITTANCE_HEADER] + ["Loyalty_Tier"]
    path = tmp_path / "b" / "p" / "f.csv"
    path.parent.mkdir(parents=True)
    values = [row[h] for h in REMITTANCE_HEADER] + ["gold"]
    path.write_text("\ufeff" + ",".join(header) + "\n" + ",".join(f'"{v}"' for v in values) + "\n", encoding="utf-8")
    ingest_bundle(warehouse, tmp_path / "b")
    assert rows(warehouse, "SELECT record_id, extra FROM transactions") == [("T1", '{"loyalty_tier":"gold"}')]


def test_wallet_and_card_formats(warehouse: Warehouse, tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    write_csv(bundle / "paywall" / "w.csv", [
        {"txn_id": "W1", "timestamp": "2026-03-01T01:00:00Z", "type": "send_money", "payer_account_id": "A1",
         "payer_name": "john smith", "payer_email": "js@example.com", "payer_country": "US",
         "payee_account_id": "B1", "payee_name": "Maria Santos", "payee_phone": "+63 917 555 0101",
         "payee_country": "PH", "gross": "20.00", "fee": "0.50", "currency": "USD", "note": "baon"},
        {"txn_id": "W2", "timestamp": "2026-03-01T01:00:00Z", "type": "teleport", "payer_account_id": "A1",
         "payee_account_id": "B1", "gross": "20.00", "currency": "USD"},
    ])
    write_csv(bundle / "cardco" / "c.csv", [
        {"txn_id": "K1", "timestamp": "2026-03-01T01:00:00Z", "card_token": "tok_1", "cardholder_name": "J A Smith",
         "issuer_country": "US", "merchant_id": "M9", "merchant_name": "FastVPN", "mcc": "4816",
         "merchant_country": "NL", "amount": "9.99", "currency": "EUR", "channel": "ecom"},
        {"txn_id": "K2", "timestamp": "2026-03-01T01:00:00Z", "card_token": "tok_1", "issuer_country": "US",
         "merchant_id": "M2", "merchant_name": "QuickSend", "mcc": "4829", "merchant_country": "US",
         "amount": "50", "currency": "USD", "beneficiary_name": "Maria Santos", "beneficiary_country": "PH",
         "beneficiary_account": "PH-ACC-1"},
    ])
    ingest_bundle(warehouse, bundle)
    txns = rows(warehouse, "SELECT record_id, format, txn_type, memo, fee, mcc, merchant_name, receiver_country "
                "FROM transactions ORDER BY record_id")
    assert [t[:3] for t in txns] == [("K1", "card-csv", "purchase"), ("K2", "card-csv", "card_transfer"),
                                     ("W1", "wallet-csv", "send_money")]
    assert txns[2][3] == "baon" and float(txns[2][4]) == 0.5
    assert txns[1][7] == "PH"  # a card-funded transfer goes to the beneficiary's country
    parties = rows(warehouse, "SELECT record_id, party, account, account_kind FROM parties ORDER BY 1, 2")
    assert ("K2", "receiver", "PH-ACC-1", "beneficiary_account") in parties
    assert ("K1", "cardholder", "tok_1", "card") in parties and ("K1", "merchant", "M9", "merchant") in parties
    assert ("W1", "payer", "A1", "wallet") in parties
    assert rows(warehouse, "SELECT location, reason FROM quarantine")[0][1].startswith("unknown type: teleport")


def test_crlf_file_with_a_short_record_keeps_line_numbers(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "b" / "p" / "f.csv", [remittance_row(transfer_id=f"G{i}") for i in range(4)],
                     REMITTANCE_HEADER)
    lines = path.read_text().splitlines()
    lines[2] = "G1,2026-01-01"  # too few columns
    lines[4] = lines[4].replace("35.00", "--")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    ingest_bundle(warehouse, tmp_path / "b")
    got = sorted(rows(warehouse, "SELECT location, reason FROM quarantine"))
    assert [g[0] for g in got] == ["line 3", "line 5"]
    assert "missing columns" in got[0][1] and got[1][1] == "bad amount: --"
    assert warehouse.count("transactions") == 2


def test_padded_values_are_trimmed_and_blank_ones_count_as_missing(warehouse: Warehouse, tmp_path: Path) -> None:
    # The staging view trims once; the checks and inserts rely on it (no second trim).
    write_csv(tmp_path / "b" / "r" / "a.csv", [
        remittance_row(transfer_id="  P1 ", send_amount=" 35.00 ", send_currency=" usd ", sender_country=" US ",
                       receiver_phone=" 0917 555 0101 ", channel=" Web ", payout_amount=" 1960.00 "),
        remittance_row(transfer_id="P2", sender_name="   "),
        remittance_row(transfer_id="P3", send_currency="   "),
    ], REMITTANCE_HEADER)
    report = ingest_bundle(warehouse, tmp_path / "b")
    assert (report.loaded, report.quarantined) == (1, 2)
    assert rows(warehouse, "SELECT record_id, amount, currency, sender_country, channel, payout_amount "
                "FROM transactions") == [("P1", 35, "USD", "US", "web", 1960)]
    assert rows(warehouse, "SELECT phone, phone_e164 FROM parties WHERE side = 'to'") == [
        ("0917 555 0101", "+639175550101")
    ]
    assert sorted(rows(warehouse, "SELECT location, reason FROM quarantine")) == [
        ("line 3", "missing sender_name"), ("line 4", "missing send_currency"),
    ]
