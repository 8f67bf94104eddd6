from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from moneytrail.normalise import normalise_email, normalise_name, normalise_phone


def add_party(con: duckdb.DuckDBPyConnection, provider: str, record_id: str, party: str, **kw: Any) -> None:
    side = kw.pop("side", "to" if party in ("receiver", "payee", "creditor", "merchant") else "from")
    name = kw.get("name")
    country = kw.get("country")
    phone = kw.get("phone")
    row = {
        "provider": provider,
        "record_id": record_id,
        "party": party,
        "side": side,
        "name_norm": normalise_name(name),
        "phone_e164": normalise_phone(phone, country) if phone else None,
        **kw,
    }
    if row.get("email"):
        row["email"] = normalise_email(row["email"])
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO parties ({cols}) VALUES ({marks})", list(row.values()))


def add_referral(con: duckdb.DuckDBPyConnection, report_id: str, ref: str, name: str | None,
                 emails: tuple[str, ...] = (), phones: tuple[str, ...] = (), **kw: Any) -> None:
    rid = f"{report_id}#{ref}"
    con.execute(
        "INSERT INTO referral_subjects (provider, record_id, report_id, subject_ref, platform, role, "
        "account_id, display_name, name_norm, dob, country) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ["VidChat", rid, report_id, ref, "VidChat", kw.get("role", "suspect"), kw.get("account_id"),
         name, normalise_name(name), kw.get("dob"), kw.get("country")],
    )
    for e in emails:
        con.execute("INSERT INTO referral_identifiers VALUES (?, ?, 'email', ?, ?)",
                    ["VidChat", rid, e, normalise_email(e)])
    for p in phones:
        con.execute("INSERT INTO referral_identifiers VALUES (?, ?, 'phone', ?, ?)",
                    ["VidChat", rid, p, normalise_phone(p, kw.get("country"))])


def add_scenario(con: duckdb.DuckDBPyConnection) -> None:
    """The people of issue 5, and a few traps."""
    dob = date(1971, 5, 2)
    # the offender: remittance, wallet, card, and a platform referral
    add_party(con, "RemitX", "X1", "sender", name="SMITH John", dob=dob, phone="+61 400 111 222",
              city="Perth", country="AU", account="C-77", account_kind="customer")
    add_party(con, "WalletX", "W1", "payer", name="john smith", email="JS.Offender@Example.com",
              phone="0400 111 222", country="AU", account="w-js", account_kind="wallet")
    add_party(con, "CardX", "K1", "cardholder", name="J A Smith", email="js.offender@example.com",
              country="AU", account="tok_js", account_kind="card")
    add_referral(con, "R-X1", "s1", "John Smith", emails=("js.offender@example.com",),
                 phones=("+61 400 111 222",), country="AU", dob=dob)
    # the facilitator: two notations of one phone
    add_party(con, "RemitX", "X1", "receiver", name="Maria Santos", phone="+63 917 555 0101",
              city="Angeles", country="PH")
    add_party(con, "RemitY", "Y1", "receiver", name="Ma. Santos-Reyes", phone="09175550101",
              city="Angeles", country="PH")
    # a payout agent's phone on five unrelated receivers
    for i, nm in enumerate(["Ana Cruz", "Pedro Reyes", "Liza Go", "Ramon Tan", "Elena Sy"]):
        add_party(con, "RemitY", f"Y-agent-{i}", "receiver", name=nm, phone="+63 999 000 0000",
                  city=["Manila", "Cebu City", "Pasay", "Taguig", "Iloilo City"][i], country="PH")
    # two different James Millers
    add_party(con, "RemitX", "X-jm1", "sender", name="James Miller", dob=date(1980, 1, 1),
              phone="+1 206 555 0101", city="Seattle", country="US", email="jm1@example.com")
    add_party(con, "RemitX", "X-jm2", "sender", name="MILLER James", dob=date(1962, 7, 9),
              phone="+44 7700 900123", city="Leeds", country="GB", email="jamesm62@example.co.uk")
    # transliteration and typos, no strong identifier in common
    add_party(con, "RemitX", "X-jg1", "sender", name="José García", dob=date(1975, 3, 14),
              city="Houston", country="US")
    add_party(con, "WalletX", "W-jg2", "payer", name="GARCIA Jose", dob=date(1975, 3, 14),
              city="Houston", country="US", account="w-jg", account_kind="wallet")
    add_party(con, "RemitX", "X-jr1", "sender", name="Jonathan Reyes-Quinto", dob=date(1969, 11, 30),
              city="Toronto", country="CA")
    add_party(con, "RemitY", "Y-jr2", "sender", name="Jonathon Reyes Quinto", dob=date(1969, 11, 30),
              city="Toronto", country="CA")
    # a rare name at two providers, nothing else in common (no phone, dob or email
    # on the card side): one person by the subject-level "rare name" evidence
    for i in range(3):
        add_party(con, "RemitX", f"X-ok{i}", "sender", name="OKONKWO Chidiebere", phone="+61 400 333 444",
                  city="Perth", country="AU", account="C-ok", account_kind="customer")
        add_party(con, "CardX", f"K-ok{i}", "cardholder", name="chidiebere okonkwo", country="AU",
                  account="tok_ok", account_kind="card")
    # a facilitator as "Marisol Dalisay" and "Ma. Dalisay-Reyes", no phone, paid by
    # one consumer (linked by email) through two operators
    for i in range(3):
        add_party(con, "RemitX", f"X-md{i}", "sender", name="Peter Grantham", email="pgrantham@example.com",
                  country="AU", account="C-pg", account_kind="customer")
        add_party(con, "RemitX", f"X-md{i}", "receiver", name="Marisol Dalisay", city="Angeles", country="PH")
        add_party(con, "RemitY", f"Y-md{i}", "sender", name="GRANTHAM Peter", email="pgrantham@example.com",
                  country="AU", account="C-pg2", account_kind="customer")
        add_party(con, "RemitY", f"Y-md{i}", "receiver", name="Ma. Dalisay-Reyes", city="Angeles", country="PH")


def subject_of(con: duckdb.DuckDBPyConnection, key: str) -> str:
    p, rest = key.split(":", 1)
    r, q = rest.rsplit(":", 1)
    rows = con.execute(
        "SELECT subject_id FROM subject_records WHERE provider = ? AND record_id = ? AND party = ?",
        [p, r, q],
    ).fetchall()
    assert rows, key
    return str(rows[0][0])


def resolved_world(path: Path, seed: int, add: Callable[[duckdb.DuckDBPyConnection], None]) -> Path:
    """A small sample world with the people ``add`` puts in, resolved with the default settings."""
    from moneytrail.resolve import ResolveSettings, resolve
    from moneytrail.resolve.sample import generate
    from moneytrail.store import Warehouse

    with Warehouse(path) as wh:
        generate(wh.con, transactions=2500, seed=seed)
        add(wh.con)
        resolve(wh.con, ResolveSettings())
    return path
