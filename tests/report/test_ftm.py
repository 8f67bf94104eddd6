"""FollowTheMoney export: valid entities the library reads back unchanged, references that resolve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from followthemoney import model
from followthemoney.cli.cli import cli as ftm_cli

from moneytrail.report.context import CaseContext
from moneytrail.report.evidence import Evidence, flagged_subject_ids, gather, gather_subjects
from moneytrail.report.ftm import write_ftm


def _export(ev: Evidence, path: Path) -> list[dict[str, Any]]:
    result = write_ftm(ev, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert result.entities == len(lines)
    return [json.loads(line) for line in lines]


def _check_valid(entities: list[dict[str, Any]]) -> None:
    """What Aleph and `ftm` need: known schemata, required properties, clean values, ids that resolve."""
    ids = [e["id"] for e in entities]
    assert len(ids) == len(set(ids)), "each entity once"
    known = set(ids)
    for data in entities:
        schema = model.get(data["schema"])
        assert schema is not None and not schema.abstract
        schema.validate(data)
        for prop in schema.required:
            assert data["properties"].get(prop), f"{data['schema']} without {prop}"
        raw = model.get_proxy(data, cleaned=False)
        clean = raw.clone()
        for prop in raw.iterprops():  # what `ftm validate` does: re-clean every value
            clean.set(prop, raw.get_prop(prop))
        assert clean.to_dict()["properties"] == data["properties"], data["id"]
        for prop in raw.schema.properties.values():
            if prop.type.name == "entity":
                for ref in data["properties"].get(prop.name, []):
                    assert ref in known, f"{data['schema']}.{prop.name} -> {ref} is not in the file"


def _by_schema(entities: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in entities if e["schema"] == name]


def test_livestream_case_exports_people_accounts_platform_accounts_and_payments(
        cases: dict[str, CaseContext], tmp_path: Path) -> None:
    ev = gather(cases["livestream"])
    entities = _export(ev, tmp_path / "case.ftm.json")
    _check_valid(entities)
    payments = {e["properties"]["recordId"][0]: e for e in _by_schema(entities, "Payment")}
    assert set(payments) == {t.key for t in ev.transactions}
    by_id = {e["id"]: e for e in entities}
    for t in ev.transactions:
        p = payments[t.key]["properties"]
        assert p["amount"] == [f"{t.amount:.2f}"] and p["currency"] == [t.currency]
        assert p["date"] == [t.ts_utc.isoformat(timespec="seconds")]
        assert by_id[p["payer"][0]]["properties"]["name"] and by_id[p["beneficiary"][0]]["properties"]["name"]
        if t.payer and t.payer.account:
            account = by_id[p["payerAccount"][0]]["properties"]
            assert account["accountNumber"] == [t.payer.account]
    accounts = _by_schema(entities, "UserAccount")
    # one entity per platform account, even when several referrals name it
    assert {(a["properties"]["service"][0], u) for a in accounts for u in a["properties"]["username"]} == \
        {(a.platform, a.user_name) for a in ev.platform_accounts}
    assert len(accounts) == len({(a.platform, a.account_id) for a in ev.platform_accounts})
    ips = {ip for a in accounts for ip in a["properties"].get("ipAddress", [])}
    assert ips == {e.ip for a in ev.platform_accounts for e in a.ip_events}
    for a in accounts:  # owned by the subject's person
        owner = by_id[a["properties"]["owner"][0]]
        assert owner["schema"] in ("Person", "Company")
    for s in ev.subjects:
        person = next(e for e in entities if f"moneytrail subject {s.subject_id}:" in
                      " ".join(e["properties"].get("summary", [])))
        props = person["properties"]
        assert set(props["name"]) == set(s.names)
        assert set(props.get("email", [])) == set(s.emails)
        owned = {o["properties"]["asset"][0] for o in _by_schema(entities, "Ownership")
                 if o["properties"]["owner"] == [person["id"]]}
        numbers = {by_id[a]["properties"]["accountNumber"][0] for a in owned}
        assert {a.account for a in s.accounts if a.kind != "merchant"} <= numbers


def test_flagged_export_and_the_ftm_tool_agree(report_world: Any, tmp_path: Path) -> None:
    with duckdb.connect(str(report_world.warehouse), read_only=True) as con:
        ids = flagged_subject_ids(con)
        ev = gather_subjects(con, ids, transactions="flagged")
    path = tmp_path / "flagged.ftm.json"
    entities = _export(ev, path)
    _check_valid(entities)
    summaries = " ".join(s for e in entities for s in e["properties"].get("summary", []))
    assert all(f"moneytrail subject {sid}:" in summaries for sid in ids)
    assert len(_by_schema(entities, "Payment")) == len(ev.transactions) and all(t.flagged for t in ev.transactions)
    # `ftm validate` re-reads and re-cleans the stream: nothing is dropped or changed
    out = tmp_path / "validated.ftm.json"
    result = CliRunner().invoke(ftm_cli, ["validate", "-i", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    again = [json.loads(line) for line in out.read_text().splitlines()]
    assert {e["id"]: e["properties"] for e in again} == {e["id"]: e["properties"] for e in entities}


def test_ids_are_stable_and_independent_of_the_export(cases: dict[str, CaseContext], tmp_path: Path) -> None:
    ctx = cases["network"]
    first = _export(gather(ctx), tmp_path / "a.json")
    second = _export(gather(ctx), tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    # a payment gets the same id whichever case exports it
    one = gather(cases["livestream"])
    shared = {t.key for t in one.transactions} & {t.key for t in gather(ctx).transactions}
    ids_net = {e["properties"]["recordId"][0]: e["id"] for e in _by_schema(first, "Payment")}
    ids_live = {e["properties"]["recordId"][0]: e["id"]
                for e in _by_schema(_export(one, tmp_path / "c.json"), "Payment")}
    assert all(ids_net[k] == ids_live[k] for k in shared)
    assert len(second) == len(first)


def test_no_memo_reaches_the_entities(cases: dict[str, CaseContext], tmp_path: Path) -> None:
    ctx = cases["consumer"]
    ev = gather(ctx)
    path = tmp_path / "x.json"
    _export(ev, path)
    text = path.read_text()
    with duckdb.connect(str(ctx.warehouse), read_only=True) as con:
        memos = [m for (m,) in con.execute(
            "SELECT DISTINCT memo FROM transactions WHERE provider || ':' || record_id IN (SELECT unnest(?::VARCHAR[])) "
            "AND length(memo) > 8", [[t.key for t in ev.transactions]]).fetchall()]
    assert memos
    assert not [m for m in memos if json.dumps(m)[1:-1] in text]


@pytest.mark.parametrize("name", ["consumer", "facilitator"])
def test_every_case_exports_valid_entities(name: str, cases: dict[str, CaseContext], tmp_path: Path) -> None:
    entities = _export(gather(cases[name]), tmp_path / f"{name}.json")
    _check_valid(entities)
    assert _by_schema(entities, "Payment") and _by_schema(entities, "BankAccount")
