"""One payment, as a provider sends it, into the canonical transaction and its parties.

Accepted: a remittance, wallet or card record as a JSON object whose keys are
the columns of that CSV format of the data contract, or one pacs.008 message.
Nothing here is a second parser:

- a JSON record goes through the format's column mapping
  (:mod:`moneytrail.ingest.csv_formats`: source column -> staging column, the
  derived columns compiled from the same SQL);
- a pacs.008 message goes through the batch reader
  (:mod:`moneytrail.ingest.pacs008`), which already works on a stream;
- names, phones and e-mails go through :mod:`moneytrail.normalise`, countries,
  currencies, zones and USD rates come from the warehouse's own reference tables.

What finish.py does in SQL for a file (validate, convert, normalise) is done
here for one staged record, with the same rules and the same reasons, so a
record the batch would quarantine is refused with the reason the quarantine
would show. The parity test holds the two equal, field by field.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from moneytrail.errors import UserError
from moneytrail.ingest.csv_formats import (
    CSV_FORMATS,
    VALID_WALLET_TYPES,
    CsvFormat,
    detect_csv_format,
)
from moneytrail.ingest.finish import OFFSET
from moneytrail.ingest.stage import PARTY_FIELDS, SIDES, STAGE_COLUMNS
from moneytrail.normalise import normalise_email, normalise_name, normalise_phone
from moneytrail.realtime.sqlcompile import Compiled, Scope, compile_select, parse_expression

Record = dict[str, Any]
_OFFSET = re.compile(OFFSET)
_SPACES = re.compile(r"\s+")
_INTERNATIONAL = re.compile(r"^(\+|00)")
_FOUR = Decimal("0.0001")
_AMOUNT_MAX = Decimal(10) ** 16  # DECIMAL(20,4)


class RejectedPayment(UserError):
    """The payment cannot be read; the message is the reason the quarantine would give."""


@dataclass
class Reference:
    """The warehouse's reference tables, as the batch's SQL joins them.

    ``normalised`` caches the normalisers' answers by (kind, value, hint), like
    the warehouse's ``normalised_values`` (loaded from it): the slow ones
    (phonenumbers) then run once per distinct value, not per payment.
    """

    countries: dict[str, str]  # lower-case key -> alpha-2
    zones: dict[str, str]  # alpha-2 -> IANA zone
    currencies: frozenset[str]
    rates: dict[str, list[tuple[date, float]]]  # currency -> [(day, USD per unit)] by day
    normalised: dict[tuple[str, str, str], str | None] = field(default_factory=dict)
    cache_limit: int = 500_000

    def normalise(self, kind: str, value: str | None, hint: str = "") -> str | None:
        if value is None:
            return None
        key = (kind, value, hint)
        try:
            return self.normalised[key]
        except KeyError:
            pass
        if kind == "name":
            norm = normalise_name(value)
        elif kind == "email":
            norm = normalise_email(value)
        else:
            norm = normalise_phone(value, hint or None)
        if len(self.normalised) < self.cache_limit:
            self.normalised[key] = norm
        return norm

    @classmethod
    def from_warehouse(cls, con: duckdb.DuckDBPyConnection) -> Reference:
        rates: dict[str, list[tuple[date, float]]] = {}
        # the batch's preference: a bundle's own rate over the built-in one, the largest on a tie
        for cur, day, rate in con.execute("""
            SELECT currency, date, max(usd_per_unit) FROM (
                SELECT currency, date, usd_per_unit,
                       rank() OVER (PARTITION BY currency, date
                                    ORDER BY CASE WHEN source = 'builtin' THEN 1 ELSE 0 END) AS pref
                FROM fx_rates) WHERE pref = 1 GROUP BY ALL ORDER BY currency, date""").fetchall():
            rates.setdefault(cur, []).append((day, float(rate)))
        return cls(
            countries=dict(con.execute("SELECT key, alpha2 FROM country_lookup").fetchall()),
            zones=dict(con.execute("SELECT country, tz FROM country_tz").fetchall()),
            currencies=frozenset(r[0] for r in con.execute("SELECT code FROM currency_codes").fetchall()),
            rates=rates,
            normalised={(k, v, h): n for k, v, h, n in con.execute(
                "SELECT kind, value, hint, norm FROM normalised_values").fetchall()},
        )

    def country(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self.countries.get(_SPACES.sub(" ", value).strip().lower())

    def usd_rate(self, currency: str, day: date) -> float | None:
        """The latest rate on or before the day (the batch's as-of join)."""
        best = None
        for d, rate in self.rates.get(currency, []):
            if d > day:
                break
            best = rate
        return best


@dataclass
class Payment:
    """A canonical transaction and its parties, as ingestion would store them."""

    transaction: Record
    parties: list[Record] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return self.transaction["provider"], self.transaction["record_id"]


# --- staging: the format's mapping or the pacs.008 reader --------------------------------


@cache
def _derived(fmt_id: str) -> Compiled | None:
    fmt = CSV_FORMATS[fmt_id]
    if not fmt.derived:
        return None
    cols = [(c, parse_expression(e)) for c, e in fmt.derived.items()]
    return compile_select(cols, Scope({"s": None}, default="s"), name=f"derived_{fmt_id.replace('-', '_')}")


def _clean(value: Any) -> str | None:
    """A source field as the CSV view reads it: text, trimmed, empty as NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value).strip(" ")
    return text or None


def stage_record(record: Mapping[str, Any], fmt: CsvFormat) -> Record:
    """A JSON record in the staging shape, by the format's column mapping."""
    src = {str(k).strip().lower(): v for k, v in record.items()}
    row: Record = dict.fromkeys(STAGE_COLUMNS)
    used: set[str] = set()
    for col in STAGE_COLUMNS:
        source = fmt.columns.get(col)
        if source is None or col in fmt.derived:
            continue
        if source.startswith("'"):
            row[col] = source.strip("'")
        else:
            row[col] = _clean(src.get(source))
            used.add(source)
    unknown = {k: None if v is None else str(v) for k, v in src.items() if k not in used}
    row["extra"] = json.dumps(unknown, separators=(",", ":"), ensure_ascii=False) if unknown else None
    derived = _derived(fmt.id)
    if derived is not None:
        row.update(derived.fn({"s": row}))
    return row


def stage_pacs008(xml: bytes) -> Record:
    """One pacs.008 message (one CdtTrfTxInf) in the staging shape, by the batch reader.

    Through the reader's public entry point, which reads files: the message goes
    through a temporary file (in memory where /dev/shm exists), a fraction of a
    millisecond, so that the batch reader's internals stay its own.
    """
    from moneytrail.ingest.pacs008 import read_pacs008

    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    rows: list[dict[str, Any]] = []
    with tempfile.NamedTemporaryFile(suffix=".xml", dir=shm) as fh:
        fh.write(xml)
        fh.flush()
        for batch, rejected in read_pacs008(fh.name, 2):
            if rejected:
                raise RejectedPayment(rejected[0].reason)
            rows += batch.to_pylist()
    if len(rows) != 1:
        raise RejectedPayment(f"a pacs.008 message with one transaction (CdtTrfTxInf) is needed, got {len(rows)}")
    return {c: rows[0].get(c) for c in STAGE_COLUMNS}


# --- conversion: finish.py's rules for one record ------------------------------------------


@cache
def _zone(name: str) -> ZoneInfo:
    """ZoneInfo's own cache keeps 8 zones; a provider's customers live in more (and a miss reads a file)."""
    return ZoneInfo(name)


_TS = re.compile(
    r"^(\d{4})([-/])(\d{1,2})\2(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def _timestamp(text: str) -> tuple[datetime, int | None] | None:
    """DuckDB's reading of an ISO-like timestamp: (wall time, offset in minutes or None)."""
    m = _TS.match(text)
    if m is None:
        return None
    y, _, mo, d, h, mi, sec, frac, off = m.groups()
    try:
        day = datetime(int(y), int(mo), int(d))
        hour, minute, second = int(h or 0), int(mi or 0), int(sec or 0)
        micro = int((frac or "")[:6].ljust(6, "0"))
        if hour == 24 and minute == second == micro == 0:  # 24:00:00 is the next midnight
            value = day + timedelta(days=1)
        else:
            value = day.replace(hour=hour, minute=minute, second=second, microsecond=micro)
    except ValueError:
        return None
    if off is None:
        return value, None
    if off == "Z":
        return value, 0
    sign = -1 if off[0] == "-" else 1
    digits = off[1:].replace(":", "")
    return value, sign * (int(digits[:2]) * 60 + int(digits[2:4] or 0))


def parse_ts(text: str | None, naive_tz: str | None) -> datetime | None:
    """ISO 8601 text -> naive UTC, as finish.parse_ts_sql: with an offset the instant is exact,
    without one it is wall time in `naive_tz` (else UTC)."""
    if text is None:
        return None
    text = text.strip(" ")
    parsed = _timestamp(text)
    if parsed is None:
        return None
    value, offset = parsed
    if _OFFSET.search(text):
        # DuckDB casts it as TIMESTAMPTZ; a bare date (ending in -DD) is midnight UTC
        return value - timedelta(minutes=offset) if offset is not None else value
    if offset is not None:
        return None
    if naive_tz and naive_tz != "UTC":
        return _wall_to_utc(value, _zone(naive_tz))
    return value


def _wall_to_utc(value: datetime, zone: ZoneInfo) -> datetime:
    """Wall time in a zone -> naive UTC, as DuckDB (ICU) resolves it: a time that occurs
    twice (clocks go back) is the later one, a time that never occurs (clocks go forward)
    takes the offset from before the change."""
    first = value.replace(tzinfo=zone, fold=0).astimezone(UTC)
    later = value.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first != later and later.astimezone(zone).replace(tzinfo=None) == value:
        return later.replace(tzinfo=None)
    return first.replace(tzinfo=None)


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.strip(" "))
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    value = value.quantize(_FOUR, rounding=ROUND_HALF_UP)
    return value if abs(value) < _AMOUNT_MAX else None


def _round4(x: float) -> float:
    """DuckDB's round(x, 4): correctly rounded from the double's exact value, exact ties away from zero."""
    if not math.isfinite(x):
        return x
    return float(Decimal(x).quantize(_FOUR, rounding=ROUND_HALF_UP))


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip(" "))
    except ValueError:
        return None


