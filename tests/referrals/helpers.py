"""Tiny bundles written as files and ingested through the real ingestion."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import duckdb

from moneytrail.ingest import ingest_bundle
from moneytrail.referrals import ReferralReport, ReferralSettings, run_referrals
from moneytrail.resolve import resolve
from moneytrail.store import Warehouse

REMIT_COLS = [
    "transfer_id", "created_at", "sender_id", "sender_name", "sender_dob", "sender_phone",
    "sender_email", "sender_city", "sender_country", "receiver_name", "receiver_phone",
    "receiver_city", "receiver_country", "send_amount", "send_currency", "payout_method",
    "payout_agent_id", "paid_out_at", "channel", "ip_address", "device_id",
]  # fmt: skip
WALLET_COLS = [
    "txn_id", "timestamp", "type", "payer_account_id", "payer_name", "payer_email", "payer_phone",
    "payer_country", "payee_account_id", "payee_name", "payee_email", "payee_phone",
    "payee_country", "gross", "currency", "note", "ip_address", "device_id",
]  # fmt: skip


class Bundle:
    """Rows per provider, written as a bundle directory on `write`."""

    def __init__(self) -> None:
        self.remit: dict[str, list[dict[str, Any]]] = {}
        self.wallet: dict[str, list[dict[str, Any]]] = {}
        self.referrals: dict[str, list[dict[str, Any]]] = {}

    def transfer(self, provider: str = "remitco", **row: Any) -> None:
        row.setdefault("transfer_id", f"T{sum(map(len, self.remit.values())) + 1:05d}")
        row.setdefault("sender_country", "AU")
        row.setdefault("receiver_country", "PH")
        row.setdefault("send_amount", "50.00")
        row.setdefault("send_currency", "USD")
        self.remit.setdefault(provider, []).append(row)

    def wallet_payment(self, provider: str = "paywave", **row: Any) -> None:
        row.setdefault("txn_id", f"W{sum(map(len, self.wallet.values())) + 1:05d}")
        row.setdefault("type", "send_money")
        row.setdefault("gross", "30.00")
        row.setdefault("currency", "USD")
        self.wallet.setdefault(provider, []).append(row)

    def referral(self, provider: str = "vidchat", **obj: Any) -> None:
        obj.setdefault("platform", "VidChat")
        obj.setdefault("submitted_at", "2026-05-01T00:00:00Z")
        obj.setdefault("incident_type", "live_streaming_abuse")
        obj.setdefault("sessions", [])
        self.referrals.setdefault(provider, []).append(obj)

    def write(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        for groups, cols in ((self.remit, REMIT_COLS), (self.wallet, WALLET_COLS)):
            for provider, rows in groups.items():
                (root / provider).mkdir(exist_ok=True)
                n = len(list((root / provider).glob("*.csv")))
                with open(root / provider / f"part{n + 1}.csv", "w", newline="", encoding="utf-8") as fh:
                    w = csv.DictWriter(fh, fieldnames=cols)
                    w.writeheader()
                    for r in rows:
                        unknown = set(r) - set(cols)
                        assert not unknown, unknown
                        w.writerow(r)
        for provider, objs in self.referrals.items():
            (root / provider).mkdir(exist_ok=True)
            n = len(list((root / provider).glob("*.jsonl")))
            (root / provider / f"referrals{n + 1}.jsonl").write_text(
                "\n".join(json.dumps(o) for o in objs) + "\n", encoding="utf-8"
            )
        return root


def build(
    wh: Warehouse, bundle: Bundle, root: Path, settings: ReferralSettings | None = None
) -> ReferralReport:
    """Ingest the bundle into the warehouse, resolve, and run the referral stage."""
    report = ingest_bundle(wh, bundle.write(root))
    assert report.quarantined == 0, wh.con.execute("SELECT * FROM quarantine").fetchall()
    resolve(wh.con)
    return run_referrals(wh.con, settings)


def links(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], set[str]]:
    """(referral record id, via) -> names of the linked payment subject's parties."""
    rows = con.execute(
        """
        SELECT l.referral_record_id, l.via, p.name
        FROM referral_links l JOIN subject_records sr ON sr.subject_id = l.subject_id
        JOIN parties p ON p.provider = sr.provider AND p.record_id = sr.record_id AND p.party = sr.party
        """
    ).fetchall()
    out: dict[tuple[str, str], set[str]] = {}
    for rec, via, name in rows:
        out.setdefault((rec, via), set()).add(name)
    return out


def subject(rec: str, ref: str, **kw: Any) -> dict[str, Any]:
    return {"subject_ref": ref, "account_id": kw.pop("account_id", f"u_{rec}_{ref}"), **kw}
