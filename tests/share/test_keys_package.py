from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from moneytrail.errors import UserError
from moneytrail.share.encodings import (
    DEFAULT_SCHEMA,
    Encoder,
    key_check,
    make_profile,
    subject_values,
)
from moneytrail.share.keys import (
    generate_identity,
    import_secret,
    list_secrets,
    load_identity,
    load_secret,
    new_secret,
    parse_public_key,
    verify_signature,
)
from moneytrail.share.package import (
    canonical,
    decode_encodings,
    encodings_payload,
    read_package,
    write_package,
)
from moneytrail.share.partners import Registry

from .conftest import SECRET_ID, Unit


def test_identity_is_kept_private_and_not_replaced_by_accident(tmp_path: Path) -> None:
    ident = generate_identity("FIU-X", tmp_path)
    assert stat.S_IMODE((tmp_path / "identity.pem").stat().st_mode) == 0o600
    with pytest.raises(UserError, match="already exists"):
        generate_identity("FIU-X", tmp_path)
    again = load_identity(tmp_path)
    assert again.name == "FIU-X" and again.public_key == ident.public_key
    replaced = generate_identity("FIU-X", tmp_path, force=True)
    assert replaced.public_key != ident.public_key
    with pytest.raises(UserError, match="keygen"):
        load_identity(tmp_path / "elsewhere")


def test_signatures_verify_only_unchanged_data(tmp_path: Path) -> None:
    ident = generate_identity("FIU-X", tmp_path)
    sig = ident.sign(b"payload")
    assert verify_signature(ident.public_key, b"payload", sig)
    assert not verify_signature(ident.public_key, b"payloaD", sig)
    other = generate_identity("FIU-Y", tmp_path / "y")
    assert not verify_signature(other.public_key, b"payload", sig)
    with pytest.raises(UserError, match="Ed25519 public key"):
        parse_public_key("not a key")


