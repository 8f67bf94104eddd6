"""Reader for platform referrals (`platform-jsonl`): one JSON referral a line.

Referrals are few (thousands, not millions), so this reader normalises in
Python and returns the canonical referral tables directly, with no staging
step. A line is all or nothing: a referral whose subjects or sessions cannot be
read would link the wrong accounts, so any problem sends the whole line to the
quarantine with a reason that names the field (`sessions[1].start: ...`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from moneytrail.ingest.stage import Rejected
from moneytrail.normalise import country_code, normalise_email, normalise_name, normalise_phone
from moneytrail.schema import TABLES

__all__ = ["INCIDENT_TYPES", "ROLES", "SESSION_KINDS", "PlatformRecords", "is_platform_jsonl",
           "read_platform_jsonl"]  # fmt: skip

INCIDENT_TYPES = ("live_streaming_abuse", "solicitation", "csam_distribution", "grooming", "other")
ROLES = ("suspect_viewer", "suspect_facilitator", "suspect", "other")
SESSION_KINDS = ("video_call", "live_stream", "voice_call", "chat")

_TABLE_NAMES = (
    "referrals",
    "referral_subjects",
    "referral_identifiers",
    "referral_ip_events",
    "referral_sessions",
)
_SNIFF_MAX_LINES = 1_000
_SNIFF_MAX_BYTES = 4 * 2**20


@dataclass
class PlatformRecords:
    """The referral tables of one file, in the canonical schemas, and the
    lines that could not be read."""

    referrals: pa.Table
    referral_subjects: pa.Table
    referral_identifiers: pa.Table
    referral_ip_events: pa.Table
    referral_sessions: pa.Table
    rejected: list[Rejected] = field(default_factory=list)

    def tables(self) -> dict[str, pa.Table]:
        """Table name -> table, for loading by name."""
        return {name: getattr(self, name) for name in _TABLE_NAMES}


class _Bad(ValueError):
    """A field that cannot be read; the message is the quarantine reason."""


def is_platform_jsonl(path: str | os.PathLike[str]) -> bool:
    """True when the first non-empty line is a JSON object with `report_id`
    and `subjects`. Reads at most a few lines."""
    with open(path, "rb") as fh:
        for _ in range(_SNIFF_MAX_LINES):
            line = fh.readline(_SNIFF_MAX_BYTES)
            if not line:
                return False
            text = line.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):
                return False
            return isinstance(obj, dict) and "report_id" in obj and "subjects" in obj
    return False


def _timestamp(value: Any, where: str, zone: dt.tzinfo) -> dt.datetime:
    """Naive UTC from ISO 8601: exact with an offset or Z, else in `zone`."""
    if not isinstance(value, str):
        raise _Bad(f"{where}: not an ISO 8601 timestamp: {value!r}")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise _Bad(f"{where}: not an ISO 8601 timestamp: {value!r}") from None


def _date(value: Any, where: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise _Bad(f"{where}: not an ISO 8601 date: {value!r}")


def _string(value: Any, where: str) -> str | None:
    """A text field; numbers are accepted as written (account ids often are)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Bad(f"{where}: not a string: {value!r}")
    text = str(value).strip()
    return text or None


def _enum(value: Any, where: str, allowed: tuple[str, ...]) -> str | None:
    text = _string(value, where)
    if text is None:
        return None
    if text.lower() not in allowed:
        raise _Bad(f"{where}: unknown value {text!r}, expected one of {', '.join(allowed)}")
    return text.lower()


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):  # a single email or phone written without a list
        return [value]
    if not isinstance(value, list):
        raise _Bad(f"{where}: not a list")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"{where}: not an object")
    return value


