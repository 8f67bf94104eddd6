"""The signed, versioned package format.

A package is one JSON document::

    {"format": "moneytrail-share", "version": 1,
     "payload": {...},
     "signature": {"alg": "Ed25519", "signer": "FIU-PH", "key": "<fingerprint>", "value": "<base64>"}}

The signature covers the payload's canonical JSON (sorted keys, no spaces,
ASCII). Two kinds of payload:

* ``encodings``: per subject an opaque reference, its tokens (kind and keyed
  hash) and its CLKs (field set, base64 bits, block buckets); plus the CLK
  schema, the shared secret's *id* and a key check. Never a raw identifier,
  never the secret.
* ``match-result``: in reply to an ``encodings`` package, the pairs
  (their reference, our reference, similarity, evidence) and nothing else.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from moneytrail.errors import UserError
from moneytrail.share.encodings import ClkSchema, EncodedSet
from moneytrail.share.keys import Identity, verify_signature
from moneytrail.share.partners import Partner, Registry

FORMAT = "moneytrail-share"
VERSION = 1
KINDS = ("encodings", "match-result")


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def new_package_id() -> str:
    return uuid.uuid4().hex


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def encodings_payload(encoded: EncodedSet, refs: list[str], schema: ClkSchema, *, sender: str,
                      recipient: str, secret_id: str, key_check: str) -> dict[str, Any]:
    """The payload of an encodings package; ``refs`` replace the subjects' own ids."""
    if len(refs) != encoded.n_subjects:
        raise ValueError("one reference per subject")
    raw = encoded.clks.astype(">u8").tobytes()
    width = encoded.clks.shape[1] * 8
    buckets: list[list[int]] = [[] for _ in range(len(encoded.clks))]
    for c, b in zip(encoded.block_clk.tolist(), encoded.block_bucket.tolist(), strict=True):
        buckets[c].append(b)
    clks = [
        {"s": int(s), "m": int(m), "f": int(f), "b": base64.b64encode(raw[i * width:(i + 1) * width]).decode(),
         "k": buckets[i]}
        for i, (s, m, f) in enumerate(zip(encoded.clk_owner.tolist(), encoded.clk_mask.tolist(),
                                          encoded.clk_full.tolist(), strict=True))
    ]
    tokens = [{"s": int(s), "kind": k, "t": t}
              for s, k, t in zip(encoded.token_owner.tolist(), encoded.token_kind, encoded.tokens, strict=True)]
    return {
        "kind": "encodings",
        "package_id": new_package_id(),
        "created_at": _now(),
        "sender": sender,
        "recipient": recipient,
        "secret_id": secret_id,
        "key_check": key_check,
        "schema": schema.as_dict(),
        "block_bits": encoded.block_bits,
        "subjects": refs,
        "clks": clks,
        "tokens": tokens,
    }


def result_payload(in_reply_to: str, matches: list[dict[str, Any]], *, sender: str, recipient: str,
                   compared: int) -> dict[str, Any]:
    return {
        "kind": "match-result",
        "package_id": new_package_id(),
        "created_at": _now(),
        "sender": sender,
        "recipient": recipient,
        "in_reply_to": in_reply_to,
        "subjects_compared": compared,
        "matches": matches,
    }


def write_package(path: Path, payload: dict[str, Any], identity: Identity) -> Path:
    if payload.get("kind") not in KINDS:
        raise ValueError(f"unknown package kind {payload.get('kind')!r}")
    envelope = {
        "format": FORMAT,
        "version": VERSION,
        "payload": payload,
        "signature": {"alg": "Ed25519", "signer": identity.name, "key": identity.fingerprint,
                      "value": identity.sign(canonical(payload))},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(envelope, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def read_package(path: Path, registry: Registry) -> tuple[dict[str, Any], Partner]:
    """The verified payload and the partner who signed it; anything else is refused."""
    if not path.exists():
        raise UserError(f"no package at {path}")
    try:
        envelope = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a moneytrail sharing package (not JSON: {exc})") from exc
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise UserError(f"{path} is not a moneytrail sharing package")
    if envelope.get("version") != VERSION:
        raise UserError(f"{path} is package version {envelope.get('version')!r}; this moneytrail reads "
                        f"version {VERSION}: ask the sender to export with a matching version")
    payload, sig = envelope.get("payload"), envelope.get("signature")
    if not isinstance(sig, dict) or not sig.get("value"):
        raise UserError(f"{path} is not signed; refusing it. Ask the sender for a signed package")
    if not isinstance(payload, dict):
        raise UserError(f"{path} has no payload")
    signer = str(sig.get("signer", ""))
    partner = registry.partners.get(signer) or registry.by_key(str(sig.get("key", "")))
    if partner is None:
        raise UserError(f"{path} is signed by {signer!r}, who is not in the partner registry {registry.path}; "
                        "add them with `moneytrail share partner add` after checking their key with them")
    if sig.get("alg") != "Ed25519" or not verify_signature(partner.public_key, canonical(payload), str(sig["value"])):
        raise UserError(f"{path}: the signature does not verify with {partner.name}'s registered key; the "
                        "package was altered or not made by them. Refusing it")
    if payload.get("sender") != partner.name:
        raise UserError(f"{path} says it is from {payload.get('sender')!r} but is signed by {partner.name}; refusing it")
    if payload.get("kind") not in KINDS:
        raise UserError(f"{path} holds an unknown kind of package {payload.get('kind')!r}")
    return payload, partner


def decode_encodings(payload: dict[str, Any]) -> tuple[EncodedSet, ClkSchema]:
    """The arrays of an ``encodings`` payload."""
    if payload.get("kind") != "encodings":
        raise UserError("this package holds a match result, not encodings; use `moneytrail share show`")
    schema = ClkSchema.from_dict(payload["schema"])
    try:
        refs = [str(r) for r in payload["subjects"]]
        clks = payload["clks"]
        raw = b"".join(base64.b64decode(c["b"]) for c in clks)
        if len(raw) != len(clks) * schema.words * 8:
            raise ValueError("CLK of the wrong length")
        arr = np.frombuffer(raw, dtype=">u8").reshape(len(clks), schema.words).astype(np.uint64)
        block_clk = [i for i, c in enumerate(clks) for _ in c["k"]]
        block_bucket = [b for c in clks for b in c["k"]]
        tokens = payload["tokens"]
        encoded = EncodedSet(
            refs=refs,
            clks=arr,
            clk_owner=np.asarray([c["s"] for c in clks], dtype=np.int64),
            clk_mask=np.asarray([c["m"] for c in clks], dtype=np.int64),
            clk_full=np.asarray([c["f"] for c in clks], dtype=np.int64),
            block_clk=np.asarray(block_clk, dtype=np.int64),
            block_bucket=np.asarray(block_bucket, dtype=np.int64),
            block_bits=int(payload["block_bits"]),
            tokens=[str(t["t"]) for t in tokens],
            token_kind=[str(t["kind"]) for t in tokens],
            token_owner=np.asarray([t["s"] for t in tokens], dtype=np.int64),
            subsets=schema.subsets,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"the package's encodings are malformed ({exc}); ask the sender to re-export") from exc
    owners = np.concatenate([encoded.clk_owner, encoded.token_owner])
    if len(owners) and (owners.max() >= len(refs) or owners.min() < 0):
        raise UserError("the package's encodings refer to subjects it does not list")
    if not 1 <= encoded.block_bits <= 40:
        raise UserError(f"the package's block_bits {encoded.block_bits} is out of range; ask the sender to re-export")
    return encoded, schema
