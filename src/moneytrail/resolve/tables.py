"""The tables entity resolution writes, declared in the canonical model."""

from __future__ import annotations

from moneytrail.schema import Column, Table, register

RESOLVE_RECORDS = register(
    Table(
        "resolve_records",
        "Every record to resolve: each party occurrence and each referral subject.",
        (
            Column("rid", "BIGINT", "dense record number, stable for the records already resolved"),
            Column("provider", "VARCHAR"),
            Column("record_id", "VARCHAR"),
            Column("party", "VARCHAR", "side of the transaction, or the referral's subject_ref"),
            Column("side", "VARCHAR", "from, to, or subject"),
            Column("origin", "VARCHAR", "party, merchant or referral"),
            Column("name_norm", "VARCHAR"),
            Column("name_sorted", "VARCHAR", "name_norm with its tokens sorted"),
            Column("dob", "DATE"),
            Column("phone", "VARCHAR", "E.164"),
            Column("email", "VARCHAR"),
            Column("address", "VARCHAR", "folded"),
            Column("city", "VARCHAR", "folded"),
            Column("country", "VARCHAR"),
            Column("id_doc", "VARCHAR", "TYPE:NUMBER of an identity document"),
            Column("account", "VARCHAR"),
            Column("account_kind", "VARCHAR"),
            Column("device_id", "VARCHAR"),
            Column("pid", "BIGINT", "profile: records with the same compared values share it"),
        ),
        key=("rid",),
        derived=True,
    )
)

RESOLVE_IDENTIFIERS = register(
    Table(
        "resolve_identifiers",
        "Strong identifiers carried by each record (account, card, email, phone, document, device).",
        (
            Column("rid", "BIGINT"),
            Column("kind", "VARCHAR"),
            Column("value", "VARCHAR"),
        ),
        derived=True,
    )
)

SHARED_IDENTIFIERS = register(
    Table(
        "shared_identifiers",
        "Strong identifiers carried by several unrelated people: they do not link records.",
        (
            Column("kind", "VARCHAR"),
            Column("value", "VARCHAR"),
            Column("n_records", "BIGINT"),
            Column("n_names", "BIGINT", "distinct names (token order ignored)"),
            Column("reason", "VARCHAR", "too_many_names or names_disagree"),
            Column("names", "VARCHAR", "up to five of the names, ';'-separated"),
        ),
        key=("kind", "value"),
        derived=True,
    )
)

SUBJECT_RECORDS = register(
    Table(
        "subject_records",
        "Which records make up each resolved subject (the contract's subject_records.csv).",
        (
            Column("subject_id", "VARCHAR"),
            Column("provider", "VARCHAR"),
            Column("record_id", "VARCHAR"),
            Column("party", "VARCHAR"),
        ),
        key=("provider", "record_id", "party"),
        derived=True,
    )
)

RESOLVE_LINKS = register(
    Table(
        "resolve_links",
        "Evidence between records: strong-identifier links and scored pairs, for explanations.",
        (
            Column("rid_l", "BIGINT"),
            Column("rid_r", "BIGINT"),
            Column("kind", "VARCHAR", "identifier:<kind>, transaction:withdrawal (payee is the payer) or splink"),
            Column("value", "VARCHAR", "the shared identifier, or PROVIDER:RECORD_ID of the transaction"),
            Column("match_weight", "DOUBLE"),
            Column("match_probability", "DOUBLE"),
            Column("levels", "VARCHAR", "JSON: comparison -> level label"),
            Column("merged", "BOOLEAN", "the link joined two groups in clustering"),
        ),
        derived=True,
    )
)

RESOLVE_MODEL = register(
    Table(
        "resolve_model",
        "The trained Splink model (JSON) and the settings of the run, for incremental linking.",
        (
            Column("created_at", "TIMESTAMP"),
            Column("model_json", "VARCHAR"),
            Column("settings_json", "VARCHAR"),
        ),
        derived=True,
    )
)