def _referral(
    obj: dict[str, Any], provider: str, source_file: str, zone: dt.tzinfo
) -> dict[str, list[dict[str, Any]]]:
    """Rows of every table for one referral; raises _Bad at the first problem."""
    report_id = _string(obj.get("report_id"), "report_id")
    if report_id is None:
        raise _Bad("no report_id")
    platform = _string(obj.get("platform"), "platform")
    if obj.get("submitted_at") is None:
        raise _Bad("submitted_at: missing")
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in _TABLE_NAMES}
    out["referrals"].append(
        {
            "provider": provider,
            "record_id": report_id,
            "source_file": source_file,
            "platform": platform,
            "submitted_at": _timestamp(obj["submitted_at"], "submitted_at", zone),
            "incident_type": _enum(obj.get("incident_type"), "incident_type", INCIDENT_TYPES),
        }
    )
    refs: set[str] = set()
    for i, item in enumerate(_list(obj.get("subjects"), "subjects")):
        where = f"subjects[{i}]"
        subject = _object(item, where)
        ref = _string(subject.get("subject_ref"), f"{where}.subject_ref")
        if ref is None:
            raise _Bad(f"{where}: no subject_ref")
        if ref in refs:
            raise _Bad(f"{where}.subject_ref: duplicate {ref!r}")
        refs.add(ref)
        record_id = f"{report_id}#{ref}"
        country = country_code(_string(subject.get("country"), f"{where}.country"))
        display_name = _string(subject.get("display_name"), f"{where}.display_name")
        out["referral_subjects"].append(
            {
                "provider": provider,
                "record_id": record_id,
                "report_id": report_id,
                "subject_ref": ref,
                "platform": platform,
                "role": _enum(subject.get("role"), f"{where}.role", ROLES),
                "account_id": _string(subject.get("account_id"), f"{where}.account_id"),
                "screen_name": _string(subject.get("screen_name"), f"{where}.screen_name"),
                "display_name": display_name,
                "name_norm": normalise_name(display_name),
                "dob": _date(subject.get("dob"), f"{where}.dob"),
                "country": country,
            }
        )
        seen: set[tuple[str, str]] = set()
        for kind, key in (("email", "emails"), ("phone", "phones")):
            for j, raw in enumerate(_list(subject.get(key), f"{where}.{key}")):
                value = _string(raw, f"{where}.{key}[{j}]")
                if value is None or (kind, value) in seen:
                    continue
                seen.add((kind, value))
                norm = (
                    normalise_email(value) if kind == "email" else normalise_phone(value, country)
                )
                out["referral_identifiers"].append(
                    {
                        "provider": provider,
                        "record_id": record_id,
                        "kind": kind,
                        "value": value,
                        "value_norm": norm,
                    }
                )
        for j, item in enumerate(_list(subject.get("ip_events"), f"{where}.ip_events")):
            ev_where = f"{where}.ip_events[{j}]"
            event = _object(item, ev_where)
            at = event.get("at")
            out["referral_ip_events"].append(
                {
                    "provider": provider,
                    "record_id": record_id,
                    "seq": j,
                    "ip": _string(event.get("ip"), f"{ev_where}.ip"),
                    "at_utc": None if at is None else _timestamp(at, f"{ev_where}.at", zone),
                    "event": _string(event.get("event"), f"{ev_where}.event"),
                    "country": country_code(_string(event.get("country"), f"{ev_where}.country")),
                }
            )
    for i, item in enumerate(_list(obj.get("sessions"), "sessions")):
        where = f"sessions[{i}]"
        session = _object(item, where)
        ends = {}
        for side in ("from", "to"):
            ref = _string(session.get(side), f"{where}.{side}")
            if ref is None:
                raise _Bad(f"{where}.{side}: missing")
            if ref not in refs:
                raise _Bad(f"{where}.{side}: unknown subject_ref {ref!r}")
            ends[side] = f"{report_id}#{ref}"
        if session.get("start") is None:
            raise _Bad(f"{where}.start: missing")
        end = session.get("end")
        out["referral_sessions"].append(
            {
                "provider": provider,
                "report_id": report_id,
                "seq": i,
                "from_record_id": ends["from"],
                "to_record_id": ends["to"],
                "kind": _enum(session.get("kind"), f"{where}.kind", SESSION_KINDS),
                "start_utc": _timestamp(session["start"], f"{where}.start", zone),
                "end_utc": None if end is None else _timestamp(end, f"{where}.end", zone),
            }
        )
    return out


# What JSON counts as white space (RFC 8259): str.strip() would also drop control
# characters such as U+001C, and a line of those is junk to quarantine, not a blank line.
_JSON_WHITESPACE = " \t\r\n"


def read_platform_jsonl(
    path: str | os.PathLike[str],
    *,
    provider: str,
    source_file: str,
    timezone: str | None = None,
) -> PlatformRecords:
    """Read a referrals file into the canonical referral tables.

    `timezone` (IANA name, from `sources.csv`) places timestamps written
    without an offset; UTC when absent. Empty lines are skipped; every other
    line is either fully loaded or rejected as `line N` with the reason. A
    `report_id` seen earlier in the file is rejected too (it is the key).
    Only I/O errors and an unknown `timezone` raise.
    """
    zone: dt.tzinfo = ZoneInfo(timezone) if timezone else dt.UTC
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in _TABLE_NAMES}
    rejected: list[Rejected] = []
    first_line: dict[str, int] = {}
    with open(path, "rb") as fh:
        for n, data in enumerate(fh, start=1):
            if n == 1 and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            raw = data.decode("utf-8", errors="replace").rstrip("\r\n")
            if not raw.strip(_JSON_WHITESPACE):
                continue  # a blank line; any other character makes it a record (or junk to quarantine)
            location = f"line {n}"
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                rejected.append(
                    Rejected(location, f"not UTF-8: {exc.reason} at byte {exc.start}", raw)
                )
                continue
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError) as exc:
                rejected.append(Rejected(location, f"not JSON: {exc}", raw))
                continue
            if not isinstance(obj, dict):
                rejected.append(Rejected(location, "not a JSON object", raw))
                continue
            try:
                out = _referral(obj, provider, source_file, zone)
            except _Bad as exc:
                rejected.append(Rejected(location, str(exc), raw))
                continue
            report_id = out["referrals"][0]["record_id"]
            if report_id in first_line:
                reason = (
                    f"duplicate report_id {report_id!r} (first on line {first_line[report_id]})"
                )
                rejected.append(Rejected(location, reason, raw))
                continue
            first_line[report_id] = n
            for name, table_rows in out.items():
                rows[name].extend(table_rows)
    tables = {
        name: pa.Table.from_pylist(rows[name], schema=TABLES[name].arrow_schema())
        for name in _TABLE_NAMES
    }
    return PlatformRecords(**tables, rejected=rejected)
