"""Privacy-preserving encodings of a subject's identifiers under a shared secret.

Two kinds, as in the published clkhash/anonlink scheme (Schnell, Bachteler and
Reiher's cryptographic long-term keys):

* **Tokens**: keyed hashes (HMAC-SHA256) of normalised strong identifiers
  (email, phone in E.164, account, card token, IBAN, identity document). Equal
  identifiers give equal tokens; nothing else can be read from them.
* **CLKs**: Bloom filters of each profile (name, date of birth, city, country),
  one per field set (see ``ClkSchema.subsets``). Each
  field's q-grams are hashed into ``length`` bits by double hashing with two
  keyed HMACs, ``g_i(x) = (h1(x) + i * h2(x)) mod length``; a field's weight is
  the number of bits it sets in all (clkhash's ``bitsPerFeature``), split
  evenly among its q-grams, or a number of bits per q-gram (``bitsPerToken``). Similar values give filters with a high Dice
  coefficient, so typos and abbreviations still match.

Every key is derived from the partners' shared secret with HKDF-SHA256, one
per purpose and per field, so the same q-gram lands on different bits in
different fields and a token can never be compared with a filter bit. clkhash
uses HMAC-SHA1 and HMAC-MD5 for the two hashes; we use HMAC-SHA256 under two
keys and force the step ``h2`` odd, which (with a power-of-two length) keeps
all ``k`` positions of a q-gram distinct (clkhash's "non-singular" fix).

Blocking keys (the sorted name, the date of birth, each name token with another
token's initial or with the birth year) are hashed with their own key and
*coarsened* into ``2**block_bits`` buckets: a bucket mixes several keys, so a
package shows which profiles *may* share a key, never which key, and the
receiver compares only profiles that share a bucket.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from moneytrail.errors import UserError
from moneytrail.normalise import normalise_email, normalise_name, normalise_phone

KDF_SALT = b"moneytrail-share/1"
# Identifier kinds that are shared as tokens, in the order they are reported.
TOKEN_KINDS = ("email", "phone", "id_doc", "iban", "card", "account")


@dataclass(frozen=True)
class FieldSpec:
    """One field of the CLK: how it is cut into q-grams and how many bits it sets."""

    name: str
    q: int = 2
    positional: bool = False
    bits: int = 200
    strong: bool = False
    """Agreement on this field (a date of birth) makes a fuzzy match trustworthy;
    agreement on the name and weak fields alone needs a higher similarity."""
    per_gram: int = 0
    """Bits each q-gram sets (clkhash's ``bitsPerToken``); 0: ``bits`` in all, split
    among the value's q-grams (``bitsPerFeature``). Per q-gram, a short name's bits
    are a subset of a longer one's ("linda adams" in "linda margaret adams")."""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "q": self.q, "positional": self.positional, "bits": self.bits,
                "strong": self.strong, "per_gram": self.per_gram}


@dataclass(frozen=True)
class ClkSchema:
    """The encoding both partners must agree on; it travels in every package."""

    fields: tuple[FieldSpec, ...]
    length: int = 1024
    id: str = "moneytrail-clk-1"
    subsets: bool = True
    """Also encode each profile without some of its optional fields (every field
    but the first), so that a profile missing its date of birth is compared with
    the other side's on the fields both have. See "Field sets" in docs/sharing.md."""

    def __post_init__(self) -> None:
        if self.length < 64 or self.length > 16384 or self.length & (self.length - 1):
            raise UserError(f"CLK length {self.length} must be a power of two from 64 to 16384")
        if len({f.name for f in self.fields}) != len(self.fields) or not self.fields:
            raise UserError("a CLK schema needs one or more fields with distinct names")
        for f in self.fields:
            if f.q < 1 or f.bits < 1 or f.per_gram < 0:
                raise UserError(f"field {f.name!r}: q and bits must be positive")

    @property
    def words(self) -> int:
        return self.length // 64

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "length": self.length, "subsets": self.subsets,
                "fields": [f.as_dict() for f in self.fields]}

    def mask(self, names: Iterable[str]) -> int:
        """Bit i set for field i: the field set a CLK encodes."""
        wanted = set(names)
        return sum(1 << i for i, f in enumerate(self.fields) if f.name in wanted)

    def strong_mask(self) -> int:
        return self.mask(f.name for f in self.fields if f.strong)

    def field_sets(self, full: int) -> list[int]:
        """The field sets a profile with fields ``full`` is encoded under: ``full``
        itself and, with ``subsets``, each part of it that keeps the first field."""
        if not self.subsets or not full & 1 or len(self.fields) > 5:
            return [full]
        optional = [1 << i for i in range(1, len(self.fields)) if full & (1 << i)]
        sets = []
        for n in range(1 << len(optional)):
            m = 1 | sum(bit for j, bit in enumerate(optional) if n >> j & 1)
            sets.append(m)
        return sorted(sets, reverse=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ClkSchema:
        try:
            fields = tuple(
                FieldSpec(str(f["name"]), int(f["q"]), bool(f["positional"]), int(f["bits"]),
                          bool(f.get("strong", False)), int(f.get("per_gram", 0)))
                for f in d["fields"]
            )
            return cls(fields, int(d["length"]), str(d["id"]), bool(d.get("subsets", True)))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"the package's CLK schema is malformed ({exc}); ask the sender to re-export") from exc


