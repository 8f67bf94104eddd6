"""Export, match and read packages: the steps the command line and the web call.

Each step that sends or receives data about subjects writes an audit entry
(who, which partner, how many subjects) in the caller's operational-store
session. The subjects' references in a package are random; which subject each
stands for is kept here, in the share home's ``exports/`` folder, so that a
partner's reply can be read back and nothing in a package points to our ids.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy.orm import Session

from moneytrail.errors import UserError
from moneytrail.share.encodings import DEFAULT_SCHEMA, ClkSchema, Encoder, key_check
from moneytrail.share.keys import Identity, load_secret, share_home
from moneytrail.share.match import Match, MatchSettings, match
from moneytrail.share.package import (
    decode_encodings,
    encodings_payload,
    read_package,
    result_payload,
    write_package,
)
from moneytrail.share.partners import Partner, Registry
from moneytrail.share.subjects import read_subjects


def _audit(session: Session | None, actor: str, action: str, partner: str, details: dict[str, Any]) -> None:
    if session is None:
        return
    from moneytrail.opstore.audit import record

    record(session, actor, action, f"partner:{partner}", details=details)


def _new_refs(n: int) -> list[str]:
    refs: set[str] = set()
    while len(refs) < n:
        refs.add("R" + secrets.token_hex(8))
    return list(refs)


def _save_refs(home: Path | None, package_id: str, partner: str, warehouse: str,
               refs: dict[str, str]) -> Path:
    folder = share_home(home) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{package_id}.json"
    path.write_text(json.dumps({"package_id": package_id, "partner": partner, "warehouse": warehouse,
                                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                "refs": refs}, indent=1) + "\n", encoding="utf-8")
    return path


def load_refs(package_id: str, home: Path | None = None) -> dict[str, str] | None:
    """Our reference -> subject id for a package we made, if we still have it."""
    path = share_home(home) / "exports" / f"{package_id}.json"
    if not path.exists():
        return None
    return dict(json.loads(path.read_text(encoding="utf-8"))["refs"])


@dataclass
class ExportReport:
    path: Path
    package_id: str
    partner: str
    subjects: int
    clks: int
    tokens: int


def export_package(con: duckdb.DuckDBPyConnection, subject_ids: list[str], *, partner: Partner,
                   identity: Identity, out: Path, actor: str, session: Session | None,
                   selection: str, warehouse: str = "", home: Path | None = None,
                   schema: ClkSchema = DEFAULT_SCHEMA) -> ExportReport:
    """Encode the subjects and write a signed package for ``partner``."""
    if not subject_ids:
        raise UserError(f"no subjects to export ({selection}); choose --all or --case REF")
    secret = load_secret(partner.secret_id, home)
    values = read_subjects(con, subject_ids)
    encoded = Encoder(secret, schema).encode(values)
    refs = _new_refs(len(values))
    payload = encodings_payload(encoded, refs, schema, sender=identity.name, recipient=partner.name,
                                secret_id=partner.secret_id, key_check=key_check(secret))
    write_package(out, payload, identity)
    _save_refs(home, payload["package_id"], partner.name, warehouse,
               {r: v.ref for r, v in zip(refs, values, strict=True)})
    report = ExportReport(out, payload["package_id"], partner.name, len(values), len(encoded.clks),
                          len(encoded.tokens))
    _audit(session, actor, "share.export", partner.name,
           {"subjects": report.subjects, "selection": selection, "package": report.package_id,
            "clks": report.clks, "tokens": report.tokens, "file": str(out)})
    return report


@dataclass
class MatchRow:
    subject_id: str
    their_ref: str
    similarity: float
    via: str


@dataclass
class MatchReport:
    partner: str
    their_package: str
    ours: int
    theirs: int
    rows: list[MatchRow]
    stats: dict[str, float] = field(default_factory=dict)
    result_path: Path | None = None


def match_package(con: duckdb.DuckDBPyConnection, theirs_path: Path, subject_ids: list[str], *,
                  registry: Registry, identity: Identity, actor: str, session: Session | None,
                  out: Path | None = None, warehouse: str = "", home: Path | None = None,
                  settings: MatchSettings | None = None) -> MatchReport:
    """Verify their package, encode our subjects the same way, match, and
    optionally write the signed result for them."""
    payload, partner = read_package(theirs_path, registry)
    if payload.get("kind") != "encodings":
        raise UserError(f"{theirs_path} is a match result; read it with `moneytrail share show`")
    if payload.get("recipient") not in (identity.name, None):
        raise UserError(f"{theirs_path} is addressed to {payload.get('recipient')!r}, not to us ({identity.name})")
    secret_id = str(payload.get("secret_id"))
    if secret_id != partner.secret_id:
        raise UserError(f"{partner.name} encoded under secret {secret_id!r}, but the registry says we share "
                        f"{partner.secret_id!r} with them; agree on one and update the registry")
    secret = load_secret(secret_id, home)
    if payload.get("key_check") != key_check(secret):
        raise UserError(f"our secret {secret_id!r} is not the one {partner.name} used; "
                        "check with them and import the right one")
    theirs, schema = decode_encodings(payload)
    values = read_subjects(con, subject_ids)
    ours = Encoder(secret, schema).encode(values, block_bits=theirs.block_bits)
    settings = settings or MatchSettings(strong_mask=schema.strong_mask())
    result = match(ours, theirs, settings)
    rows = [MatchRow(values[m.ours].ref, theirs.refs[m.theirs], m.similarity, m.via) for m in result.matches]
    report = MatchReport(partner.name, str(payload["package_id"]), len(values), theirs.n_subjects, rows,
                         result.stats)
    result_id = None
    if out is not None:
        report.result_path, result_id = _write_result(result.matches, values, theirs.refs, payload, partner,
                                                      identity, out, warehouse, home)
    _audit(session, actor, "share.match", partner.name,
           {"subjects": len(values), "their_subjects": theirs.n_subjects, "matches": len(rows),
            "package": report.their_package, "result_package": result_id})
    return report


def _write_result(matches: list[Match], values: list[Any], their_refs: list[str], payload: dict[str, Any],
                  partner: Partner, identity: Identity, out: Path, warehouse: str,
                  home: Path | None) -> tuple[Path, str]:
    matched = sorted({m.ours for m in matches})
    our_refs = dict(zip(matched, _new_refs(len(matched)), strict=True))
    rows = [{"their_ref": their_refs[m.theirs], "our_ref": our_refs[m.ours], "similarity": m.similarity,
             "via": m.via} for m in matches]
    res = result_payload(str(payload["package_id"]), rows, sender=identity.name, recipient=partner.name,
                         compared=len(values))
    write_package(out, res, identity)
    _save_refs(home, res["package_id"], partner.name, warehouse,
               {our_refs[i]: values[i].ref for i in matched})
    return out, str(res["package_id"])


@dataclass
class PackageSummary:
    partner: str
    kind: str
    package_id: str
    created_at: str
    facts: dict[str, Any]
    rows: list[dict[str, Any]]


def read_result(path: Path, *, registry: Registry, actor: str, session: Session | None,
                home: Path | None = None) -> PackageSummary:
    """Verify any package and say what it holds; for a reply to one of our
    packages, name our subjects that matched."""
    payload, partner = read_package(path, registry)
    kind = str(payload["kind"])
    facts: dict[str, Any] = {"sender": partner.name, "recipient": payload.get("recipient")}
    rows: list[dict[str, Any]] = []
    if kind == "encodings":
        facts.update({"subjects": len(payload.get("subjects", [])), "clks": len(payload.get("clks", [])),
                      "tokens": len(payload.get("tokens", [])), "secret_id": payload.get("secret_id"),
                      "schema": payload.get("schema", {}).get("id")})
    else:
        ours = load_refs(str(payload.get("in_reply_to")), home) or {}
        facts.update({"in_reply_to": payload.get("in_reply_to"), "matches": len(payload.get("matches", [])),
                      "their_subjects_compared": payload.get("subjects_compared")})
        for m in payload.get("matches", []):
            rows.append({"subject_id": ours.get(str(m.get("their_ref")), "?"), "our_ref": m.get("their_ref"),
                         "their_ref": m.get("our_ref"), "similarity": m.get("similarity"), "via": m.get("via")})
        _audit(session, actor, "share.result", partner.name,
               {"subjects": len(rows), "package": payload.get("package_id"),
                "in_reply_to": payload.get("in_reply_to")})
    return PackageSummary(partner.name, kind, str(payload.get("package_id")), str(payload.get("created_at")),
                          facts, rows)
