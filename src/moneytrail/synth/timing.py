"""When people pay: hour-of-day profiles in the payer's local time, and day sampling."""

from __future__ import annotations

import numpy as np

from moneytrail.synth import ledger as L


def _norm(w: list[float]) -> np.ndarray:
    a = np.array(w, dtype=float)
    return a / a.sum()


# Ordinary people: awake in the day and evening.
DAY = _norm([1, .5, .3, .2, .2, .4, 1, 2, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5.5, 5, 4, 3, 2])
# Consumers: late-night and early-morning bursts (FATF 2025 via financialcrime.lu), here
# about half of payments between 22:00 and 06:00 local time.
NIGHT = _norm([8, 8, 7, 6, 5, 3.5, 2, 1.5, 1.5, 2, 2, 2, 2.5, 2.5, 2.5, 2.5, 3, 3, 3.5, 4, 5, 6, 7.5, 8])
BUSINESS = _norm([0, 0, 0, 0, 0, 0, .2, 1, 4, 6, 6, 5, 4, 5, 6, 6, 5, 3, 1, .3, 0, 0, 0, 0])
EVENING = _norm([1, .6, .3, .2, .2, .4, 1, 2, 3, 3, 3, 3, 4, 4, 3, 3, 4, 5, 6, 7, 7, 6, 4, 2])
MANILA = _norm([.5, .3, .2, .2, .3, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4.5, 4, 3, 2, 1])


def local_seconds(rng: np.random.Generator, days: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """Naive local epoch seconds for the given day numbers (0 = 2024-01-01), hour from the profile."""
    n = len(days)
    hour = rng.choice(24, size=n, p=profile)
    return L.T0 + days.astype(np.int64) * 86400 + hour.astype(np.int64) * 3600 + rng.integers(0, 3600, n)


def at_local(rng: np.random.Generator, days: np.ndarray, profile: np.ndarray, zone: np.ndarray) -> np.ndarray:
    """UTC epoch seconds of a local-time event in each row's zone."""
    return L.local_to_utc(local_seconds(rng, days, profile), zone)


def delay(rng: np.random.Generator, n: int, median_s: float, sigma: float = 0.8) -> np.ndarray:
    return np.maximum(30, rng.lognormal(np.log(median_s), sigma, n)).astype(np.int64)


def repeat_spread(rng: np.random.Generator, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """For person i, counts[i] uniform days in [lo[i], hi[i]); concatenated in person order."""
    lo_r = np.repeat(lo, counts)
    hi_r = np.repeat(np.maximum(hi, lo + 1), counts)
    return (lo_r + rng.random(len(lo_r)) * (hi_r - lo_r)).astype(np.int64)
