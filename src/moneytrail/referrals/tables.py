"""The tables the referral stage writes, declared in the canonical model."""

from __future__ import annotations

from moneytrail.schema import Column, Table, register

REFERRAL_LINKS = register(
    Table(
        "referral_links",
        "Referral subjects linked to payment subjects, one row per path.",
        (
            Column("referral_provider", "VARCHAR"),
            Column("referral_record_id", "VARCHAR", "report_id#subject_ref"),
            Column("subject_id", "VARCHAR", "a subject of subject_records with payment records"),
            Column("via", "VARCHAR", "resolve, ip, device or session"),
            Column("evidence", "VARCHAR", "what matched, for a person to read"),
        ),
        key=("referral_provider", "referral_record_id", "subject_id", "via"),
        derived=True,
    )
)

SHARED_IPS = register(
    Table(
        "referral_shared_ips",
        "IPs and devices of referral IP events that link nothing: used by many payment subjects.",
        (
            Column("kind", "VARCHAR", "ip or device"),
            Column("value", "VARCHAR"),
            Column("n_subjects", "BIGINT", "distinct payment subjects that used it at web/app payments"),
        ),
        key=("kind", "value"),
        derived=True,
    )
)

ALIGNED_PAYMENTS = register(
    Table(
        "aligned_payments",
        "Payments between two linked referral subjects close in time to a session between them.",
        (
            Column("provider", "VARCHAR", "of the payment"),
            Column("record_id", "VARCHAR", "of the payment"),
            Column("referral_provider", "VARCHAR"),
            Column("report_id", "VARCHAR"),
            Column("session_seq", "INTEGER", "referral_sessions.seq"),
            Column('"order"', "VARCHAR", "payment_first or session_first (quoted: a reserved word)"),
            Column("gap_minutes", "DOUBLE", "minutes between the payment and the session start, >= 0"),
        ),
        key=("provider", "record_id", "referral_provider", "report_id", "session_seq"),
        derived=True,
    )
)

REFERRAL_TXN_FEATURES = register(
    Table(
        "referral_txn_features",
        "Per-transaction referral indicators; transactions absent have all four at 0.",
        (
            Column("provider", "VARCHAR"),
            Column("record_id", "VARCHAR"),
            Column("aligned_session", "INTEGER", "1: in aligned_payments (either order)"),
            Column("login_time_match", "INTEGER", "1: sender-local hour within ±1 h of a login of the sender's linked account, within 7 days"),
            Column("referral_linked_sender", "INTEGER", "1: the paying side's subject is linked to a referral subject"),
            Column("referral_linked_receiver", "INTEGER", "1: the paid side's subject is linked to a referral subject"),
        ),
        key=("provider", "record_id"),
        derived=True,
    )
)