def _nz(text: Any) -> str | None:
    if text is None:
        return None
    s = str(text).strip(" ")
    return s or None


def convert(staged: Record, *, provider: str, fmt: str, timezone: str | None, ref: Reference,
            required: tuple[tuple[str, str], ...] = (), required_countries: tuple[str, ...] = (),
            check_wallet_type: bool = False) -> Payment:
    """The staged record as a canonical transaction and parties, or RejectedPayment with the batch's reason.

    `required` are (staging column, name the sender knows it by) that must be non-empty;
    the checks run in the order of finish.check_into, so the first reason is the same.
    """
    for col, label in required:
        if _nz(staged.get(col)) is None:
            raise RejectedPayment(f"missing {label}")
    rid = _nz(staged.get("record_id"))
    ts = parse_ts(staged.get("ts"), timezone)
    amount = _decimal(staged.get("amount"))
    cur_raw = staged.get("currency")
    currency = cur_raw.strip(" ").upper() if cur_raw and cur_raw.strip(" ").upper() in ref.currencies else None
    countries = {side: ref.country(staged.get(f"{side}_country")) for side in SIDES}
    if rid is None:
        raise RejectedPayment("missing record id")
    if ts is None:
        raise RejectedPayment(f"bad timestamp: {staged.get('ts') or ''}")
    if amount is None:
        raise RejectedPayment(f"bad amount: {staged.get('amount') or ''}")
    if amount < 0:
        raise RejectedPayment(f"negative amount: {staged.get('amount')}")
    if currency is None:
        raise RejectedPayment(f"unknown currency: {cur_raw or ''}")
    for side in required_countries:
        if countries[side] is None and _nz(staged.get(f"{side}_country")) is not None:
            raise RejectedPayment(f"unknown country: {staged.get(f'{side}_country')}")
    if check_wallet_type and (staged.get("txn_type") or "").strip(" ").lower() not in VALID_WALLET_TYPES:
        raise RejectedPayment(
            f"unknown type: {staged.get('txn_type')} (expected one of {', '.join(VALID_WALLET_TYPES)})")
    rate = ref.usd_rate(currency, ts.date())
    if rate is None:
        raise RejectedPayment(f"no USD rate for {currency} on {ts.date().isoformat()}: add it to fx_rates.csv")
    zone = ref.zones.get(countries["from"] or "", timezone or "UTC")
    local = ts.replace(tzinfo=UTC).astimezone(_zone(zone))
    txn_type = staged.get("txn_type")
    extra = staged.get("extra")

    def upper(v: Any) -> str | None:
        s = _nz(v)
        return s.upper() if s else None

    def lower(v: Any) -> str | None:
        s = _nz(v)
        return s.lower() if s else None

    txn: Record = {
        "provider": provider, "record_id": rid, "format": fmt, "source_file": "realtime",
        "txn_type": lower(txn_type), "ts_utc": ts, "local_hour": local.hour,
        "amount": amount, "currency": currency, "amount_usd": _round4(float(amount) * rate),
        "fee": _decimal(staged.get("fee")), "payout_amount": _decimal(staged.get("payout_amount")),
        "payout_currency": upper(staged.get("payout_currency")), "payout_method": lower(staged.get("payout_method")),
        "payout_agent_id": _nz(staged.get("payout_agent_id")),
        "paid_out_at": parse_ts(_nz(staged.get("paid_out_at")), timezone),
        "channel": lower(staged.get("channel")), "memo": _nz(staged.get("memo")),
        "purpose_code": _nz(staged.get("purpose_code")), "mcc": _nz(staged.get("mcc")),
        "merchant_id": _nz(staged.get("merchant_id")), "merchant_name": _nz(staged.get("merchant_name")),
        "sender_country": countries["from"], "receiver_country": countries["ben"] or countries["to"],
        "ip_address": _nz(staged.get("ip_address")), "device_id": _nz(staged.get("device_id")),
        "extra": None if extra in (None, "{}") else extra,
    }
    parties = []
    for side in SIDES:
        if staged.get(f"{side}_party") is None:
            continue
        f = {name: staged.get(f"{side}_{name}") for name in PARTY_FIELDS}
        phone = f["phone"]
        hint = "" if phone is None or _INTERNATIONAL.search(phone.strip(" ")) else (countries[side] or "")
        account = _nz(f["account"])
        parties.append({
            "provider": provider, "record_id": rid, "party": f["party"], "side": "from" if side == "from" else "to",
            "name": _nz(f["name"]), "name_norm": ref.normalise("name", f["name"]),
            "dob": _date(f["dob"]), "phone": _nz(phone),
            "phone_e164": ref.normalise("phone", phone, hint),
            "email": ref.normalise("email", f["email"]),
            "address": _nz(f["address"]), "city": _nz(f["city"]), "country": countries[side],
            "account": account, "account_kind": f["account_kind"] if account else None,
            "agent_bic": _nz(f["agent_bic"]), "id_type": _nz(f["id_type"]), "id_number": _nz(f["id_number"]),
        })
    return Payment(txn, parties)