# clkhash's FEBRL schema gives names 2 x 200 bits, the date of birth 200 and the suburb
# 100. Ours gives the date more and the name less: with 400/200, "John Smith" born in
# 1971 and "John Smith" born in 1988 still reach Dice 0.86 and match; with 300/400 they
# fall under 0.8, and FEBRL4 loses nothing (bench/share.py; docs/sharing.md). The name
# sets 15 bits per bigram (about 300 for a two-word name), so that a name written
# without its middle name is a near-subset of the full one (see
# ``MatchSettings.part_threshold``); the country (residence, as each record states it)
# tells apart namesakes of different countries.
DEFAULT_SCHEMA = ClkSchema(
    (
        FieldSpec("name", q=2, positional=False, bits=300, per_gram=15),
        FieldSpec("dob", q=1, positional=True, bits=400, strong=True),
        FieldSpec("city", q=2, positional=False, bits=100),
        FieldSpec("country", q=2, positional=False, bits=50),
    ),
    id="moneytrail-clk-2",
)


def qgrams(value: str, q: int, positional: bool) -> list[str]:
    """The q-grams clkhash feeds to the hashes: padded with a space each side, or
    numbered by position (so "19700502" and "19700205" share only some)."""
    if not value:
        return []
    if positional:
        return [f"{i + 1} {value[i:i + q]}" for i in range(max(1, len(value) - q + 1))]
    padded = f" {value} "
    return [padded[i : i + q] for i in range(len(padded) - q + 1)]


def _hkdf(secret: bytes, info: str, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=KDF_SALT, info=info.encode()).derive(secret)


def _mac(key: bytes, message: str) -> bytes:
    return hmac.digest(key, message.encode("utf-8"), hashlib.sha256)


def key_check(secret: bytes) -> str:
    """A short MAC of a constant: lets a receiver tell that both sides hold the same
    secret before matching, and reveals nothing about the secret."""
    return base64.urlsafe_b64encode(_hkdf(secret, "check", 12)).decode()


# ---------------------------------------------------------------- normalising


def fold(value: str | None) -> str | None:
    """Lower-case ASCII with punctuation as single spaces (as the resolver folds towns)."""
    return normalise_name(value)


def name_key(name: str | None) -> str | None:
    """The name as the resolver compares it: folded, tokens sorted ("SMITH John" = "john smith")."""
    norm = normalise_name(name)
    return " ".join(sorted(norm.split())) if norm else None


def dob_key(dob: date | datetime | str | None) -> str | None:
    """YYYYMMDD, from a date or an ISO/compact string."""
    if dob is None or dob == "":
        return None
    if isinstance(dob, datetime | date):
        return dob.strftime("%Y%m%d")
    digits = "".join(ch for ch in str(dob) if ch.isdigit())
    return digits[:8] if len(digits) >= 8 else None


