"""On a synthetic world split between two countries: no raw identifier in any
package, the overlap found, and the command line end to end with its audit trail."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from moneytrail.cli import app
from moneytrail.errors import UserError
from moneytrail.share.encodings import Encoder
from moneytrail.share.exchange import export_package, match_package
from moneytrail.share.keys import load_secret
from moneytrail.share.match import match
from moneytrail.share.scenario import (
    REACHABLE,
    analyst_review,
    evidenced_people,
    reachability,
    score_overlap,
    subject_persons,
    truth_persons,
)
from moneytrail.share.subjects import all_subjects, read_subjects

from .conftest import SECRET_ID, Countries, Unit

BASE64ISH = re.compile(r"^[A-Za-z0-9+/=_-]*$")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def raw_values(countries: Countries) -> set[str]:
    """Every raw identifying value of the world, in the notations it was written in
    and normalised: names, dates of birth, phones, e-mails, accounts, cards,
    documents, addresses and towns, and the subjects' own ids."""
    values: set[str] = set()
    for store in countries.stores.values():
        con = duckdb.connect(str(store), read_only=True)
        rows = con.execute(
            """SELECT name, name_norm, CAST(dob AS VARCHAR), strftime(dob, '%Y%m%d'), phone, phone_e164,
                      email, account, id_number, address, city FROM parties""").fetchall()
        rows += con.execute(
            """SELECT display_name, screen_name, account_id, name_norm, CAST(dob AS VARCHAR), NULL, NULL,
                      NULL, NULL, NULL, NULL FROM referral_subjects""").fetchall()
        rows += [(v, n) for v, n in con.execute("SELECT value, value_norm FROM referral_identifiers").fetchall()]
        rows += [(s,) for (s,) in con.execute("SELECT DISTINCT subject_id FROM subject_records").fetchall()]
        con.close()
        for row in rows:
            for v in row:
                if v:
                    text = str(v).strip()
                    values.update({text, text.lower(), text.upper()})
                    digits = re.sub(r"\D", "", text)
                    if text.startswith("+") and len(digits) >= 8:
                        values.add(digits)  # the phone without its plus
    with (countries.world / "truth" / "persons.csv").open(encoding="utf-8") as fh:
        for line in fh.read().splitlines()[1:]:
            name = line.split(",")[-2].strip('"')
            if name:
                values.update({name, name.lower()})
    return values


def test_packages_hold_no_raw_identifier(countries: Countries, units: tuple[Unit, Unit], tmp_path: Path) -> None:
    a, b = units
    values = raw_values(countries)
    # A value can only be found by chance in base64 text if it is short and made of
    # base64 characters; those under 8 characters are left out (and counted).
    scanned = {v for v in values if len(v) >= 8 or (len(v) >= 4 and not BASE64ISH.match(v)) or re.match(r"^S\d{6}$", v)}
    assert len(scanned) > 5000
    con = duckdb.connect(str(countries.stores["A"]))
    subjects = all_subjects(con)
    pkg = tmp_path / "a.pkg"
    export_package(con, subjects, partner=a.registry.get("FIU-B"), identity=a.identity, out=pkg, actor="t",
                   session=None, selection="all", home=a.home)
    con.close()
    con_b = duckdb.connect(str(countries.stores["B"]))
    result = tmp_path / "result.pkg"
    report = match_package(con_b, pkg, all_subjects(con_b), registry=b.registry, identity=b.identity, actor="t",
                           session=None, out=result, home=b.home)
    con_b.close()
    assert report.rows, "the two countries share people"
    secret = load_secret(SECRET_ID, a.home)
    for path in (pkg, result):
        text = "\n".join(_strings(json.loads(path.read_text())))
        found = sorted(v for v in scanned if v in text)
        assert found == [], f"raw identifiers in {path.name}: {found[:10]}"
        assert secret.hex() not in text and secret.hex().upper() not in text
        assert base64.b64encode(secret).decode() not in text


