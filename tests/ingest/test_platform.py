"""Platform referrals: the contract example, time zones, every rejection, properties."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moneytrail.ingest.platform import (
    INCIDENT_TYPES,
    ROLES,
    SESSION_KINDS,
    is_platform_jsonl,
    read_platform_jsonl,
)
from moneytrail.schema import TABLES

EXAMPLE: dict[str, Any] = {
    "report_id": "R-2026-000123",
    "platform": "VidChat",
    "submitted_at": "2026-03-04T10:00:00Z",
    "incident_type": "live_streaming_abuse",
    "subjects": [
        {"subject_ref": "s1", "role": "suspect_viewer", "account_id": "u_88812",
         "screen_name": "bluefox", "display_name": "John Smith", "emails": ["js@example.com"],
         "phones": ["+61 400 111 222"], "dob": "1971-05-02",
         "ip_events": [{"ip": "203.0.113.7", "at": "2026-03-01T02:10:00Z",
                        "event": "login", "country": "AU"}]},
        {"subject_ref": "s2", "role": "suspect_facilitator", "account_id": "u_1923",
         "display_name": "Maria Santos", "phones": ["+63 917 555 0101"], "country": "PH"},
    ],
    "sessions": [
        {"from": "s1", "to": "s2", "kind": "video_call",
         "start": "2026-03-01T02:20:00Z", "end": "2026-03-01T02:41:00Z"}
    ],
}  # fmt: skip


def write(tmp_path: Path, *lines: str | dict[str, Any], prefix: bytes = b"") -> Path:
    p = tmp_path / "r.jsonl"
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    p.write_bytes(prefix + text.encode())
    return p


def read(p: Path, timezone: str | None = None):  # type: ignore[no-untyped-def]
    return read_platform_jsonl(p, provider="prov", source_file="r.jsonl", timezone=timezone)


def test_contract_example(tmp_path: Path) -> None:
    p = write(tmp_path, EXAMPLE)
    assert is_platform_jsonl(p)
    rec = read(p)
    assert rec.rejected == []
    for name, table in rec.tables().items():
        assert table.schema == TABLES[name].arrow_schema()
    (ref,) = rec.referrals.to_pylist()
    assert ref == {
        "provider": "prov", "record_id": "R-2026-000123", "source_file": "r.jsonl",
        "platform": "VidChat", "submitted_at": dt.datetime(2026, 3, 4, 10, 0),
        "incident_type": "live_streaming_abuse",
    }  # fmt: skip
    s1, s2 = rec.referral_subjects.to_pylist()
    assert s1["record_id"] == "R-2026-000123#s1" and s1["name_norm"] == "john smith"
    assert s1["dob"] == dt.date(1971, 5, 2) and s1["platform"] == "VidChat"
    assert (s2["country"], s2["role"]) == ("PH", "suspect_facilitator")
    ids = {
        (r["record_id"], r["kind"], r["value_norm"]) for r in rec.referral_identifiers.to_pylist()
    }
    assert ids == {
        ("R-2026-000123#s1", "email", "js@example.com"),
        ("R-2026-000123#s1", "phone", "+61400111222"),
        ("R-2026-000123#s2", "phone", "+639175550101"),
    }
    (ip,) = rec.referral_ip_events.to_pylist()
    assert (ip["seq"], ip["ip"], ip["at_utc"], ip["country"]) == (
        0, "203.0.113.7", dt.datetime(2026, 3, 1, 2, 10), "AU",
    )  # fmt: skip
    (sess,) = rec.referral_sessions.to_pylist()
    assert sess == {
        "provider": "prov", "report_id": "R-2026-000123", "seq": 0,
        "from_record_id": "R-2026-000123#s1", "to_record_id": "R-2026-000123#s2",
        "kind": "video_call", "start_utc": dt.datetime(2026, 3, 1, 2, 20),
        "end_utc": dt.datetime(2026, 3, 1, 2, 41),
    }  # fmt: skip


def test_timezones_bom_blank_lines_and_extra_keys(tmp_path: Path) -> None:
    a = {**EXAMPLE, "report_id": "A", "submitted_at": "2026-03-04T10:00:00+08:00", "x": [1]}
    b = {**EXAMPLE, "report_id": "B", "submitted_at": "2026-03-04T10:00:00",
         "sessions": [{"from": "s1", "to": "s2", "kind": "chat", "start": "2026-03-01T02:20:00"}]}  # fmt: skip
    p = write(tmp_path, a, "", "   ", b, prefix=b"\xef\xbb\xbf")
    rec = read(p, timezone="Asia/Manila")
    assert rec.rejected == []
    got = {r["record_id"]: r["submitted_at"] for r in rec.referrals.to_pylist()}
    assert got == {"A": dt.datetime(2026, 3, 4, 2, 0), "B": dt.datetime(2026, 3, 4, 2, 0)}
    sess = next(s for s in rec.referral_sessions.to_pylist() if s["report_id"] == "B")
    assert sess["start_utc"] == dt.datetime(2026, 2, 28, 18, 20) and sess["end_utc"] is None
    utc = read(p)  # no timezone: naive means UTC
    assert {r["submitted_at"] for r in utc.referrals.to_pylist()} == {
        dt.datetime(2026, 3, 4, 2, 0), dt.datetime(2026, 3, 4, 10, 0),
    }  # fmt: skip
    assert is_platform_jsonl(p)


def _with(path: str, value: Any) -> dict[str, Any]:
    """EXAMPLE with the field at dotted `path` set (None deletes it)."""
    obj = json.loads(json.dumps(EXAMPLE))
    *parents, last = path.split(".")
    target: Any = obj
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return obj


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (_with("report_id", None), "no report_id"),
        (_with("report_id", ""), "no report_id"),
        (_with("subjects.1.subject_ref", None), "subjects[1]: no subject_ref"),
        (_with("subjects.1.subject_ref", "s1"), "subjects[1].subject_ref: duplicate 's1'"),
        (_with("sessions.0.to", "s9"), "sessions[0].to: unknown subject_ref 's9'"),
        (_with("sessions.0.start", "yesterday"), "sessions[0].start: not an ISO 8601 timestamp: 'yesterday'"),
        (_with("sessions.0.start", None), "sessions[0].start: missing"),
        (_with("sessions.0.end", "2026-13-01"), "sessions[0].end: not an ISO 8601 timestamp: '2026-13-01'"),
        (_with("submitted_at", "03/04/2026"), "submitted_at: not an ISO 8601 timestamp: '03/04/2026'"),
        (_with("submitted_at", None), "submitted_at: missing"),
        (_with("subjects.0.ip_events.0.at", 5), "subjects[0].ip_events[0].at: not an ISO 8601 timestamp: 5"),
        (_with("subjects.0.dob", "May 2"), "subjects[0].dob: not an ISO 8601 date: 'May 2'"),
        (_with("incident_type", "spam"), "incident_type: unknown value 'spam', expected one of " + ", ".join(INCIDENT_TYPES)),
        (_with("subjects.0.role", "victim"), "subjects[0].role: unknown value 'victim', expected one of " + ", ".join(ROLES)),
        (_with("sessions.0.kind", "email"), "sessions[0].kind: unknown value 'email', expected one of " + ", ".join(SESSION_KINDS)),
        (_with("subjects", {"a": 1}), "subjects: not a list"),
        (_with("subjects.0.emails", [{"x": 1}]), "subjects[0].emails[0]: not a string: {'x': 1}"),
    ],
)  # fmt: skip
def test_rejections(tmp_path: Path, line: str | dict[str, Any], reason: str) -> None:
    good = {**EXAMPLE, "report_id": "GOOD"}
    rec = read(write(tmp_path, good, line))
    assert [r["record_id"] for r in rec.referrals.to_pylist()] == ["GOOD"]
    assert len(rec.referral_subjects) == 2 and len(rec.referral_sessions) == 1
    assert len(rec.rejected) == 1
    rej = rec.rejected[0]
    assert rej.location == "line 2"
    assert rej.reason.startswith(reason), rej.reason
    assert rej.raw


def test_duplicate_report_and_bad_utf8(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_bytes(
        json.dumps(EXAMPLE).encode() + b"\n" + json.dumps(EXAMPLE).encode() + b"\n\xff\xfe\n"
    )
    rec = read(p)
    assert len(rec.referrals) == 1
    assert rec.rejected[0].reason == "duplicate report_id 'R-2026-000123' (first on line 1)"
    assert rec.rejected[1].location == "line 3" and rec.rejected[1].reason.startswith("not UTF-8")


def test_is_platform_jsonl_negative(tmp_path: Path) -> None:
    assert not is_platform_jsonl(write(tmp_path, {"report_id": "x"}))
    assert not is_platform_jsonl(write(tmp_path, "a,b,c"))
    (tmp_path / "e.jsonl").write_bytes(b"")
    assert not is_platform_jsonl(tmp_path / "e.jsonl")


# --- properties -------------------------------------------------------------------

_PROPS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_word = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=10)
_ref = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1, max_size=8,
).filter(lambda s: s == s.strip())  # fmt: skip
_ts = st.datetimes(
    min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=8)),
                               dt.timezone(dt.timedelta(hours=-5))]),
)  # fmt: skip


@st.composite
def referral(draw: st.DrawFn, report_id: str) -> dict[str, Any]:
    refs = draw(st.lists(_ref, min_size=1, max_size=4, unique=True))
    subjects = [
        {
            "subject_ref": ref,
            "role": draw(st.sampled_from(ROLES)),
            "account_id": draw(_word),
            "display_name": draw(_word),
            "emails": draw(st.lists(_word, max_size=2, unique=True)),
            "phones": draw(
                st.lists(st.from_regex(r"\+?[0-9 ]{6,14}", fullmatch=True), max_size=2, unique=True)
            ),
            "dob": draw(st.dates(dt.date(1930, 1, 1), dt.date(2020, 1, 1))).isoformat(),
            "country": draw(st.sampled_from(["PH", "AU", "GB", "nowhere", None])),
            "ip_events": [{"ip": "203.0.113.7", "at": draw(_ts).isoformat(), "event": "login"}],
        }
        for ref in refs
    ]
    sessions = [
        {"from": draw(st.sampled_from(refs)), "to": draw(st.sampled_from(refs)),
         "kind": draw(st.sampled_from(SESSION_KINDS)), "start": draw(_ts).isoformat()}
        for _ in range(draw(st.integers(0, 3)))
    ]  # fmt: skip
    return {"report_id": report_id, "platform": draw(_word), "submitted_at": draw(_ts).isoformat(),
            "incident_type": draw(st.sampled_from(INCIDENT_TYPES)),
            "subjects": subjects, "sessions": sessions}  # fmt: skip


@_PROPS
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=4, unique=True).flatmap(
    lambda ids: st.tuples(*(referral(f"R{i}") for i in ids))))  # fmt: skip
def test_valid_referrals_round_trip(tmp_path: Path, refs: tuple[dict[str, Any], ...]) -> None:
    rec = read(write(tmp_path, *refs))
    assert rec.rejected == []
    assert [r["record_id"] for r in rec.referrals.to_pylist()] == [r["report_id"] for r in refs]
    want_subjects = [f"{r['report_id']}#{s['subject_ref']}" for r in refs for s in r["subjects"]]
    assert rec.referral_subjects.column("record_id").to_pylist() == want_subjects
    assert len(rec.referral_sessions) == sum(len(r["sessions"]) for r in refs)
    for got, ref in zip(rec.referrals.to_pylist(), refs, strict=True):
        want = (
            dt.datetime.fromisoformat(ref["submitted_at"]).astimezone(dt.UTC).replace(tzinfo=None)
        )
        assert got["submitted_at"] == want


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _word,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_word, inner, max_size=3),
    max_leaves=8,
)


def test_a_line_of_control_characters_is_quarantined(tmp_path: Path) -> None:
    """Found by hypothesis: a line holding only U+001C was dropped as blank (str.strip drops it)."""
    p = tmp_path / "r.jsonl"
    p.write_bytes(b"\n \t\n\x1c\n")
    rec = read(p)
    assert len(rec.referrals) == 0 and [r.location for r in rec.rejected] == ["line 3"]


@_PROPS
@given(referral("R1"), st.lists(st.tuples(st.sampled_from(
    ["report_id", "submitted_at", "incident_type", "subjects", "sessions", "platform"]), _json), max_size=3),
    st.binary(max_size=60))  # fmt: skip
def test_mutated_lines_never_raise(
    tmp_path: Path, ref: dict[str, Any], changes: list[tuple[str, Any]], junk: bytes
) -> None:
    for key, value in changes:
        ref[key] = value
    subjects = ref.get("subjects")
    if isinstance(subjects, list) and subjects and isinstance(subjects[0], dict):
        # a copy: the value may be the subjects list itself, which would make a cycle
        subjects[0]["dob"] = copy.deepcopy(changes[0][1]) if changes else "x"
    p = tmp_path / "r.jsonl"
    p.write_bytes(json.dumps(ref).encode() + b"\n" + junk + b"\n")
    rec = read(p)
    lines = [x for x in p.read_bytes().split(b"\n") if x.strip(b" \t\r\n")]  # JSON white space
    assert len(rec.referrals) + len(rec.rejected) == len(lines)
    assert len(rec.referrals) <= 1