def normalise_identifier(kind: str, value: str | None, country: str | None = None) -> str | None:
    """The form both partners hash, so "0917 555 0101" (PH) and "+639175550101" give one token."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if kind == "phone":
        return normalise_phone(text, country)
    if kind == "email":
        return normalise_email(text)
    if kind == "iban":
        return "".join(text.split()).upper() or None
    if kind == "id_doc":
        doc_type, _, number = text.rpartition(":")
        number = "".join(ch for ch in number if ch.isalnum()).upper()
        return f"{doc_type.strip().upper()}:{number}" if number else None
    if kind in ("card", "account"):
        return text
    raise UserError(f"unknown identifier kind {kind!r}; use one of {', '.join(TOKEN_KINDS)}")


# ---------------------------------------------------------------- the encoder


@dataclass
class Profile:
    """One way a subject is written down: the CLK fields, already normalised."""

    values: dict[str, str | None]


@dataclass
class SubjectValues:
    """What we know of one subject, before encoding."""

    ref: str
    profiles: list[Profile]
    identifiers: list[tuple[str, str]]  # (kind, normalised value)


@dataclass
class EncodedSet:
    """Encodings of a list of subjects, in arrays the matcher works on.

    Row ``i`` of ``clks`` encodes the fields ``clk_mask[i]`` of a profile whose
    own fields are ``clk_full[i]``, of subject ``clk_owner[i]``; ``block_clk[j]``
    is in bucket ``block_bucket[j]``; token ``tokens[t]`` (of ``token_kind[t]``)
    belongs to subject ``token_owner[t]``.
    """

    refs: list[str]
    clks: np.ndarray  # (n_clk, words) uint64
    clk_owner: np.ndarray  # (n_clk,) int64
    clk_mask: np.ndarray  # (n_clk,) int64
    clk_full: np.ndarray  # (n_clk,) int64
    block_clk: np.ndarray  # (n_blocks,) int64
    block_bucket: np.ndarray  # (n_blocks,) int64
    block_bits: int
    tokens: list[str] = field(default_factory=list)
    token_kind: list[str] = field(default_factory=list)
    token_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    subsets: bool = True
    """Encoded with ``ClkSchema.subsets``: compare profiles on the fields both have;
    without, every CLK is compared with every other, as clkhash does."""

    @property
    def n_subjects(self) -> int:
        return len(self.refs)


class Encoder:
    """Turns subjects into tokens, CLKs and coarse block buckets under one secret."""

    def __init__(self, secret: bytes, schema: ClkSchema = DEFAULT_SCHEMA):
        if len(secret) < 16:
            raise UserError("the shared secret is too short (under 16 bytes); make one with `moneytrail share secret new`")
        self.schema = schema
        self._token_key = _hkdf(secret, "token")
        self._block_key = _hkdf(secret, "block")
        self._field_keys = {
            f.name: (_hkdf(secret, f"clk/{schema.id}/{f.name}/1"), _hkdf(secret, f"clk/{schema.id}/{f.name}/2"))
            for f in schema.fields
        }
        self._gram_cache: dict[tuple[str, str], tuple[int, int]] = {}
        self._bucket_cache: dict[str, int] = {}

    # -- tokens
    def token(self, kind: str, value: str) -> str:
        """128 bits of HMAC-SHA256 over kind and normalised value, URL-safe base64."""
        digest = _mac(self._token_key, f"{kind}\x00{value}")[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    # -- CLKs
    def _gram_hashes(self, field_name: str, gram: str) -> tuple[int, int]:
        key = (field_name, gram)
        cached = self._gram_cache.get(key)
        if cached is None:
            k1, k2 = self._field_keys[field_name]
            n = self.schema.length
            h1 = int.from_bytes(_mac(k1, gram)[:8], "big") % n
            h2 = (int.from_bytes(_mac(k2, gram)[:8], "big") % n) | 1
            cached = (h1, h2)
            self._gram_cache[key] = cached
        return cached

    def full_mask(self, profile: Profile) -> int:
        return self.schema.mask(f.name for f in self.schema.fields if profile.values.get(f.name))

    def clk_matrix(self, profiles: Sequence[Profile], masks: Sequence[int] | None = None) -> np.ndarray:
        """Bloom filters of the profiles (of the fields in ``masks[i]``, default all)
        as a ``(n, length // 64)`` uint64 array."""
        n, length = len(profiles), self.schema.length
        out = np.zeros((n, self.schema.words), dtype=np.uint64)
        specs = list(enumerate(self.schema.fields))
        chunk = 20_000
        for start in range(0, n, chunk):
            part = profiles[start : start + chunk]
            rows: list[int] = []
            h1s: list[int] = []
            h2s: list[int] = []
            ks: list[int] = []
            for r, profile in enumerate(part):
                mask = masks[start + r] if masks is not None else -1
                for bit, spec in specs:
                    value = profile.values.get(spec.name) if mask >> bit & 1 else None
                    grams = qgrams(value, spec.q, spec.positional) if value else []
                    if not grams:
                        continue
                    k = spec.per_gram or max(1, round(spec.bits / len(grams)))
                    for gram in grams:
                        h1, h2 = self._gram_hashes(spec.name, gram)
                        rows.append(r)
                        h1s.append(h1)
                        h2s.append(h2)
                        ks.append(k)
            bits = np.zeros((len(part), length), dtype=bool)
            if rows:
                k_arr = np.asarray(ks, dtype=np.int64)
                rep = np.repeat(np.arange(len(ks)), k_arr)
                i = np.arange(len(rep)) - np.repeat(np.cumsum(k_arr) - k_arr, k_arr)  # 0..k-1
                pos = (np.asarray(h1s, dtype=np.int64)[rep] + i * np.asarray(h2s, dtype=np.int64)[rep]) % length
                bits[np.asarray(rows, dtype=np.int64)[rep], pos] = True
            packed = np.packbits(bits, axis=1, bitorder="big")
            out[start : start + len(part)] = packed.view(">u8").astype(np.uint64)
        return out

    # -- blocking
    def block_keys(self, profile: Profile, mask: int = -1) -> list[str]:
        """Clear-text blocking keys of a profile's field set (they never leave this
        process): the sorted name, the date of birth, each name token with the
        initial of another, each name token with the birth year."""
        names = {f.name for i, f in enumerate(self.schema.fields) if mask >> i & 1}
        name = profile.values.get("name") if "name" in names else None
        dob = profile.values.get("dob") if "dob" in names else None
        keys: list[str] = []
        if dob:
            keys.append(f"d:{dob}")
        if name:
            keys.append(f"n:{name}")
            tokens = sorted(set(name.split()))
            for t in tokens:
                if len(t) < 2:
                    continue
                keys.extend(f"ti:{t}|{u[0]}" for u in tokens if u != t)
                if dob:
                    keys.append(f"ty:{t}|{dob[:4]}")
        if not keys:
            keys.append("none")
        prefix = mask if self.schema.subsets else "all"
        return [f"{prefix}/{k}" for k in keys]

    def bucket(self, key: str, bits: int) -> int:
        b = self._bucket_cache.get(key)
        if b is None:
            b = self._bucket_cache[key] = int.from_bytes(_mac(self._block_key, key)[:8], "big")
        return b & ((1 << bits) - 1)

    # -- everything
    def encode(self, subjects: Sequence[SubjectValues], *, block_bits: int | None = None) -> EncodedSet:
        refs = [s.ref for s in subjects]
        profiles: list[Profile] = []
        masks: list[int] = []
        fulls: list[int] = []
        owner: list[int] = []
        for i, s in enumerate(subjects):
            for p in s.profiles:
                full = self.full_mask(p)
                if not full:
                    continue
                for m in self.schema.field_sets(full):
                    profiles.append(p)
                    masks.append(m)
                    fulls.append(full)
                    owner.append(i)
        clks = self.clk_matrix(profiles, masks)
        key_lists = [self.block_keys(p, m) for p, m in zip(profiles, masks, strict=True)]
        if block_bits is None:
            block_bits = choose_block_bits(len({k for ks in key_lists for k in ks}))
        block_clk: list[int] = []
        block_bucket: list[int] = []
        for c, ks in enumerate(key_lists):
            for b in sorted({self.bucket(key, block_bits) for key in ks}):
                block_clk.append(c)
                block_bucket.append(b)
        tokens: list[str] = []
        kinds: list[str] = []
        t_owner: list[int] = []
        for i, s in enumerate(subjects):
            for kind, value in sorted(set(s.identifiers)):
                tokens.append(self.token(kind, value))
                kinds.append(kind)
                t_owner.append(i)
        return EncodedSet(
            refs=refs,
            clks=clks,
            clk_owner=np.asarray(owner, dtype=np.int64),
            clk_mask=np.asarray(masks, dtype=np.int64),
            clk_full=np.asarray(fulls, dtype=np.int64),
            block_clk=np.asarray(block_clk, dtype=np.int64),
            block_bucket=np.asarray(block_bucket, dtype=np.int64),
            block_bits=block_bits,
            tokens=tokens,
            token_kind=kinds,
            token_owner=np.asarray(t_owner, dtype=np.int64),
            subsets=self.schema.subsets,
        )


def choose_block_bits(n_keys: int, *, keys_per_bucket: int = 4) -> int:
    """Fewest buckets (a power of two, 2**10 or more) that still mix about
    ``keys_per_bucket`` distinct keys into each: hides key frequencies, and keeps
    the receiver's extra comparisons near ``(keys per side)**2 / buckets``."""
    bits = 10
    while (1 << bits) * keys_per_bucket < n_keys and bits < 40:
        bits += 1
    return bits


def make_profile(name: str | None = None, dob: date | datetime | str | None = None,
                 city: str | None = None, country: str | None = None, **other: str | None) -> Profile:
    """A profile for the default schema from raw values (normalised here)."""
    values: dict[str, str | None] = {"name": name_key(name), "dob": dob_key(dob), "city": fold(city),
                                     "country": fold(country)}
    values.update({k: fold(v) for k, v in other.items()})
    return Profile(values)


def subject_values(ref: str, profiles: Iterable[Profile], identifiers: Iterable[tuple[str, str | None]],
                   *, country: str | None = None) -> SubjectValues:
    """A subject with its identifiers normalised and empty ones dropped."""
    ids: list[tuple[str, str]] = []
    for kind, value in identifiers:
        norm = normalise_identifier(kind, value, country)
        if norm:
            ids.append((kind, norm))
    return SubjectValues(ref, [p for p in profiles if any(p.values.values())], ids)