def test_shared_secrets(tmp_path: Path) -> None:
    path = new_secret("fiu-2026-q1", tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = load_secret("fiu-2026-q1", tmp_path)
    assert len(secret) == 32
    with pytest.raises(UserError, match="rotate"):
        new_secret("fiu-2026-q1", tmp_path)
    # a partner imports it and gets the same bytes; a different secret under that id is refused
    import_secret("fiu-2026-q1", base64.b64encode(secret).decode(), tmp_path / "p")
    assert load_secret("fiu-2026-q1", tmp_path / "p") == secret
    with pytest.raises(UserError, match="different secret"):
        import_secret("fiu-2026-q1", base64.b64encode(b"z" * 32).decode(), tmp_path / "p")
    with pytest.raises(UserError, match="at least 16"):
        import_secret("tiny", base64.b64encode(b"z" * 8).decode(), tmp_path)
    with pytest.raises(UserError, match="bad secret id"):
        new_secret("../etc/passwd", tmp_path)
    with pytest.raises(UserError, match="secret import"):
        load_secret("never-made", tmp_path)
    assert list_secrets(tmp_path) == ["fiu-2026-q1"]


def test_registry(tmp_path: Path) -> None:
    ident = generate_identity("FIU-B", tmp_path / "b")
    reg = Registry(tmp_path / "partners.json")
    reg.add("FIU-B", ident.public_key, "s1", "desk@fiu-b.example")
    with pytest.raises(UserError, match="registered already"):
        reg.add("FIU-B", ident.public_key, "s1")
    again = Registry(tmp_path / "partners.json")
    assert again.get("FIU-B").fingerprint == ident.fingerprint
    assert [p.name for p in again] == ["FIU-B"]
    with pytest.raises(UserError, match="no partner 'FIU-C'"):
        again.get("FIU-C")
    with pytest.raises(UserError, match="public key"):
        again.add("FIU-C", "abc", "s1")
    again.remove("FIU-B")
    assert list(Registry(tmp_path / "partners.json")) == []


def _package(unit: Unit, to: str, out: Path) -> Path:
    secret = load_secret(SECRET_ID, unit.home)
    s = subject_values("S000001", [make_profile("Maria Santos", "1990-03-04", "Cebu")],
                       [("phone", "+639175550101")])
    enc = Encoder(secret).encode([s])
    payload = encodings_payload(enc, ["Rref1"], DEFAULT_SCHEMA, sender=unit.name, recipient=to,
                                secret_id=SECRET_ID, key_check=key_check(secret))
    return write_package(out, payload, unit.identity)


def test_package_roundtrip(units: tuple[Unit, Unit], tmp_path: Path) -> None:
    a, b = units
    path = _package(a, "FIU-B", tmp_path / "a.pkg")
    payload, partner = read_package(path, b.registry)
    assert partner.name == "FIU-A"
    encoded, schema = decode_encodings(payload)
    assert schema == DEFAULT_SCHEMA and encoded.refs == ["Rref1"] and len(encoded.tokens) == 1
    original = Encoder(load_secret(SECRET_ID, a.home)).encode(
        [subject_values("x", [make_profile("Maria Santos", "1990-03-04", "Cebu")], [])])
    assert (encoded.clks == original.clks).all()
    text = path.read_text()
    secret = load_secret(SECRET_ID, a.home)
    for form in (secret.hex(), base64.b64encode(secret).decode(), "S000001", "Maria", "santos", "+639175550101"):
        assert form.lower() not in text.lower()


def test_tampered_unsigned_and_unknown_packages_are_refused(units: tuple[Unit, Unit], tmp_path: Path) -> None:
    a, b = units
    path = _package(a, "FIU-B", tmp_path / "a.pkg")
    env = json.loads(path.read_text())

    def write(name: str, e: dict[str, object]) -> Path:
        p = tmp_path / name
        p.write_text(json.dumps(e))
        return p

    tampered = json.loads(json.dumps(env))
    tampered["payload"]["subjects"] = ["Rother"]
    with pytest.raises(UserError, match="signature does not verify"):
        read_package(write("t.pkg", tampered), b.registry)
    bit = json.loads(json.dumps(env))
    clk = bytearray(base64.b64decode(bit["payload"]["clks"][0]["b"]))
    clk[0] ^= 1
    bit["payload"]["clks"][0]["b"] = base64.b64encode(bytes(clk)).decode()
    with pytest.raises(UserError, match="signature does not verify"):
        read_package(write("bit.pkg", bit), b.registry)
    unsigned = {k: v for k, v in env.items() if k != "signature"}
    with pytest.raises(UserError, match="not signed"):
        read_package(write("u.pkg", unsigned), b.registry)
    with pytest.raises(UserError, match="not in the partner registry"):
        read_package(path, Registry(tmp_path / "empty.json"))
    old = {**env, "version": 99}
    with pytest.raises(UserError, match="version"):
        read_package(write("v.pkg", old), b.registry)
    with pytest.raises(UserError, match="not a moneytrail sharing package"):
        read_package(write("x.pkg", {"hello": 1}), b.registry)
    # signed by A but claiming to come from someone else
    forged = json.loads(json.dumps(env))
    forged["payload"]["sender"] = "FIU-C"
    forged["signature"]["value"] = a.identity.sign(canonical(forged["payload"]))
    with pytest.raises(UserError, match="signed by FIU-A"):
        read_package(write("f.pkg", forged), b.registry)


def test_malformed_encodings_are_refused(units: tuple[Unit, Unit], tmp_path: Path) -> None:
    a, b = units
    payload, _ = read_package(_package(a, "FIU-B", tmp_path / "a.pkg"), b.registry)
    for change, message in (
        (lambda p: p["clks"][0].update(s=5), "does not list"),
        (lambda p: p["clks"][0].update(b="AAAA"), "malformed"),
        (lambda p: p.update(block_bits=99), "out of range"),
        (lambda p: p["schema"].update(length=1000), "power of two"),
    ):
        broken = json.loads(json.dumps(payload))
        change(broken)
        with pytest.raises(UserError, match=message):
            decode_encodings(broken)