def test_two_countries_find_their_overlap(countries: Countries) -> None:
    truth = truth_persons(countries.world / "truth")
    enc = Encoder(b"two-countries-secret-32-bytes!!!")
    subjects, values, persons, encoded = {}, {}, {}, {}
    for side, store in countries.stores.items():
        con = duckdb.connect(str(store), read_only=True)
        subjects[side] = all_subjects(con)
        values[side] = read_subjects(con, subjects[side])
        persons[side] = subject_persons(con, truth, subjects[side])
        con.close()
        encoded[side] = enc.encode(values[side])
    result = match(encoded["A"], encoded["B"])
    evidenced = evidenced_people(values["A"], values["B"], persons["A"], persons["B"])
    score = score_overlap(result.matches, subjects["A"], subjects["B"], persons["A"], persons["B"], evidenced)
    assert score.overlap_people > 100
    assert score.precision >= 0.98
    # people both countries know by more than a name (a shared identifier, or a date of birth each)
    assert score.recall_evidenced >= 0.95
    # everyone in both countries' data, including people one side knows only by name
    assert score.recall >= 0.85
    # the people any matcher could tell from their namesakes with what both sides hold
    reach = reachability(values["A"], values["B"], persons["A"], persons["B"])
    assert set(reach) == set(persons["A"].values()) & set(persons["B"].values())
    reachable = {p for p, k in reach.items() if k in REACHABLE}
    on_reach = score_overlap(result.matches, subjects["A"], subjects["B"], persons["A"], persons["B"], reachable)
    assert on_reach.recall_evidenced >= 0.85


def test_a_demanding_analyst_accepts_the_matches(countries: Countries) -> None:
    """Shown both sides' records in clear, an analyst accepts nearly every match for
    the evidence it states (scenario.analyst_review), every identifier and date one."""
    enc = Encoder(b"two-countries-secret-32-bytes!!!")
    values = {}
    for side, store in countries.stores.items():
        con = duckdb.connect(str(store), read_only=True)
        values[side] = read_subjects(con, all_subjects(con))
        con.close()
    result = match(enc.encode(values["A"]), enc.encode(values["B"]))
    review = analyst_review(result.matches, values["A"], values["B"])
    refused = [(m.via, why) for m, why in review if why is not None]
    assert len(review) > 200
    assert len(refused) <= 0.03 * len(review), refused
    assert not [r for r in refused if r[0] == "bloom"], refused
    assert sum(not r[0].startswith("bloom") for r in refused) <= 1, refused


def _env(unit: Unit, tmp: Path) -> dict[str, str]:
    return {"MONEYTRAIL_SHARE_HOME": str(unit.home / "cli"), "MONEYTRAIL_USER": "liaison1",
            "MONEYTRAIL_DATABASE_URL": f"sqlite:///{tmp / (unit.name + '.db')}"}


def _invoke(args: list[str], env: dict[str, str]) -> Any:
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=True)
    if result.exception and not isinstance(result.exception, (UserError, SystemExit)):
        raise result.exception
    return result


