"""Validate, convert and load a staged file: the one step every format shares.

A parser exposes its records as a relation in the staging shape (`stage.py`)
with an `ordinal` (record number in the batch), a `fixed_line` (physical line
when known, else NULL) and a lazily computed `raw`; its values are trimmed,
and empty ones NULL. `check_into` reads that relation once into `checked` (an
Arrow table, see `SCRATCH_SETTING`): for each record only its ordinal, id,
converted values and the reason if bad (writing the staged text again cost
more than every check).
`load_checked` then sends bad records to `quarantine` with location and
reason, and good ones to `transactions` and `parties`, joining the staged text
back by ordinal (the parties of all sides in one scan). Records already in the store (same provider and record id) are
skipped, so ingesting a file twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from moneytrail.ingest.normalise_values import normalise_checked_values, phone_hint_sql
from moneytrail.ingest.order import unordered
from moneytrail.ingest.stage import PARTY_FIELDS, SIDES
from moneytrail.schema import AMOUNT, PARTIES, TRANSACTIONS
from moneytrail.store import scalar

OFFSET = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"

# Scratch tables (`checked`, `stage_norm`...) are Arrow tables that SQL reads by
# the name of a Python variable of a calling function (DuckDB's replacement
# scan): temp tables or registered views made inside a transaction are held
# until the commit, even when dropped or replaced.
SCRATCH_SETTING = "SET python_scan_all_frames = true"


@dataclass
class FinishCounts:
    loaded: int = 0
    quarantined: int = 0
    already_present: int = 0
    files: dict[str, FinishCounts] = field(default_factory=dict)  # of a batch, by source_file


@dataclass(frozen=True)
class Rules:
    """What makes a record of one format unreadable."""

    # (staging column, the name the user knows it by) that must be non-empty
    required: Sequence[tuple[str, str]] = ()
    # (SQL condition over staging columns, SQL text of the reason)
    checks: Sequence[tuple[str, str]] = ()
    # sides whose country, when given, must be a known country
    required_countries: Sequence[str] = ()


def sql_str(value: str | None) -> str:
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


def parse_ts_sql(expr: str, naive_tz: str | None) -> str:
    """ISO 8601 text -> naive UTC TIMESTAMP; NULL when unreadable.

    With an offset the instant is exact; without one the text is wall-clock
    time in the provider's zone (`naive_tz`), else UTC.
    """
    local = f"try_cast({expr} AS TIMESTAMP)"
    if naive_tz and naive_tz != "UTC":
        local = f"CAST(timezone({sql_str(naive_tz)}, {local}) AS TIMESTAMP)"
    return (
        f"CASE WHEN regexp_matches({expr}, '{OFFSET}') "
        f"THEN CAST(try_cast({expr} AS TIMESTAMPTZ) AS TIMESTAMP) ELSE {local} END"
    )


def _country_key(expr: str) -> str:
    return f"lower(trim(regexp_replace({expr}, '\\s+', ' ', 'g')))"


_RATES = """
    SELECT currency AS fx_currency, date AS fx_date, max(usd_per_unit) AS usd_per_unit
    FROM (
        SELECT currency, date, usd_per_unit,
               rank() OVER (PARTITION BY currency, date
                            ORDER BY CASE WHEN source = 'builtin' THEN 1 ELSE 0 END) AS pref
        FROM fx_rates
    ) WHERE pref = 1 GROUP BY ALL
