"""The people and organisations of the world, held as numpy arrays (one row a person).

Nothing here is a string per person: names are indices into the pools of
`names.py`, phones are a prefix index and a subscriber number, emails a style
and a number. Strings are rendered only when a provider's file is written
(`identity.py`), so a world of millions of people stays small in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from moneytrail.synth import names as N
from moneytrail.synth import places as P

ROLES: tuple[str, ...] = ("none", "consumer", "facilitator", "intermediary")
ROLE = {r: i for i, r in enumerate(ROLES)}

KINDS: tuple[str, ...] = (
    # offenders and their networks
    "consumer", "family_facilitator", "child_receiver", "syndicate_controller", "relative_receiver",
    "syndicate_receiver", "third_party_processor", "referral_only_consumer", "referral_only_facilitator",
    # legitimate population
    "general", "local_resident", "migrant_sender", "migrant_family",
    # hard negatives
    "ofw", "ofw_family", "student_supporter", "student", "adult_webcam_user", "romance_victim",
    "romance_scammer", "charity_sponsor", "charity", "small_business", "supplier",
    # organisations
    "merchant", "cashout_point", "referral_noise",
)
KIND = {k: i for i, k in enumerate(KINDS)}
ORG_KINDS = frozenset({"third_party_processor", "charity", "small_business", "supplier", "merchant", "cashout_point"})

EPOCH_DAY_1900 = -25567  # days from 1970-01-01 back to 1900-01-01


@dataclass
class Org:
    name: str
    mcc: str = ""
    country: str = ""
    currency: str = "USD"
    category: str = ""


@dataclass
class Population:
    """Growing arrays of persons; `add` returns the new persons' indices."""

    rng: np.random.Generator
    cols: dict[str, list[np.ndarray]] = field(default_factory=dict)
    n: int = 0
    orgs: list[Org] = field(default_factory=list)
    frozen: dict[str, np.ndarray] = field(default_factory=dict)

    COLUMNS = (
        ("kind", np.int16), ("role", np.int8), ("lone", np.int8), ("network", np.int32), ("country", np.int16),
        ("origin", np.int8), ("sex", np.int8), ("given", np.int16), ("middle", np.int16), ("surname", np.int16),
        ("surname2", np.int16), ("dob", np.int32), ("zone", np.int16), ("city", np.int16), ("phone_prefix", np.int16),
        ("phone_sub", np.int64), ("email_style", np.int8), ("email_num", np.int16), ("email_domain", np.int8),
        ("has_email2", np.int8), ("home_ip", np.int64), ("org", np.int32), ("street", np.int16), ("house", np.int16),
        ("has_card", np.int8), ("n_abuse", np.int32),
    )

    def add(
        self,
        kind: str,
        n: int,
        country: np.ndarray | str,
        *,
        role: str = "none",
        sex: np.ndarray | None = None,
        age: tuple[float, float] | np.ndarray = (25, 65),
        origin: np.ndarray | None = None,
        surname: np.ndarray | None = None,
        network: np.ndarray | int = -1,
        org_names: list[Org] | None = None,
        has_card: float = 0.0,
    ) -> np.ndarray:
        rng = self.rng
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        if isinstance(country, str):
            cidx = np.full(n, P.INDEX[country], dtype=np.int16)
        else:
            cidx = np.asarray(country, dtype=np.int16)
        if origin is None:
            origin = np.array([N.ORIGIN_INDEX[P.COUNTRIES[c].origin] for c in range(len(P.COUNTRIES))], dtype=np.int8)[cidx]
        origin = np.asarray(origin, dtype=np.int8)
        if sex is None:
            sex = (rng.random(n) < 0.5).astype(np.int8)  # 1 = male
        given = np.zeros(n, np.int16)
        middle = np.full(n, -1, np.int16)
        sur = np.zeros(n, np.int16)
        sur2 = np.full(n, -1, np.int16)
        for o in np.unique(origin):
            m = origin == o
            oname = N.ORIGINS[o]
            males, females, surnames = N.POOLS[oname]
            k = int(m.sum())
            g_m = rng.integers(0, len(males), k)
            g_f = rng.integers(0, len(females), k)
            given[m] = np.where(sex[m] == 1, g_m, g_f)
            sur[m] = rng.integers(0, len(surnames), k)
            if oname in N.HAS_MIDDLE_NAME:
                pool = len(surnames) if oname in N.MIDDLE_NAME_IS_SURNAME else max(len(males), len(females))
                has_mid = rng.random(k) < (0.85 if oname in N.MIDDLE_NAME_IS_SURNAME else 0.45)
                middle[m] = np.where(has_mid, rng.integers(0, pool, k), -1)
            if oname in N.DOUBLE_SURNAME:
                sur2[m] = rng.integers(0, len(surnames), k)
            elif oname == "ph":
                sur2[m] = np.where(rng.random(k) < 0.06, rng.integers(0, len(surnames), k), -1)
        if surname is not None:
            sur = np.asarray(surname, dtype=np.int16)
        if isinstance(age, tuple):
            ages = rng.uniform(age[0], age[1], n)
        else:
            ages = np.asarray(age, dtype=float)
        dob = (np.datetime64("2025-01-01", "D").astype(np.int64) - (ages * 365.25).astype(np.int64)
               + rng.integers(-180, 180, n)).astype(np.int32)
        zone = np.zeros(n, np.int16)
        city = np.zeros(n, np.int16)
        pfx = np.zeros(n, np.int16)
        sub = np.zeros(n, np.int64)
        for c in np.unique(cidx):
            m = cidx == c
            k = int(m.sum())
            ctry = P.COUNTRIES[c]
            zs = [P.ZONE_INDEX[z] for z, _ in ctry.zones]
            w = np.array([w for _, w in ctry.zones])
            zone[m] = rng.choice(zs, size=k, p=w / w.sum())
            city[m] = rng.integers(0, len(ctry.cities), k)
            pfx[m] = rng.integers(0, len(ctry.mobile_prefixes), k)
            plen = np.array([len(p) for p in ctry.mobile_prefixes])[pfx[m]]
            rest = ctry.national_digits - plen
            lo = 2 * 10 ** (rest - 1)
            sub[m] = lo + (rng.random(k) * (10 ** rest - lo)).astype(np.int64)
        if org_names is not None:
            org = np.arange(len(self.orgs), len(self.orgs) + n, dtype=np.int32)
            self.orgs.extend(org_names)
        else:
            org = np.full(n, -1, np.int32)
        net = np.full(n, network, np.int32) if isinstance(network, int) else np.asarray(network, np.int32)
        values: dict[str, np.ndarray] = {
            "kind": np.full(n, KIND[kind], np.int16), "role": np.full(n, ROLE[role], np.int8),
            "lone": np.zeros(n, np.int8), "network": net, "country": cidx, "origin": origin, "sex": sex,
            "given": given, "middle": middle, "surname": sur, "surname2": sur2, "dob": dob, "zone": zone,
            "city": city, "phone_prefix": pfx, "phone_sub": sub,
            "email_style": rng.integers(0, 6, n).astype(np.int8), "email_num": rng.integers(1, 99, n).astype(np.int16),
            "email_domain": rng.integers(0, len(N.EMAIL_DOMAINS), n).astype(np.int8),
            "has_email2": (rng.random(n) < 0.2).astype(np.int8),
            "home_ip": _ips(rng, cidx), "org": org, "street": rng.integers(0, len(N.STREETS), n).astype(np.int16),
            "house": rng.integers(1, 999, n).astype(np.int16), "has_card": (rng.random(n) < has_card).astype(np.int8),
            "n_abuse": np.zeros(n, np.int32),
        }
        for name, dtype in self.COLUMNS:
            self.cols.setdefault(name, []).append(values[name].astype(dtype))
        idx = np.arange(self.n, self.n + n, dtype=np.int64)
        self.n += n
        return idx

    def _sync(self) -> None:
        if self.cols:
            self.frozen = {
                k: np.concatenate(([self.frozen[k]] if k in self.frozen else []) + v) for k, v in self.cols.items()
            }
            self.cols = {}

    def __getitem__(self, key: str) -> np.ndarray:
        """A column over all persons so far; writable in place."""
        self._sync()
        return self.frozen[key]


def _ips(rng: np.random.Generator, cidx: np.ndarray) -> np.ndarray:
    # A home address per person: a first octet per country (made up) and random rest.
    first = (np.asarray(cidx, np.int64) * 7 + 23) % 200 + 11
    return (first << 24) | rng.integers(1, 1 << 24, len(cidx), dtype=np.int64)


def ip_str(v: int) -> str:
    return f"{(v >> 24) & 255}.{(v >> 16) & 255}.{(v >> 8) & 255}.{(v & 255) or 1}"


def weighted_countries(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    codes = list(weights)
    w = np.array([weights[c] for c in codes])
    pick = rng.choice(len(codes), size=n, p=w / w.sum())
    return np.array([P.INDEX[c] for c in codes], dtype=np.int16)[pick]
