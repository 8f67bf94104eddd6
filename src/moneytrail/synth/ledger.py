"""The world's transactions as columns of numbers, before any file is written.

Every behaviour (`behaviour.py`) appends blocks of transactions here; `finish`
puts them in time order per provider, prices them in local currency with the
month's exchange rate (rounding the way the payer would), and gives each its
provider's record id. Writers and the truth read the finished columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from moneytrail.synth import places as P

PROVIDERS: tuple[str, ...] = ("remitco", "globesend", "paywave", "pesopay", "northbank", "atlasbank")
PROV = {p: i for i, p in enumerate(PROVIDERS)}
FORMATS: dict[str, str] = {
    "remitco": "remittance-csv", "globesend": "remittance-csv", "paywave": "wallet-csv",
    "pesopay": "wallet-csv", "northbank": "card-csv", "atlasbank": "pacs008",
}
REFERRAL_PROVIDERS: tuple[str, ...] = ("vidchat", "linkup")

TYPOLOGIES: tuple[str, ...] = (
    "consumer_payment", "lone_payer_payment", "syndicate_payment", "intermediary_transfer", "cash_out",
    "offender_context", "legit", "family_remittance", "student_support", "adult_webcam", "romance_scam",
    "charity_sponsorship", "supplier_payment",
)
TYP = {t: i for i, t in enumerate(TYPOLOGIES)}
ABUSE_TYPOLOGIES = frozenset(TYPOLOGIES[:5])
HARD_NEGATIVES: tuple[str, ...] = (
    "family_remittance", "student_support", "adult_webcam", "romance_scam", "charity_sponsorship", "supplier_payment",
)

TTYPES: tuple[str, ...] = ("transfer", "payment", "send_money", "withdrawal", "purchase", "card_transfer", "credit_transfer")
TT = {t: i for i, t in enumerate(TTYPES)}
CHANNELS: tuple[str, ...] = ("", "agent", "web", "app", "ecom", "pos", "moto")
CH = {c: i for i, c in enumerate(CHANNELS)}
PAYOUTS: tuple[str, ...] = ("", "cash", "wallet", "bank")
PO = {c: i for i, c in enumerate(PAYOUTS)}

START = np.datetime64("2024-01-01T00:00:00", "s")
N_DAYS = 731  # 2024-01-01 .. 2025-12-31
T0 = int(START.astype(np.int64))
T_END = T0 + N_DAYS * 86400
N_MONTHS = 24

# Roundness of an amount as the payer chose it.
ROUND_CENTS, ROUND_INT, ROUND_NICE = 0, 1, 2

COLS: dict[str, type] = {
    "frm": np.int32, "to": np.int32, "via": np.int32, "ts": np.int64, "usd": np.float64, "typ": np.int8,
    "prov": np.int8, "tt": np.int8, "ch": np.int8, "memo": np.int16, "pdelay": np.int32, "pmeth": np.int8,
    "ccy": np.int16, "pccy": np.int16, "rnd": np.int8, "ipm": np.int8,
}
DEFAULTS: dict[str, int] = {"via": -1, "memo": -1, "pdelay": -1, "pmeth": 0, "pccy": -1, "rnd": ROUND_CENTS, "ipm": 0, "ch": 0}


@dataclass
class Ledger:
    blocks: list[dict[str, np.ndarray]] = field(default_factory=list)
    c: dict[str, np.ndarray] = field(default_factory=dict)
    n: int = 0

    def add(self, **arrays: np.ndarray | int) -> None:
        n = next(len(v) for v in arrays.values() if isinstance(v, np.ndarray))
        if n == 0:
            return
        block: dict[str, np.ndarray] = {}
        for name, dtype in COLS.items():
            v = arrays.get(name, DEFAULTS.get(name))
            if v is None:
                raise KeyError(f"ledger block without {name}")
            block[name] = np.broadcast_to(np.asarray(v), (n,)).astype(dtype)
        unknown = set(arrays) - set(COLS)
        if unknown:
            raise KeyError(f"unknown ledger columns {unknown}")
        self.blocks.append(block)

    def finish(self, fx: np.ndarray, zone_of_person: np.ndarray) -> None:
        """Concatenate, keep the window, price in local currency, order, give ids' sequence numbers."""
        c = {k: np.concatenate([b[k] for b in self.blocks]) for k in COLS}
        self.blocks = []
        keep = (c["ts"] >= T0) & (c["ts"] < T_END)
        c = {k: v[keep] for k, v in c.items()}
        order = np.lexsort((c["frm"], c["ts"], c["prov"]))
        c = {k: v[order] for k, v in c.items()}
        month = month_index(c["ts"])
        rate = fx[month, c["ccy"]]
        local = c["usd"] / rate
        c["amt"] = round_amounts(local, c["rnd"])
        c["usd"] = c["amt"] * rate
        c["month"] = month.astype(np.int8)
        c["lhour"] = local_hour(c["ts"], zone_of_person[c["frm"]])
        seq = np.zeros(len(c["ts"]), np.int64)
        for p in range(len(PROVIDERS)):
            m = c["prov"] == p
            seq[m] = np.arange(int(m.sum()))
        c["seq"] = seq
        c["defect"] = np.zeros(len(seq), np.int8)
        self.c = c
        self.n = len(seq)

    def provider_slice(self, p: int) -> slice:
        prov = self.c["prov"]
        lo = int(np.searchsorted(prov, p, side="left"))
        hi = int(np.searchsorted(prov, p, side="right"))
        return slice(lo, hi)