def test_command_line_exchange_with_audit(countries: Countries, units: tuple[Unit, Unit], tmp_path: Path) -> None:
    from moneytrail.opstore import OpsStore
    from moneytrail.opstore.audit import entries, verify
    from moneytrail.opstore.models import Case, CaseSubject
    from moneytrail.opstore.users import create_user

    a, b = units
    env_a, env_b = _env(a, tmp_path), _env(b, tmp_path)
    for env in (env_a, env_b):
        with OpsStore(env["MONEYTRAIL_DATABASE_URL"]).session() as s:
            create_user(s, "liaison1", "a long enough password", "liaison")
            create_user(s, "analyst1", "a long enough password", "analyst")
    keys = {}
    for name, env in (("FIU-A", env_a), ("FIU-B", env_b)):
        r = _invoke(["share", "keygen", "--name", name], env)
        assert r.exit_code == 0, r.output
        keys[name] = r.output.strip().splitlines()[-1]
    assert _invoke(["share", "secret", "new", "q1"], env_a).exit_code == 0
    secret_file = tmp_path / "q1.txt"
    secret_file.write_text(_invoke(["share", "secret", "show", "q1"], env_a).output)
    assert _invoke(["share", "secret", "import", "q1", str(secret_file)], env_b).exit_code == 0
    assert _invoke(["share", "partner", "add", "FIU-B", "--public-key", keys["FIU-B"], "--secret-id", "q1",
                    "--contact", "desk@b.example"], env_a).exit_code == 0
    assert _invoke(["share", "partner", "add", "FIU-A", "--public-key", keys["FIU-A"], "--secret-id", "q1"],
                   env_b).exit_code == 0
    assert "FIU-B" in _invoke(["share", "partner", "list"], env_a).output

    store_a, store_b = str(countries.stores["A"]), str(countries.stores["B"])
    pkg = tmp_path / "a.pkg"
    # nothing is scored in this store, so nothing is flagged: a clear error, not an empty package
    r = _invoke(["share", "export", "--partner", "FIU-B", "--out", str(pkg), "--store", store_a], env_a)
    assert isinstance(r.exception, UserError) and "no subjects to export (flagged)" in str(r.exception)
    # an analyst may not share
    r = _invoke(["share", "export", "--partner", "FIU-B", "--out", str(pkg), "--store", store_a, "--all",
                 "--user", "analyst1"], env_a)
    assert isinstance(r.exception, UserError) and "may not share" in str(r.exception)
    # a case's subjects
    con = duckdb.connect(store_a, read_only=True)
    case_subjects = all_subjects(con)[:5]
    con.close()
    with OpsStore(env_a["MONEYTRAIL_DATABASE_URL"]).session() as s:
        s.add(Case(ref="C-000001", kind="subject", title="t", warehouse=store_a,
                   subjects=[CaseSubject(subject_id=x) for x in case_subjects]))
    r = _invoke(["share", "export", "--partner", "FIU-B", "--out", str(tmp_path / "case.pkg"), "--case",
                 "C-000001"], env_a)
    assert r.exit_code == 0, r.output
    assert len(json.loads((tmp_path / "case.pkg").read_text())["payload"]["subjects"]) == 5
    r = _invoke(["share", "export", "--partner", "FIU-B", "--out", str(pkg), "--store", store_a, "--all"], env_a)
    assert r.exit_code == 0, r.output
    n_a = json.loads(pkg.read_text())["payload"]["subjects"]
    result = tmp_path / "result.pkg"
    r = _invoke(["share", "match", str(pkg), "--store", store_b, "--out", str(result)], env_b)
    assert r.exit_code == 0, r.output
    assert "match FIU-A" in r.output and result.exists()
    r = _invoke(["share", "show", str(result)], env_a)
    assert r.exit_code == 0, r.output
    matched = json.loads(result.read_text())["payload"]["matches"]
    assert matched and re.search(r"S\d{6}", r.output), "A reads back which of its subjects matched"

    tampered = tmp_path / "tampered.pkg"
    env = json.loads(pkg.read_text())
    env["payload"]["subjects"][0] = "Rforged0000000000"
    tampered.write_text(json.dumps(env))
    r = _invoke(["share", "match", str(tampered), "--store", store_b], env_b)
    assert isinstance(r.exception, UserError) and "signature does not verify" in str(r.exception)

    with OpsStore(env_a["MONEYTRAIL_DATABASE_URL"]).session() as s:
        log = entries(s, target="partner:FIU-B")
        assert [e.action for e in log][:2] == ["share.result", "share.export"]
        export_entry = next(e for e in log if e.action == "share.export" and e.details["selection"] == "all")
        assert export_entry.actor == "liaison1" and export_entry.details["subjects"] == len(n_a)
        assert any(e.details["selection"] == "case C-000001" and e.details["subjects"] == 5
                   for e in log if e.action == "share.export")
        assert verify(s).ok
    with OpsStore(env_b["MONEYTRAIL_DATABASE_URL"]).session() as s:
        (m,) = entries(s, action="share.match")
        assert m.target == "partner:FIU-A" and m.details["their_subjects"] == len(n_a)
        assert m.details["matches"] == len(matched)


@pytest.mark.parametrize("args", [["share", "export", "--partner", "nobody", "--out", "x.pkg", "--all"]])
def test_unknown_partner_is_a_clear_error(units: tuple[Unit, Unit], tmp_path: Path, args: list[str]) -> None:
    a, _ = units
    r = _invoke([*args, "--home", str(a.home)], _env(a, tmp_path))
    assert isinstance(r.exception, UserError) and "no partner 'nobody'" in str(r.exception)