# --- the request body ---------------------------------------------------------------------------


def parse_payment(body: Mapping[str, Any], ref: Reference, timezones: Mapping[str, str] | None = None) -> Payment:
    """A request body -> Payment.

    ``{"provider": P, "record": {...}, "format": F?, "timezone": Z?}`` for a CSV-format
    record (the format is found from its keys when not given), or
    ``{"provider": P, "pacs008": "<Document ...>", "timezone": Z?}``. ``timezone`` is
    the zone of timestamps without an offset (as in sources.csv); by default the
    provider's zone from `timezones`, else UTC.
    """
    provider = _nz(body.get("provider"))
    if provider is None:
        raise UserError("the payment needs a 'provider' (who sent the record)")
    tz = _nz(body.get("timezone")) or (timezones or {}).get(provider)
    if tz is not None:
        try:
            _zone(tz)
        except (KeyError, ValueError) as exc:
            raise UserError(f"unknown time zone {tz!r}; use an IANA name such as 'Asia/Manila'") from exc
    if body.get("pacs008") is not None:
        xml = body["pacs008"]
        staged = stage_pacs008(xml.encode("utf-8") if isinstance(xml, str) else bytes(xml))
        return convert(staged, provider=provider, fmt="pacs008", timezone=tz, ref=ref,
                       required=(("record_id", "UETR, EndToEndId or TxId"), ("ts", "CreDtTm")))
    record = body.get("record")
    if not isinstance(record, Mapping):
        raise UserError("the payment needs 'record' (a JSON object with the columns of its CSV format) or 'pacs008' (the XML message)")
    fmt_id = _nz(body.get("format")) or detect_csv_format([str(k) for k in record])
    if fmt_id not in CSV_FORMATS:
        raise UserError(
            f"cannot tell the record's format ({fmt_id or 'no match'}); give 'format' as one of "
            f"{', '.join(CSV_FORMATS)} or use the columns of one of them"
        )
    fmt = CSV_FORMATS[fmt_id]
    staged = stage_record(record, fmt)
    reverse = {v: k for k, v in fmt.columns.items() if not v.startswith("'")}
    return convert(
        staged, provider=provider, fmt=fmt.id, timezone=tz, ref=ref,
        required=tuple((reverse[c], c) for c in fmt.required if c in reverse),
        required_countries=() if fmt.id == "wallet-csv" else ("from", "to"),
        check_wallet_type=fmt.id == "wallet-csv",
    )
