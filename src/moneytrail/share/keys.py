"""Our signing identity (Ed25519) and the secrets shared with partners.

Two kinds of key, never mixed up:

* the **identity key** signs our packages; its public half is what partners
  register for us. It is made once per unit (``moneytrail share keygen``).
* a **shared secret** (32 random bytes) keys the encodings. Every partner in an
  exchange must hold the same one, passed once over a secure channel; it is
  named by an id (e.g. ``fiu-2026-q1``) that packages carry, never the secret
  itself.

Both live under the share home (``$MONEYTRAIL_SHARE_HOME``, else ``share/`` in
the user's data directory), written with owner-only permissions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import platformdirs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from moneytrail.errors import UserError

SECRET_BYTES = 32
_SECRET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def share_home(path: Path | None = None) -> Path:
    """Where identity, secrets, the partner registry and export references live."""
    if path is not None:
        return path
    env = os.environ.get("MONEYTRAIL_SHARE_HOME")
    return Path(env) if env else Path(platformdirs.user_data_dir("moneytrail")) / "share"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


# ---------------------------------------------------------------- identity


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key as partners exchange it: 32 bytes, base64."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise UserError(
            "that is not an Ed25519 public key (expected 44 characters of base64, as "
            "`moneytrail share keygen` prints)"
        ) from exc


def fingerprint(public_key: str) -> str:
    """A short, stable name for a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(base64.b64decode(public_key)).hexdigest()[:16]


@dataclass
class Identity:
    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> str:
        return public_key_text(self.private_key.public_key())

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.private_key.sign(data)).decode()


def generate_identity(name: str, home: Path | None = None, *, force: bool = False) -> Identity:
    """Make our unit's signing key; refuses to replace one unless ``force``."""
    name = name.strip()
    if not name:
        raise UserError("give the unit's name: --name, e.g. --name FIU-PH")
    home = share_home(home)
    key_path, meta_path = home / "identity.pem", home / "identity.json"
    if key_path.exists() and not force:
        raise UserError(
            f"an identity key already exists in {home}; partners know its public half. "
            "Use --force to replace it (then send partners the new public key)"
        )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    _write_private(key_path, pem)
    identity = Identity(name, key)
    meta = {"name": name, "public_key": identity.public_key,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return identity


def load_identity(home: Path | None = None) -> Identity:
    home = share_home(home)
    key_path, meta_path = home / "identity.pem", home / "identity.json"
    if not key_path.exists() or not meta_path.exists():
        raise UserError(f"no signing identity in {home}; make one with `moneytrail share keygen --name UNIT`")
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"{key_path} is not an Ed25519 key; make one with `moneytrail share keygen --force`")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    return Identity(str(meta["name"]), key)


def verify_signature(public_key: str, data: bytes, signature: str) -> bool:
    try:
        parse_public_key(public_key).verify(base64.b64decode(signature), data)
    except (InvalidSignature, ValueError):
        return False
    return True


# ---------------------------------------------------------------- shared secrets


def check_secret_id(secret_id: str) -> str:
    if not _SECRET_ID.match(secret_id or ""):
        raise UserError(
            f"bad secret id {secret_id!r}: use letters, digits, '.', '_' or '-' (at most 64), e.g. fiu-2026-q1"
        )
    return secret_id


def _secret_path(secret_id: str, home: Path | None) -> Path:
    return share_home(home) / "secrets" / f"{check_secret_id(secret_id)}.key"


def new_secret(secret_id: str, home: Path | None = None) -> Path:
    """Make a fresh shared secret; refuses to overwrite one (rotation uses a new id)."""
    path = _secret_path(secret_id, home)
    if path.exists():
        raise UserError(f"a secret {secret_id!r} exists already; rotate by making one with a new id")
    _write_private(path, base64.b64encode(secrets.token_bytes(SECRET_BYTES)) + b"\n")
    return path


def import_secret(secret_id: str, text: str, home: Path | None = None) -> Path:
    """Store a secret a partner made (the base64 text of `share secret show`)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise UserError("the secret is not base64 text; copy it exactly as `moneytrail share secret show` prints it") from exc
    if len(raw) < 16:
        raise UserError(f"the secret has {len(raw)} bytes; a shared secret needs at least 16 (32 are made)")
    path = _secret_path(secret_id, home)
    if path.exists() and path.read_bytes().strip() != base64.b64encode(raw):
        raise UserError(f"a different secret {secret_id!r} exists already; use a new id for a new secret")
    _write_private(path, base64.b64encode(raw) + b"\n")
    return path


def load_secret(secret_id: str, home: Path | None = None) -> bytes:
    path = _secret_path(secret_id, home)
    if not path.exists():
        raise UserError(
            f"no shared secret {secret_id!r} here; get it from the partner over a secure channel and "
            f"`moneytrail share secret import {secret_id} FILE`"
        )
    return base64.b64decode(path.read_bytes().strip())


def list_secrets(home: Path | None = None) -> list[str]:
    folder = share_home(home) / "secrets"
    return sorted(p.stem for p in folder.glob("*.key")) if folder.exists() else []
