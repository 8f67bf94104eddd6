"""The three CSV formats of the data contract, as column mappings.

A mapping says, for each staging column, which source column (or constant)
fills it. Everything else about reading, validating and converting is shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CsvFormat:
    id: str
    # staging column -> source column (lower case) or a quoted SQL literal
    columns: dict[str, str]
    # source columns that must be present and non-empty in every record
    required: tuple[str, ...]
    # staging column -> SQL expression (over staging columns) computed afterwards
    derived: dict[str, str] = field(default_factory=dict)

    @property
    def id_column(self) -> str:
        return self.columns["record_id"]

    def signature(self) -> frozenset[str]:
        """Source columns that identify this format in a header."""
        return frozenset(self.required)


REMITTANCE = CsvFormat(
    "remittance-csv",
    {
        "record_id": "transfer_id",
        "txn_type": "'transfer'",
        "ts": "created_at",
        "amount": "send_amount",
        "currency": "send_currency",
        "payout_amount": "payout_amount",
        "payout_currency": "payout_currency",
        "payout_method": "payout_method",
        "payout_agent_id": "payout_agent_id",
        "paid_out_at": "paid_out_at",
        "channel": "channel",
        "memo": "purpose",
        "ip_address": "ip_address",
        "device_id": "device_id",
        "from_party": "'sender'",
        "from_account": "sender_id",
        "from_account_kind": "'customer'",
        "from_name": "sender_name",
        "from_dob": "sender_dob",
        "from_phone": "sender_phone",
        "from_email": "sender_email",
        "from_address": "sender_address",
        "from_city": "sender_city",
        "from_country": "sender_country",
        "from_id_type": "sender_id_type",
        "from_id_number": "sender_id_number",
        "to_party": "'receiver'",
        "to_name": "receiver_name",
        "to_phone": "receiver_phone",
        "to_city": "receiver_city",
        "to_country": "receiver_country",
    },
    required=(
        "transfer_id",
        "created_at",
        "sender_name",
        "sender_country",
        "receiver_name",
        "receiver_country",
        "send_amount",
        "send_currency",
    ),
)

WALLET = CsvFormat(
    "wallet-csv",
    {
        "record_id": "txn_id",
        "txn_type": "type",
        "ts": "timestamp",
        "amount": "gross",
        "currency": "currency",
        "fee": "fee",
        "memo": "note",
        "ip_address": "ip_address",
        "device_id": "device_id",
        "from_party": "'payer'",
        "from_account": "payer_account_id",
        "from_account_kind": "'wallet'",
        "from_name": "payer_name",
        "from_email": "payer_email",
        "from_phone": "payer_phone",
        "from_country": "payer_country",
        "to_party": "'payee'",
        "to_account": "payee_account_id",
        "to_account_kind": "'wallet'",
        "to_name": "payee_name",
        "to_email": "payee_email",
        "to_phone": "payee_phone",
        "to_country": "payee_country",
    },
    required=("txn_id", "timestamp", "type", "payer_account_id", "payee_account_id", "gross", "currency"),
)

CARD = CsvFormat(
    "card-csv",
    {
        "record_id": "txn_id",
        "ts": "timestamp",
        "amount": "amount",
        "currency": "currency",
        "channel": "channel",
        "mcc": "mcc",
        "merchant_id": "merchant_id",
        "merchant_name": "merchant_name",
        "from_party": "'cardholder'",
        "from_account": "card_token",
        "from_account_kind": "'card'",
        "from_name": "cardholder_name",
        "from_dob": "cardholder_dob",
        "from_email": "cardholder_email",
        "from_phone": "cardholder_phone",
        "from_country": "issuer_country",
        "to_party": "'merchant'",
        "to_account": "merchant_id",
        "to_account_kind": "'merchant'",
        "to_name": "merchant_name",
        "to_country": "merchant_country",
        "ben_name": "beneficiary_name",
        "ben_country": "beneficiary_country",
        "ben_account": "beneficiary_account",
    },
    required=(
        "txn_id",
        "timestamp",
        "card_token",
        "issuer_country",
        "merchant_id",
        "merchant_name",
        "mcc",
        "merchant_country",
        "amount",
        "currency",
    ),
    derived={
        "txn_type": "CASE WHEN trim(mcc) IN ('4829', '6538') THEN 'card_transfer' ELSE 'purchase' END",
        "ben_party": "CASE WHEN coalesce(ben_name, ben_account, ben_country) IS NOT NULL THEN 'receiver' END",
        "ben_account_kind": "CASE WHEN ben_account IS NOT NULL THEN 'beneficiary_account' END",
    },
)

CSV_FORMATS: dict[str, CsvFormat] = {f.id: f for f in (REMITTANCE, WALLET, CARD)}
VALID_WALLET_TYPES = ("payment", "send_money", "withdrawal", "top_up", "refund")


def detect_csv_format(header: list[str]) -> str | None:
    """The format whose required columns the header has; the most specific wins."""
    cols = {h.strip().lower() for h in header}
    matches = [f for f in CSV_FORMATS.values() if f.signature() <= cols]
    if not matches:
        return None
    return max(matches, key=lambda f: len(f.signature())).id
