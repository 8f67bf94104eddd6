"""Settings of the referral stage: windows and guards, all configurable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ReferralSettings:
    """Windows and guards of linking and time alignment.

    - ``ip_window_hours``: a payment's IP (or device) counts for a referral
      subject when it was used within this many hours of one of the subject's
      IP events, either side (inclusive).
    - ``max_subjects_per_ip``: an IP used at web/app payments by more payment
      subjects than this (store-wide) is shared (carrier-grade NAT, cybercafé)
      and links nothing by itself.
    - ``personal_ip_window_days``: beyond that window, an IP still links when
      it is personal (exactly one payment subject ever used it at web/app
      payments) and was used within this many days of the event; 0 turns it
      off. Home broadband addresses stay with one household for months.
    - ``max_subjects_per_device``: a device used by more payment subjects than
      this is shared and links nothing.
    - ``ip_formats`` / ``ip_channels``: whose IPs count: e-wallets and
      remittance operators, web and app channels (a NULL channel counts: the
      wallet format has no channel column).
    - ``align_window_minutes``: a session starting at most this many minutes
      after a payment (or a payment at most this many minutes after a session
      starts) is aligned with it (inclusive).
    - ``align_payee_must_match``: the payee must be a subject linked to the
      session's other end. Off by default, when a payee whose name shares a
      word (3+ letters) with that end's display name or linked subjects' names
      also counts: resolution often splits a facilitator into several subjects.
    - ``align_nearest_only``: per session and payer keep only the payment
      closest to the session start.
    - ``session_links``: an unlinked referral end links to the payer whose
      payments to the session's other end fall within the window around its
      sessions (see ``alignment.session_links``).
    - ``login_hour_tolerance`` / ``login_window_days``: a payment matches the
      sender's login times when a login within this many days has the same
      sender-local hour, plus or minus the tolerance.
    """

    ip_window_hours: float = 24.0
    max_subjects_per_ip: int = 3
    personal_ip_window_days: float = 365.0
    max_subjects_per_device: int = 1
    ip_formats: tuple[str, ...] = ("wallet-csv", "remittance-csv")
    ip_channels: tuple[str, ...] = ("web", "app")
    align_window_minutes: float = 180.0
    align_payee_must_match: bool = False
    align_nearest_only: bool = True
    session_links: bool = True
    login_hour_tolerance: int = 1
    login_window_days: float = 7.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReferralReport:
    """What a referral run did."""

    referral_subjects: int = 0
    linked_subjects: int = 0
    links: dict[str, int] = field(default_factory=dict)  # via -> rows
    unmatched: int = 0
    shared_ips: int = 0
    aligned_payments: int = 0
    login_time_matches: int = 0
    feature_rows: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sql_list(values: tuple[str, ...]) -> str:
    """A SQL list of string literals."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values) or "NULL"
