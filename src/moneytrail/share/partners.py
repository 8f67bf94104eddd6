"""The partner registry: who we exchange with, their public key, which secret.

A JSON file (``partners.json`` in the share home, or ``--registry FILE``):
a package is accepted only from a sender registered here, and only if it is
signed by the key registered for that sender.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from moneytrail.errors import UserError
from moneytrail.share.keys import check_secret_id, fingerprint, parse_public_key, share_home


@dataclass
class Partner:
    name: str
    public_key: str
    secret_id: str
    contact: str = ""
    added_at: str = ""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)


class Registry:
    def __init__(self, path: Path | None = None):
        self.path = path if path is not None else share_home() / "partners.json"
        self.partners: dict[str, Partner] = {}
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                for p in data.get("partners", []):
                    self.partners[p["name"]] = Partner(**p)
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise UserError(f"the partner registry {self.path} is damaged ({exc}); fix or remove it") from exc

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"partners": [asdict(p) for p in sorted(self.partners.values(), key=lambda p: p.name)]}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path)

    def add(self, name: str, public_key: str, secret_id: str, contact: str = "", *,
            replace: bool = False) -> Partner:
        name = name.strip()
        if not name:
            raise UserError("give the partner's name, e.g. FIU-NL")
        parse_public_key(public_key)
        check_secret_id(secret_id)
        if name in self.partners and not replace:
            raise UserError(f"partner {name!r} is registered already; use --replace to change their key or secret")
        partner = Partner(name, public_key.strip(), secret_id, contact.strip(),
                          datetime.now(UTC).isoformat(timespec="seconds"))
        self.partners[name] = partner
        self.save()
        return partner

    def remove(self, name: str) -> None:
        self.get(name)
        del self.partners[name]
        self.save()

    def get(self, name: str) -> Partner:
        partner = self.partners.get(name)
        if partner is None:
            known = ", ".join(sorted(self.partners)) or "none yet"
            raise UserError(f"no partner {name!r} in {self.path} (registered: {known}); "
                            "add them with `moneytrail share partner add`")
        return partner

    def by_key(self, public_key_fingerprint: str) -> Partner | None:
        for p in self.partners.values():
            if p.fingerprint == public_key_fingerprint:
                return p
        return None

    def __iter__(self) -> Iterator[Partner]:
        return iter(sorted(self.partners.values(), key=lambda p: p.name))
