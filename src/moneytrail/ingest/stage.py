"""The staging shape every transaction parser produces.

Each format is first read into this one wide table of raw strings (CSV through
DuckDB's reader and a column mapping, pacs.008 through a streaming XML
parser); one shared SQL step (`finish.py`) then validates, converts and loads
it into the canonical `transactions` and `parties` tables. Parsers therefore
never convert amounts, dates, currencies or countries themselves.

A transaction has up to three parties: `from` (who pays), `to` (who is paid)
and `ben`, the beneficiary of a card-funded transfer.

Staged values are trimmed and an empty one is NULL (the CSV view trims with
DuckDB's `trim`; the pacs.008 reader strips all Unicode white space, a superset
of what `trim` removes), so the shared step tests `IS NULL` and trims nothing again.
"""

from __future__ import annotations

import pyarrow as pa

TXN_FIELDS: tuple[str, ...] = (
    "record_id",
    "location",  # "line N" or an XML element path
    "raw",  # the start of the record as read, for the quarantine
    "txn_type",
    "ts",
    "amount",
    "currency",
    "fee",
    "payout_amount",
    "payout_currency",
    "payout_method",
    "payout_agent_id",
    "paid_out_at",
    "channel",
    "memo",
    "purpose_code",
    "mcc",
    "merchant_id",
    "merchant_name",
    "ip_address",
    "device_id",
    "extra",  # JSON object of unknown source columns
)

PARTY_FIELDS: tuple[str, ...] = (
    "party",
    "name",
    "dob",
    "phone",
    "email",
    "address",
    "city",
    "country",
    "account",
    "account_kind",
    "agent_bic",
    "id_type",
    "id_number",
)

SIDES: tuple[str, ...] = ("from", "to", "ben")

STAGE_COLUMNS: tuple[str, ...] = TXN_FIELDS + tuple(
    f"{side}_{field}" for side in SIDES for field in PARTY_FIELDS
)

STAGE_SCHEMA = pa.schema([pa.field(name, pa.string()) for name in STAGE_COLUMNS])


def empty_row() -> dict[str, str | None]:
    return dict.fromkeys(STAGE_COLUMNS)


class Rejected:
    """A record a parser could not read: where it was, why, and how it started."""

    __slots__ = ("location", "raw", "reason")

    def __init__(self, location: str, reason: str, raw: str = ""):
        self.location = location
        self.reason = reason
        self.raw = raw[:500]

    def __repr__(self) -> str:
        return f"Rejected({self.location!r}, {self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rejected) and (self.location, self.reason, self.raw) == (
            other.location,
            other.reason,
            other.raw,
        )

    def __hash__(self) -> int:
        return hash((self.location, self.reason, self.raw))
