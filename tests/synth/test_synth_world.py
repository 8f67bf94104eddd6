"""The generator: determinism, the data contract of every file, and the truth's consistency."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from moneytrail.synth import WorldResult, generate
from moneytrail.synth.writers import CARD_HEADER, REMIT_HEADER, WALLET_HEADER

NS_RE = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001."


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(tmp_path: Path, small_world_dir: Path) -> None:
    again = generate(tmp_path / "again", scale=0.05, seed=11)
    assert _digest(again.out) == _digest(small_world_dir)


def test_other_seed_other_world(tmp_path: Path, small_world_dir: Path) -> None:
    other = generate(tmp_path / "other", scale=0.05, seed=12)
    assert _digest(other.bundle) != _digest(small_world_dir / "bundle")


def test_scale_is_linear(world: WorldResult, small_world_dir: Path) -> None:
    small = json.loads((small_world_dir / "truth" / "summary.json").read_text())["transactions"]
    assert 50_000 * 0.2 * 0.7 < world.summary["transactions"] < 50_000 * 0.2 * 1.4
    assert 3.0 < world.summary["transactions"] / small < 5.5


def _sources(world: WorldResult) -> pd.DataFrame:
    return pd.read_csv(world.bundle / "sources.csv", dtype=str, keep_default_na=False)


def test_sources_name_every_file(world: WorldResult) -> None:
    src = _sources(world)
    assert list(src.columns) == ["path", "format", "provider", "timezone"]
    listed = set(src["path"])
    on_disk = {str(p.relative_to(world.bundle)) for p in world.bundle.rglob("*") if p.is_file()}
    assert on_disk - listed == {"sources.csv", "fx_rates.csv"}
    assert set(src["format"]) == {"remittance-csv", "wallet-csv", "card-csv", "pacs008", "platform-jsonl"}
    assert src.groupby("format")["provider"].nunique()["remittance-csv"] >= 2
    assert (src["timezone"] != "").any() and (src["timezone"] == "").any()


def _read_csv_records(path: Path) -> tuple[list[str], list[list[str]]]:
    text = path.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


@pytest.mark.parametrize("fmt,header", [("remittance-csv", REMIT_HEADER), ("wallet-csv", WALLET_HEADER),
                                        ("card-csv", CARD_HEADER)])
def test_csv_files_have_the_contract_columns(world: WorldResult, fmt: str, header: list[str]) -> None:
    src = _sources(world)
    malformed = pd.read_csv(world.truth / "malformed.csv", dtype=str)
    bad_lines = {(r.file, r.location) for r in malformed.itertuples()}
    truth = pd.read_csv(world.truth / "transactions.csv", dtype=str)
    n_rows = 0
    for rel in src.loc[src["format"] == fmt, "path"]:
        cols, rows = _read_csv_records(world.bundle / rel)
        assert {c.lower() for c in cols} >= {h for h in header if h != "fee"}
        for i, row in enumerate(rows):
            if (rel, f"line {i + 2}") not in bad_lines:
                assert len(row) == len(cols), (rel, i + 2)
        n_rows += len(rows)
    assert n_rows == truth["file"].isin(src.loc[src["format"] == fmt, "path"]).sum()


def test_good_csv_values_parse(world: WorldResult) -> None:
    fx = pd.read_csv(world.bundle / "fx_rates.csv")
    known = set(fx["currency"])
    truth = pd.read_csv(world.truth / "transactions.csv", dtype=str)
    bad = set(truth.loc[truth["malformed"] == "1", "record_id"])
    df = pd.concat([pd.read_csv(world.bundle / p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
                    for p in sorted((world.bundle / "remitco").glob("*.csv"))])
    good = df[~df["transfer_id"].isin(bad) & (df["transfer_id"] != "")]
    assert pd.to_numeric(good["send_amount"]).gt(0).all()
    assert set(good["send_currency"]) <= known
    ts = pd.to_datetime(good["created_at"], format="ISO8601", utc=True)
    assert ts.notna().all()
    assert good["transfer_id"].is_unique
    web = good[good["channel"].isin(["web", "app"])]
    assert (web["ip_address"] != "").mean() > 0.95
    assert (good.loc[good["channel"] == "agent", "ip_address"] == "").all()


def test_pacs008_files(world: WorldResult) -> None:
    src = _sources(world)
    versions, bare, n = set(), 0, 0
    for rel in src.loc[src["format"] == "pacs008", "path"]:
        root = etree.parse(str(world.bundle / rel)).getroot()
        doc = root if etree.QName(root).localname == "Document" else next(
            e for e in root if etree.QName(e).localname == "Document")
        bare += doc is root
        ns = etree.QName(doc).namespace
        assert ns.startswith(NS_RE)
        versions.add(ns[-2:])
        txs = doc.findall(f"{{{ns}}}FIToFICstmrCdtTrf/{{{ns}}}CdtTrfTxInf")
        n += len(txs)
        for tx in txs[:3]:
            assert tx.find(f"{{{ns}}}Dbtr/{{{ns}}}Nm") is not None
            assert tx.find(f"{{{ns}}}CdtrAgt/{{{ns}}}FinInstnId/{{{ns}}}BICFI") is not None
    assert {"08", "10"} <= versions and bare > 0
    truth = pd.read_csv(world.truth / "transactions.csv", dtype=str)
    assert n == (truth["provider"] == "atlasbank").sum()


def test_referrals_are_json_lines_with_subjects(world: WorldResult) -> None:
    malformed = pd.read_csv(world.truth / "malformed.csv", dtype=str)
    broken = set(malformed.loc[malformed["defect"] == "broken_json", "record_id"])
    n = 0
    for p in world.bundle.rglob("*.jsonl"):
        for line in p.read_text().splitlines():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            assert obj["report_id"] not in broken
            assert obj["incident_type"] in {"live_streaming_abuse", "solicitation", "csam_distribution", "grooming", "other"}
            refs = {s["subject_ref"] for s in obj["subjects"]}
            for s in obj["sessions"]:
                assert s["from"] in refs and s["to"] in refs
            n += 1
    assert n == world.summary["referrals"] > 0


def test_truth_is_consistent(world: WorldResult) -> None:
    tx = pd.read_csv(world.truth / "transactions.csv", dtype=str)
    parties = pd.read_csv(world.truth / "parties.csv", dtype=str)
    persons = pd.read_csv(world.truth / "persons.csv", dtype=str)
    assert not tx.duplicated(["provider", "record_id"]).any()
    assert not parties.duplicated(["provider", "record_id", "party"]).any()
    assert set(parties["person_id"]) <= set(persons["person_id"])
    assert set(tx["person_from"]) | set(tx["person_to"]) <= set(persons["person_id"])
    assert set(persons["role"]) == {"consumer", "facilitator", "intermediary", "none"}
    # abuse payments go from consumers to the networks; cash-out is abuse, the consumer's own card spend is not
    roles = persons.set_index("person_id")["role"]
    pay = tx[tx["typology"].isin(["consumer_payment", "lone_payer_payment", "syndicate_payment"])]
    assert (roles[pay["person_from"]].to_numpy() == "consumer").all()
    assert set(roles[pay["person_to"]]) <= {"facilitator", "intermediary"}
    assert (tx.loc[tx["typology"] == "offender_context", "is_abuse"] == "0").all()
    assert (tx.loc[tx["typology"] == "cash_out", "is_abuse"] == "1").all()
    aligned = pd.read_csv(world.truth / "aligned_pairs.csv", dtype=str)
    assert len(aligned) > 0
    assert set(aligned["txn_record_id"]) <= set(pay["record_id"])
    refs = pd.read_csv(world.truth / "referrals.csv", dtype=str)
    assert refs["record_id"].str.contains("#").all()


def test_malformed_records_are_about_half_a_percent_and_listed(world: WorldResult) -> None:
    tx = pd.read_csv(world.truth / "transactions.csv", dtype=str)
    mal = pd.read_csv(world.truth / "malformed.csv", dtype=str)
    share = (tx["malformed"] == "1").mean()
    assert 0.002 < share < 0.009
    listed = mal[mal["defect"] != "broken_json"]
    assert set(zip(listed["provider"], listed["record_id"], strict=True)) == set(
        zip(tx.loc[tx["malformed"] == "1", "provider"], tx.loc[tx["malformed"] == "1", "record_id"], strict=True))
    assert mal["location"].str.match(r"^(line \d+|/.*CdtTrfTxInf\[\d+\])$").all()
    # the listed CSV line really is the defective record
    for r in listed[listed["location"].str.startswith("line")].head(40).itertuples():
        lines = (world.bundle / r.file).read_bytes().decode("utf-8-sig").splitlines()
        line = lines[int(r.location.split()[1]) - 1]
        if r.defect == "missing_id":
            assert r.record_id not in line
        elif r.defect in ("bad_date", "non_numeric_amount", "unknown_currency"):
            assert r.record_id in line


def test_one_person_many_providers_with_variation(world: WorldResult) -> None:
    parties = pd.read_csv(world.truth / "parties.csv", dtype=str)
    persons = pd.read_csv(world.truth / "persons.csv", dtype=str)
    cons = persons.loc[persons["role"] == "consumer", "person_id"]
    per = parties[parties["person_id"].isin(cons)].groupby("person_id")["provider"].nunique()
    assert (per >= 2).mean() > 0.3
    # the same sender is spelt more than one way across providers
    tx = pd.read_csv(world.truth / "transactions.csv", dtype=str)
    names: dict[str, set[str]] = {}
    for prov in ("remitco", "globesend"):
        for p in sorted((world.bundle / prov).glob("*.csv")):
            df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig", on_bad_lines="skip")
            df.columns = [c.lower() for c in df.columns]
            m = df.merge(tx[["record_id", "person_from"]], left_on="transfer_id", right_on="record_id")
            for pid, name in zip(m["person_from"], m["sender_name"], strict=True):
                names.setdefault(pid, set()).add(name)
    assert sum(len(v) > 1 for v in names.values()) > 0.2 * len(names)
