"""The canonical model: every warehouse table, declared once.

Every stage reads and writes these tables by name. Types are DuckDB SQL types;
`ddl()` renders them for DuckDB and, through SQLGlot, for other engines, and
`arrow_schema()` gives the matching Arrow schema for parsers that build rows in
Python (pacs.008, platform referrals).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import sqlglot


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    derived: bool = field(default=False)  # rebuilt by the run, not by ingestion

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def ddl(self, dialect: str = "duckdb", if_not_exists: bool = True) -> str:
        cols = ",\n  ".join(f"{c.name} {c.type}" for c in self.columns)
        guard = "IF NOT EXISTS " if if_not_exists else ""
        sql = f"CREATE TABLE {guard}{self.name} (\n  {cols}\n)"
        if dialect == "duckdb":
            return sql
        return sqlglot.transpile(sql, read="duckdb", write=dialect)[0]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, _arrow_type(c.type)) for c in self.columns])


def _arrow_type(sql_type: str) -> pa.DataType:
    t = sql_type.upper()
    if t.startswith("DECIMAL"):
        precision, scale = (int(x) for x in t[t.index("(") + 1 : t.index(")")].split(","))
        return pa.decimal128(precision, scale)
    return {
        "VARCHAR": pa.string(),
        "DOUBLE": pa.float64(),
        "INTEGER": pa.int32(),
        "SMALLINT": pa.int16(),
        "BIGINT": pa.int64(),
        "BOOLEAN": pa.bool_(),
        "DATE": pa.date32(),
        "TIMESTAMP": pa.timestamp("us"),
    }[t]


AMOUNT = "DECIMAL(20,4)"

TRANSACTIONS = Table(
    "transactions",
    "One row per payment, whatever format it came in.",
    (
        Column("provider", "VARCHAR", "who supplied the record"),
        Column("record_id", "VARCHAR", "the provider's id: transfer_id, txn_id, UETR..."),
        Column("format", "VARCHAR", "format id of the source file"),
        Column("source_file", "VARCHAR", "path of the file, relative to the bundle"),
        Column("txn_type", "VARCHAR", "transfer, payment, send_money, withdrawal, top_up, refund, purchase, card_transfer, credit_transfer"),
        Column("ts_utc", "TIMESTAMP", "when the payer paid, in UTC"),
        Column("local_hour", "SMALLINT", "hour of day in the sender's local time zone"),
        Column("amount", AMOUNT, "amount in the original currency"),
        Column("currency", "VARCHAR", "ISO 4217"),
        Column("amount_usd", "DOUBLE", "amount converted to US dollars"),
        Column("fee", AMOUNT),
        Column("payout_amount", AMOUNT),
        Column("payout_currency", "VARCHAR"),
        Column("payout_method", "VARCHAR", "cash, wallet, bank"),
        Column("payout_agent_id", "VARCHAR", "agent location that paid out"),
        Column("paid_out_at", "TIMESTAMP", "UTC; NULL while not collected"),
        Column("channel", "VARCHAR", "agent, web, app, ecom, pos, moto"),
        Column("memo", "VARCHAR", "purpose, note or unstructured remittance information"),
        Column("purpose_code", "VARCHAR", "ISO 20022 Purp/Cd"),
        Column("mcc", "VARCHAR", "ISO 18245 merchant category code"),
        Column("merchant_id", "VARCHAR"),
        Column("merchant_name", "VARCHAR"),
        Column("sender_country", "VARCHAR", "ISO 3166-1 alpha-2 of the paying side"),
        Column("receiver_country", "VARCHAR", "ISO 3166-1 alpha-2 of the receiving side"),
        Column("ip_address", "VARCHAR"),
        Column("device_id", "VARCHAR"),
        Column("extra", "VARCHAR", "unknown source columns, as a JSON object"),
    ),
    key=("provider", "record_id"),
)

PARTIES = Table(
    "parties",
    "One row per side of each transaction: a party occurrence.",
    (
        Column("provider", "VARCHAR"),
        Column("record_id", "VARCHAR"),
        Column("party", "VARCHAR", "sender, receiver, payer, payee, cardholder, merchant, debtor, creditor"),
        Column("side", "VARCHAR", "from (pays) or to (is paid)"),
        Column("name", "VARCHAR", "as written"),
        Column("name_norm", "VARCHAR", "folded, lower case, no punctuation, token order kept"),
        Column("dob", "DATE"),
        Column("phone", "VARCHAR", "as written"),
        Column("phone_e164", "VARCHAR"),
        Column("email", "VARCHAR", "normalised: lower case, trimmed"),
        Column("address", "VARCHAR"),
        Column("city", "VARCHAR"),
        Column("country", "VARCHAR", "ISO 3166-1 alpha-2"),
        Column("account", "VARCHAR", "account id, IBAN, card token or merchant id"),
        Column("account_kind", "VARCHAR", "customer, wallet, iban, account, card, merchant, beneficiary_account"),
        Column("agent_bic", "VARCHAR"),
        Column("id_type", "VARCHAR"),
        Column("id_number", "VARCHAR"),
    ),
    key=("provider", "record_id", "party"),
)

REFERRALS = Table(
    "referrals",
    "Platform referrals: one row per report.",
    (
        Column("provider", "VARCHAR"),
        Column("record_id", "VARCHAR", "report_id"),
        Column("source_file", "VARCHAR"),
        Column("platform", "VARCHAR"),
        Column("submitted_at", "TIMESTAMP"),
        Column("incident_type", "VARCHAR"),
    ),
    key=("provider", "record_id"),
)

REFERRAL_SUBJECTS = Table(
    "referral_subjects",
    "The accounts a referral names. record_id is report_id#subject_ref.",
    (
        Column("provider", "VARCHAR"),
        Column("record_id", "VARCHAR", "report_id#subject_ref"),
        Column("report_id", "VARCHAR"),
        Column("subject_ref", "VARCHAR"),
        Column("platform", "VARCHAR"),
        Column("role", "VARCHAR", "suspect_viewer, suspect_facilitator, suspect, other"),
        Column("account_id", "VARCHAR"),
        Column("screen_name", "VARCHAR"),
        Column("display_name", "VARCHAR"),
        Column("name_norm", "VARCHAR"),
        Column("dob", "DATE"),
        Column("country", "VARCHAR"),
    ),
    key=("provider", "record_id"),
)

REFERRAL_IDENTIFIERS = Table(
    "referral_identifiers",
    "Emails and phones of referral subjects, one per row.",
    (
        Column("provider", "VARCHAR"),
        Column("record_id", "VARCHAR", "report_id#subject_ref"),
        Column("kind", "VARCHAR", "email or phone"),
        Column("value", "VARCHAR", "as written"),
        Column("value_norm", "VARCHAR", "lower-case email or E.164 phone"),
    ),
    key=("provider", "record_id", "kind", "value"),
)

REFERRAL_IP_EVENTS = Table(
    "referral_ip_events",
    "IP addresses seen on a referral subject's account, with times.",
    (
        Column("provider", "VARCHAR"),
        Column("record_id", "VARCHAR", "report_id#subject_ref"),
        Column("seq", "INTEGER", "position in the subject's ip_events"),
        Column("ip", "VARCHAR"),
        Column("at_utc", "TIMESTAMP"),
        Column("event", "VARCHAR"),
        Column("country", "VARCHAR"),
    ),
    key=("provider", "record_id", "seq"),
)

REFERRAL_SESSIONS = Table(
    "referral_sessions",
    "Calls and streams between referral subjects.",
    (
        Column("provider", "VARCHAR"),
        Column("report_id", "VARCHAR"),
        Column("seq", "INTEGER", "position in the referral's sessions"),
        Column("from_record_id", "VARCHAR", "report_id#subject_ref"),
        Column("to_record_id", "VARCHAR", "report_id#subject_ref"),
        Column("kind", "VARCHAR", "video_call, live_stream, voice_call, chat"),
        Column("start_utc", "TIMESTAMP"),
        Column("end_utc", "TIMESTAMP"),
    ),
    key=("provider", "report_id", "seq"),
)

QUARANTINE = Table(
    "quarantine",
    "Every record that could not be read, with where it was and why.",
    (
        Column("provider", "VARCHAR"),
        Column("file", "VARCHAR"),
        Column("location", "VARCHAR", "line N, or an element path for XML"),
        Column("reason", "VARCHAR"),
        Column("raw", "VARCHAR", "the start of the record as read"),
    ),
)

INGESTED_FILES = Table(
    "ingested_files",
    "Files already ingested, by content hash: ingesting one again adds nothing.",
    (
        Column("sha256", "VARCHAR"),
        Column("path", "VARCHAR"),
        Column("provider", "VARCHAR"),
        Column("format", "VARCHAR"),
        Column("records", "BIGINT"),
        Column("quarantined", "BIGINT"),
        Column("ingested_at", "TIMESTAMP"),
    ),
    key=("sha256", "provider"),
)

FX_RATES = Table(
    "fx_rates",
    "Exchange rates: the latest rate on or before a payment's day applies.",
    (
        Column("date", "DATE"),
        Column("currency", "VARCHAR"),
        Column("usd_per_unit", "DOUBLE"),
        Column("source", "VARCHAR", "builtin, or the bundle file the rate came from"),
    ),
    key=("date", "currency", "source"),
)

NORMALISED_VALUES = Table(
    "normalised_values",
    "Each distinct raw value normalised once: names, emails, phones (per country hint).",
    (
        Column("kind", "VARCHAR", "name, email or phone"),
        Column("value", "VARCHAR", "as written"),
        Column("hint", "VARCHAR", "country hint for phones, '' otherwise"),
        Column("norm", "VARCHAR", "normalised value, NULL when unusable"),
    ),
    key=("kind", "value", "hint"),
)

INGEST_TABLES: tuple[Table, ...] = (
    TRANSACTIONS,
    PARTIES,
    REFERRALS,
    REFERRAL_SUBJECTS,
    REFERRAL_IDENTIFIERS,
    REFERRAL_IP_EVENTS,
    REFERRAL_SESSIONS,
    QUARANTINE,
    INGESTED_FILES,
    FX_RATES,
    NORMALISED_VALUES,
)

TABLES: dict[str, Table] = {t.name: t for t in INGEST_TABLES}


def register(table: Table) -> Table:
    """Add a table declared by a later stage (subjects, scores...) to the model."""
    TABLES[table.name] = table
    return table


# Party names per format, in (from side, to side) order: the contract's
# `party` column of subject_records.csv.
PARTY_ROLES: dict[str, tuple[str, str]] = {
    "remittance-csv": ("sender", "receiver"),
    "wallet-csv": ("payer", "payee"),
    "card-csv": ("cardholder", "merchant"),
    "pacs008": ("debtor", "creditor"),
}