def month_index(ts: np.ndarray) -> np.ndarray:
    months = ts.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    return np.clip(months - START.astype("datetime64[M]").astype(np.int64), 0, N_MONTHS - 1)


def round_amounts(local: np.ndarray, rnd: np.ndarray) -> np.ndarray:
    out = np.round(local, 2)
    i = rnd == ROUND_INT
    out[i] = np.maximum(1.0, np.round(local[i]))
    n = rnd == ROUND_NICE
    mag = 10.0 ** np.floor(np.log10(np.maximum(local[n], 1.0)))
    step = np.maximum(mag / 2, 1.0)
    out[n] = np.maximum(step, np.round(local[n] / step) * step)
    return np.maximum(out, 0.01)


_Q = 900  # offsets are looked up per quarter hour (Adelaide changes on the half hour)
_BASE = T0 - 3 * 86400
_SPAN = (N_DAYS + 120) * 86400


@lru_cache(maxsize=1)
def _offset_table() -> np.ndarray:
    """UTC offset in minutes of every zone at every quarter hour around the window."""
    grid = np.arange(_BASE, _BASE + _SPAN, _Q, dtype=np.int64)
    idx = pd.DatetimeIndex(grid.astype("datetime64[s]")).tz_localize("UTC")
    table = np.zeros((len(P.ZONES), len(grid)), np.int16)
    for z, name in enumerate(P.ZONES):
        local = idx.tz_convert(name).tz_localize(None).as_unit("s").asi8
        table[z] = (local - grid) // 60
    return table


def utc_offsets(ts: np.ndarray, zone: np.ndarray) -> np.ndarray:
    """UTC offset in minutes of each row's zone at that instant."""
    t = _offset_table()
    i = np.clip((np.asarray(ts, np.int64) - _BASE) // _Q, 0, t.shape[1] - 1)
    return t[np.asarray(zone, np.int64), i].astype(np.int32)


def local_to_utc(local: np.ndarray, zone: np.ndarray) -> np.ndarray:
    """Naive local seconds in each row's zone to UTC epoch seconds (a time in a DST gap moves forward)."""
    local = np.asarray(local, np.int64)
    guess = local - utc_offsets(local, zone).astype(np.int64) * 60
    return local - utc_offsets(guess, zone).astype(np.int64) * 60


def local_hour(ts: np.ndarray, zone: np.ndarray) -> np.ndarray:
    off = utc_offsets(ts, zone)
    return (((ts + off.astype(np.int64) * 60) // 3600) % 24).astype(np.int8)


def fx_table(rng: np.random.Generator) -> np.ndarray:
    """usd_per_unit per month and currency: the reference rate with a small random walk."""
    base = np.array([P.USD_PER_UNIT[c] for c in P.CURRENCIES])
    walk = np.cumsum(rng.normal(0, 0.012, (N_MONTHS, len(base))), axis=0)
    walk[:, P.CURRENCY_INDEX["USD"]] = 0.0
    return base[None, :] * np.exp(walk)