"""


def check_into(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    rules: Rules,
    naive_tz: str | None,
    *,
    carry: Sequence[str] = (),
) -> pa.Table:
    """Read `relation` once into `checked`: each record's converted fields and the reason if bad.

    `checked` is narrow: the record's `ordinal`, its id, the converted values
    (typed, so cheap to hold) and the reason; the staged text stays in
    `relation`, and the inserts of `load_checked` join it back by `ordinal`.
    Writing the staged text into a temp table cost more than all the checks.
    `carry` names further columns of `relation` to keep (a batch's `source_file`).

    `checked` is an Arrow table, read by DuckDB's replacement scan under the
    name of the caller's variable (see `SCRATCH_SETTING`): a temp table made
    inside a transaction is kept until the commit even when dropped, so a
    file loaded a chunk at a time would hold every chunk's scratch tables.
    """
    reasons: list[str] = [
        f"WHEN {col} IS NULL THEN 'missing {label}'" for col, label in rules.required
    ]
    reasons += [
        "WHEN ts_v IS NULL THEN 'bad timestamp: ' || coalesce(ts, '')",
        "WHEN amount_v IS NULL THEN 'bad amount: ' || coalesce(amount, '')",
        "WHEN amount_v < 0 THEN 'negative amount: ' || amount",
        "WHEN currency_v IS NULL THEN 'unknown currency: ' || coalesce(currency, '')",
    ]
    reasons += [
        f"WHEN {side}_country_v IS NULL AND {side}_country IS NOT NULL "
        f"THEN 'unknown country: ' || {side}_country"
        for side in rules.required_countries
    ]
    reasons += [f"WHEN {cond} THEN {reason}" for cond, reason in rules.checks]
    reasons += [
        "WHEN usd_per_unit IS NULL THEN 'no USD rate for ' || currency_v || ' on ' "
        "|| CAST(CAST(ts_v AS DATE) AS VARCHAR) || ': add it to fx_rates.csv'",
    ]
    country_joins = "\n".join(
        f"LEFT JOIN country_lookup c_{side} ON c_{side}.key = {_country_key(f's.{side}_country')}"
        for side in SIDES
    )
    kept = ", ".join(f"p.{c}" for c in ("fixed_line", *carry))
    # Nothing reads the order of `checked` (`load_checked` numbers and sorts by ordinal).
    with unordered(con):
        checked: pa.Table = con.sql(
            f"""
        WITH parsed AS (
            SELECT s.*,
                s.record_id AS rid,
                {parse_ts_sql("s.ts", naive_tz)} AS ts_v,
                try_cast(s.amount AS {AMOUNT}) AS amount_v,
                cur.code AS currency_v,
                {", ".join(f"c_{side}.alpha2 AS {side}_country_v" for side in SIDES)}
            FROM {relation} s
            LEFT JOIN currency_codes cur ON cur.code = upper(s.currency)
            {country_joins}
        ),
        days AS (SELECT DISTINCT currency_v, CAST(ts_v AS DATE) AS day FROM parsed WHERE currency_v IS NOT NULL),
        day_rates AS (
            -- the latest rate on or before each (currency, day): a small as-of join
            SELECT d.currency_v AS rate_currency, d.day AS rate_day, fx.usd_per_unit
            FROM days d ASOF LEFT JOIN ({_RATES}) fx
                ON fx.fx_currency = d.currency_v AND d.day >= fx.fx_date
        ),
        judged AS (
            SELECT p.*, r.usd_per_unit, CASE {" ".join(reasons)} END AS reason
            FROM parsed p
            LEFT JOIN day_rates r ON r.rate_currency = p.currency_v AND r.rate_day = CAST(p.ts_v AS DATE)
        )
        SELECT p.ordinal, {kept}, p.rid, p.ts_v, p.amount_v, p.currency_v,
               {", ".join(f"p.{side}_country_v" for side in SIDES)}, p.usd_per_unit, p.reason
        FROM judged p
        """
        ).to_arrow_table()
    return checked


def load_checked(
    con: duckdb.DuckDBPyConnection,
    checked: pa.Table,
    *,
    provider: str,
    source_file: str | None,
    fmt: str,
    naive_tz: str | None,
    location_sql: str = "location",
    raw_text: tuple[str, str] | None = None,
    relation: str = "stage",
    seen: str | None = None,
    fresh_files: Sequence[str] = (),
    sides: Sequence[str] = SIDES,
) -> FinishCounts:
    """Quarantine the bad records of `checked` and load the good ones; call inside a transaction.

    `checked` is what `check_into` returned for `relation` (the staged text,
    joined back by `ordinal`); SQL here reads it as `checked`.
    `raw_text` is (a relation of `s_ordinal` and columns, the SQL of a bad record's text
    over them as `s`): the text is then made after the join, for bad records alone (the
    CSV view's `raw` joins all its columns, for every record, before any join).
    `sides` are the sides whose party the format can fill (the others are
    NULL in every record: unpivoting them only made rows to filter out).
    `source_file=None` means `checked` holds a batch of files, each row naming
    its own in `source_file`; each file's figures are then in the result's `files`.

    `seen` names a table (source_file, rid) of valid records of earlier
    chunks of the same batch, when a batch is loaded a chunk at a time (so
    memory stays flat in the file size): a record id valid earlier in its file
    is then a duplicate, exactly as if the whole batch were one chunk.
    `fresh_files` are the batch's files of which the store held no record of
    this provider before the batch: a record of theirs in `transactions` was
    loaded by an earlier chunk, so the probe of the store that finds records
    already there finds those too, and `seen` only gets this chunk's valid
    records that are not loaded (already in store, or of a file not fresh):
    none at all in a plain ingest, where it would otherwise grow with the file.
    """
    batch = source_file is None
    if seen is not None and not batch:
        raise ValueError("chunks (seen=) are for batches (source_file=None)")
    p_provider = sql_str(provider)
    p_file = "checked.source_file" if batch else sql_str(source_file)
    by_file = "c.source_file, c.rid" if batch else "c.rid"
    # A record id seen earlier in the same file: the first one wins (numbered among the valid ones).
    fresh = ", ".join(sql_str(f) for f in fresh_files)
    earlier = (
        f" OR EXISTS (SELECT 1 FROM {seen} e WHERE e.source_file = c.source_file AND e.rid = c.rid)"
        if seen is not None
        else ""
    )
    if seen is not None and fresh:
        earlier += (
            f" OR (c.source_file IN ({fresh}) AND EXISTS "
            "(SELECT 1 FROM present p WHERE p.record_id = c.rid AND p.source_file = c.source_file))"
        )
    # Already in store: the store's ids of this provider among the valid ones (a scan of the
    # store probing the few ids here, not a hash of the whole store); in a batch, also an id
    # of an earlier file of the batch, as if the files came one by one. One pass gives every
    # reason: valid records are then those with none or 'already in store'.
    final = f"""
        WITH present AS (
            SELECT t.record_id, t.source_file FROM transactions t
            SEMI JOIN checked v ON v.rid = t.record_id AND v.reason IS NULL
            WHERE t.provider = {p_provider}
        ),
        dup AS (
            SELECT c.* REPLACE (
                CASE WHEN c.reason IS NULL AND (
                        row_number() OVER (PARTITION BY {by_file}, c.reason IS NULL ORDER BY c.ordinal) > 1{earlier})
                     THEN 'duplicate record id in file: ' || c.rid ELSE c.reason END AS reason)
            FROM checked c
        ),
        in_store AS (
            SELECT d.* REPLACE (
                CASE WHEN d.reason IS NULL AND d.rid IN (SELECT record_id FROM present)
                     THEN 'already in store' ELSE d.reason END AS reason)
            FROM dup d
        )
    """
    if batch:
        final += """
            SELECT b.* REPLACE (
                CASE WHEN b.reason IS NULL
                      AND row_number() OVER (PARTITION BY b.rid, b.reason IS NULL ORDER BY b.ordinal) > 1
                     THEN 'already in store' ELSE b.reason END AS reason)
            FROM in_store b ORDER BY b.ordinal
        """
    else:
        final += "SELECT * FROM in_store ORDER BY ordinal"
    checked = con.sql(final).to_arrow_table()
    if seen is not None:
        loaded_later = f"(reason IS NULL AND source_file IN ({fresh}))" if fresh else "false"
        con.execute(
            f"INSERT INTO {seen} SELECT source_file, rid FROM checked "
            f"WHERE (reason IS NULL OR reason = 'already in store') AND NOT {loaded_later}"
        )
    counts = FinishCounts()
    # Only bad records need their text: the join reads `raw` and `location` for those alone.
    raw_from, raw_sql = raw_text or (
        f"(SELECT ordinal AS s_ordinal, location, raw FROM {relation})",
        "s.raw",
    )
    counts.quarantined = int(
        scalar(
            con,
            f"""
            INSERT INTO quarantine
            SELECT {p_provider}, {p_file}, {location_sql}, reason, coalesce(left({raw_sql}, 500), '')
            FROM checked JOIN {raw_from} s
                ON s.s_ordinal = checked.ordinal
            WHERE reason IS NOT NULL AND reason <> 'already in store' ORDER BY checked.ordinal
            """,
        )
        or 0
    )
    valid = int(
        scalar(
            con, "SELECT count(*) FROM checked WHERE reason IS NULL OR reason = 'already in store'"
        )
    )
    # The records to load: staged text beside its checked values.
    good = f"""(
        SELECT s.*, c.rid, c.ts_v, c.amount_v, c.currency_v,
               {", ".join(f"c.{side}_country_v" for side in SIDES)}, c.usd_per_unit
        FROM {relation} s JOIN checked c ON c.ordinal = s.ordinal
        WHERE c.reason IS NULL
    )"""
    stage_norm = normalise_checked_values(con, good, sides)  # noqa: F841 (read by the SQL below)

    local_ts = "timezone(coalesce(tz.tz, {tz}), CAST(c.ts_v AS TIMESTAMPTZ))".format(
        tz=sql_str(naive_tz or "UTC")
    )
    txn_values = {
        "provider": p_provider,
        "record_id": "c.rid",
        "format": sql_str(fmt),
        "source_file": "c.source_file" if batch else p_file.replace("checked.", "c."),
        "txn_type": "lower(c.txn_type)",
        "ts_utc": "c.ts_v",
        "local_hour": f"CAST(hour({local_ts}) AS SMALLINT)",
        "amount": "c.amount_v",
        "currency": "c.currency_v",
        "amount_usd": "round(CAST(c.amount_v AS DOUBLE) * c.usd_per_unit, 4)",
        "fee": f"try_cast(c.fee AS {AMOUNT})",
        "payout_amount": f"try_cast(c.payout_amount AS {AMOUNT})",
        "payout_currency": "upper(c.payout_currency)",
        "payout_method": "lower(c.payout_method)",
        "payout_agent_id": "c.payout_agent_id",
        "paid_out_at": parse_ts_sql("c.paid_out_at", naive_tz),
        "channel": "lower(c.channel)",
        "memo": "c.memo",
        "purpose_code": "c.purpose_code",
        "mcc": "c.mcc",
        "merchant_id": "c.merchant_id",
        "merchant_name": "c.merchant_name",
        "sender_country": "c.from_country_v",
        "receiver_country": "coalesce(c.ben_country_v, c.to_country_v)",
        "ip_address": "c.ip_address",
        "device_id": "c.device_id",
        "extra": "nullif(c.extra, '{}')",
    }
    assert list(txn_values) == TRANSACTIONS.names
    # Both inserts in any row order (see `unordered`): their joins, and DuckDB compressing
    # what it stores, then run on every thread; the rows are the same. A row's place in the
    # table was never defined: with the order kept, the probe order of the joins gave it.
    with unordered(con):
        counts.loaded = int(
            scalar(
                con,
                f"""
                INSERT INTO transactions
                SELECT {", ".join(txn_values.values())}
                FROM {good} c LEFT JOIN country_tz tz ON tz.country = c.from_country_v
                """,
            )
            or 0
        )
    counts.already_present = valid - counts.loaded

    # The sides of each record, unpivoted in one scan; then the normalised values join once per kind.
    side_structs = ", ".join(
        "struct_pack(side := {side}, country_v := c.{s}_country_v, {fields})".format(
            side=sql_str("from" if s == "from" else "to"),
            s=s,
            fields=", ".join(f"{f} := c.{s}_{f}" for f in PARTY_FIELDS),
        )
        for s in sides
    )
    side_rows = f"""
        SELECT * FROM (SELECT c.rid, unnest([{side_structs}], recursive := true) FROM {good} c)
        WHERE party IS NOT NULL
    """
    cols = {
        "provider": p_provider,
        "record_id": "u.rid",
        "party": "u.party",
        "side": "u.side",
        "name": "u.name",
        "name_norm": "n.norm",
        "dob": "try_cast(u.dob AS DATE)",
        "phone": "u.phone",
        "phone_e164": "ph.norm",
        "email": "em.norm",
        "address": "u.address",
        "city": "u.city",
        "country": "u.country_v",
        "account": "u.account",
        "account_kind": "CASE WHEN u.account IS NOT NULL THEN u.account_kind END",
        "agent_bic": "u.agent_bic",
        "id_type": "u.id_type",
        "id_number": "u.id_number",
    }
    assert list(cols) == PARTIES.names
    with unordered(con):
        con.execute(
            f"""
            INSERT INTO parties
            SELECT {", ".join(cols.values())}
            FROM ({side_rows}) u
            LEFT JOIN stage_norm n ON n.kind = 'name' AND n.value = u.name AND n.hint = ''
            LEFT JOIN stage_norm em ON em.kind = 'email' AND em.value = u.email AND em.hint = ''
            LEFT JOIN stage_norm ph
                ON ph.kind = 'phone' AND ph.value = u.phone
                AND ph.hint = {phone_hint_sql("u.phone", "u.country_v")}
            """
        )
    if batch:
        counts.files = _batch_counts(con, checked)
    return counts


def _batch_counts(con: duckdb.DuckDBPyConnection, checked: pa.Table) -> dict[str, FinishCounts]:
    """Each file's figures in `checked`, by `source_file`."""
    rows = con.execute(
        """
        SELECT source_file,
               count(*) FILTER (WHERE reason IS NULL),
               count(*) FILTER (WHERE reason IS NOT NULL AND reason <> 'already in store'),
               count(*) FILTER (WHERE reason = 'already in store')
        FROM checked GROUP BY source_file
        """
    ).fetchall()
    return {str(f): FinishCounts(int(a), int(b), int(c)) for f, a, b, c in rows}
