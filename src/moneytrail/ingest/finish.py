"""Validate, convert and load a staged file: the one step every format shares.

Input is the temporary view or table `stage` (see `stage.py`) plus a column
`ordinal` (1-based record number in the file). Every record either lands in
`transactions` and `parties`, or in `quarantine` with its location and reason;
records already in the store (same provider and record id) are skipped, so
ingesting a file twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from moneytrail.ingest.normalise_values import normalise_staged_values
from moneytrail.ingest.stage import PARTY_FIELDS, SIDES
from moneytrail.schema import PARTIES, TRANSACTIONS
from moneytrail.store import scalar

OFFSET = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"


@dataclass
class FinishCounts:
    loaded: int = 0
    quarantined: int = 0
    already_present: int = 0


def _sql_str(value: str | None) -> str:
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
        local = f"CAST(timezone({_sql_str(naive_tz)}, {local}) AS TIMESTAMP)"
    return (
        f"CASE WHEN regexp_matches({expr}, '{OFFSET}') "
        f"THEN CAST(try_cast({expr} AS TIMESTAMPTZ) AS TIMESTAMP) ELSE {local} END"
    )


def finish_stage(
    con: duckdb.DuckDBPyConnection,
    *,
    provider: str,
    source_file: str,
    fmt: str,
    naive_tz: str | None,
    required: Sequence[tuple[str, str]],
    checks: Sequence[tuple[str, str]] = (),
    required_countries: Sequence[str] = (),
    location_sql: str = "location",
) -> FinishCounts:
    """Move `stage` into the canonical tables; call inside a transaction.

    `required` pairs a staging column with the name the user knows it by;
    `checks` pairs an SQL condition that makes a record unreadable with the
    SQL text of its reason; `required_countries` lists the sides whose
    country must be a known ISO 3166 country.
    """
    normalise_staged_values(con)
    p_provider, p_file = _sql_str(provider), _sql_str(source_file)

    reasons: list[str] = [
        f"WHEN nullif(trim({col}), '') IS NULL THEN 'missing {label}'" for col, label in required
    ]
    reasons += [
        "WHEN ts_v IS NULL THEN 'bad timestamp: ' || coalesce(ts, '')",
        "WHEN amount_v IS NULL THEN 'bad amount: ' || coalesce(amount, '')",
        "WHEN amount_v < 0 THEN 'negative amount: ' || amount",
        "WHEN currency_v IS NULL THEN 'unknown currency: ' || coalesce(currency, '')",
    ]
    reasons += [
        f"WHEN {side}_country_v IS NULL AND nullif(trim({side}_country), '') IS NOT NULL "
        f"THEN 'unknown country: ' || {side}_country"
        for side in required_countries
    ]
    reasons += [f"WHEN {cond} THEN {reason}" for cond, reason in checks]
    reasons += [
        "WHEN usd_per_unit IS NULL THEN 'no USD rate for ' || currency_v || ' on ' "
        "|| CAST(CAST(ts_v AS DATE) AS VARCHAR) || ': add it to fx_rates.csv'",
        "WHEN dup_rank > 1 THEN 'duplicate record id in file: ' || record_id",
    ]

    country_joins = "\n".join(
        f"LEFT JOIN country_lookup c_{side} "
        f"ON c_{side}.key = lower(trim(regexp_replace(s.{side}_country, '\\s+', ' ', 'g')))"
        for side in SIDES
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE checked AS
        WITH parsed AS (
            SELECT s.*,
                nullif(trim(s.record_id), '') AS rid,
                {parse_ts_sql('trim(s.ts)', naive_tz)} AS ts_v,
                try_cast(trim(s.amount) AS {_amount_type()}) AS amount_v,
                cur.code AS currency_v,
                {", ".join(f"c_{side}.alpha2 AS {side}_country_v" for side in SIDES)},
                row_number() OVER (PARTITION BY nullif(trim(s.record_id), '') ORDER BY s.ordinal)
                    AS dup_rank
            FROM stage s
            LEFT JOIN currency_codes cur ON cur.code = upper(trim(s.currency))
            {country_joins}
        )
        SELECT p.ordinal, p.rid, p.ts_v, p.amount_v, p.currency_v,
            {", ".join(f"p.{side}_country_v" for side in SIDES)}, fx.usd_per_unit,
            CASE {" ".join(reasons)} END AS reason
        FROM parsed p
        ASOF LEFT JOIN (
            SELECT currency AS fx_currency, date AS fx_date, max(usd_per_unit) AS usd_per_unit
            FROM (
                SELECT currency, date, usd_per_unit,
                       rank() OVER (PARTITION BY currency, date
                                    ORDER BY CASE WHEN source = 'builtin' THEN 1 ELSE 0 END) AS pref
                FROM fx_rates
            ) WHERE pref = 1 GROUP BY ALL
        ) fx ON fx.fx_currency = p.currency_v AND CAST(p.ts_v AS DATE) >= fx.fx_date
        """
    )

    counts = FinishCounts()
    quarantined = scalar(
        con,
        f"""
        INSERT INTO quarantine
        SELECT {p_provider}, {p_file}, {location_sql}, checked.reason, left(coalesce(s.raw, ''), 500)
        FROM checked JOIN stage s USING (ordinal) WHERE checked.reason IS NOT NULL
        ORDER BY ordinal
        """,
    )
    counts.quarantined = int(quarantined or 0)

    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE accepted AS
        SELECT c.* FROM checked c
        WHERE c.reason IS NULL
          AND NOT EXISTS (
            SELECT 1 FROM transactions t WHERE t.provider = {p_provider} AND t.record_id = c.rid
          )
        """
    )
    valid = int(scalar(con, "SELECT count(*) FROM checked WHERE reason IS NULL"))
    counts.loaded = int(scalar(con, "SELECT count(*) FROM accepted"))
    counts.already_present = valid - counts.loaded

    local_ts = "timezone(coalesce(tz.tz, {tz}), CAST(c.ts_v AS TIMESTAMPTZ))".format(
        tz=_sql_str(naive_tz or "UTC")
    )
    txn_values = {
        "provider": p_provider,
        "record_id": "c.rid",
        "format": _sql_str(fmt),
        "source_file": p_file,
        "txn_type": "lower(nullif(trim(s.txn_type), ''))",
        "ts_utc": "c.ts_v",
        "local_hour": f"CAST(hour({local_ts}) AS SMALLINT)",
        "amount": "c.amount_v",
        "currency": "c.currency_v",
        "amount_usd": "round(CAST(c.amount_v AS DOUBLE) * c.usd_per_unit, 4)",
        "fee": f"try_cast(trim(s.fee) AS {_amount_type()})",
        "payout_amount": f"try_cast(trim(s.payout_amount) AS {_amount_type()})",
        "payout_currency": "upper(nullif(trim(s.payout_currency), ''))",
        "payout_method": "lower(nullif(trim(s.payout_method), ''))",
        "payout_agent_id": "nullif(trim(s.payout_agent_id), '')",
        "paid_out_at": parse_ts_sql("nullif(trim(s.paid_out_at), '')", naive_tz),
        "channel": "lower(nullif(trim(s.channel), ''))",
        "memo": "nullif(trim(s.memo), '')",
        "purpose_code": "nullif(trim(s.purpose_code), '')",
        "mcc": "nullif(trim(s.mcc), '')",
        "merchant_id": "nullif(trim(s.merchant_id), '')",
        "merchant_name": "nullif(trim(s.merchant_name), '')",
        "sender_country": "c.from_country_v",
        "receiver_country": "coalesce(c.ben_country_v, c.to_country_v)",
        "ip_address": "nullif(trim(s.ip_address), '')",
        "device_id": "nullif(trim(s.device_id), '')",
        "extra": "nullif(s.extra, '{}')",
    }
    assert list(txn_values) == TRANSACTIONS.names
    con.execute(
        f"""
        INSERT INTO transactions
        SELECT {", ".join(txn_values.values())}
        FROM accepted c JOIN stage s USING (ordinal) LEFT JOIN country_tz tz ON tz.country = c.from_country_v
        ORDER BY ordinal
        """
    )

    side_selects = []
    for side in SIDES:
        v = {f: f"s.{side}_{f}" for f in PARTY_FIELDS}
        cols = {
            "provider": p_provider,
            "record_id": "c.rid",
            "party": v["party"],
            "side": _sql_str("from" if side == "from" else "to"),
            "name": f"nullif(trim({v['name']}), '')",
            "name_norm": f"n_{side}.norm",
            "dob": f"try_cast(trim({v['dob']}) AS DATE)",
            "phone": f"nullif(trim({v['phone']}), '')",
            "phone_e164": f"ph_{side}.norm",
            "email": f"em_{side}.norm",
            "address": f"nullif(trim({v['address']}), '')",
            "city": f"nullif(trim({v['city']}), '')",
            "country": f"c.{side}_country_v",
            "account": f"nullif(trim({v['account']}), '')",
            "account_kind": f"CASE WHEN nullif(trim({v['account']}), '') IS NOT NULL THEN {v['account_kind']} END",
            "agent_bic": f"nullif(trim({v['agent_bic']}), '')",
            "id_type": f"nullif(trim({v['id_type']}), '')",
            "id_number": f"nullif(trim({v['id_number']}), '')",
        }
        assert list(cols) == PARTIES.names
        side_selects.append(
            f"""
            SELECT ordinal, {", ".join(f"{e} AS {c}" for c, e in cols.items())}
            FROM accepted c JOIN stage s USING (ordinal)
            LEFT JOIN stage_norm n_{side}
                ON n_{side}.kind = 'name' AND n_{side}.value = s.{side}_name AND n_{side}.hint = ''
            LEFT JOIN stage_norm em_{side}
                ON em_{side}.kind = 'email' AND em_{side}.value = s.{side}_email AND em_{side}.hint = ''
            LEFT JOIN stage_norm ph_{side}
                ON ph_{side}.kind = 'phone' AND ph_{side}.value = s.{side}_phone
                AND ph_{side}.hint = coalesce(c.{side}_country_v, '')
            WHERE s.{side}_party IS NOT NULL
            """
        )
    con.execute(
        f"""
        INSERT INTO parties
        SELECT * EXCLUDE (ordinal) FROM ({" UNION ALL ".join(side_selects)})
        ORDER BY ordinal, side
        """
    )
    return counts


def _amount_type() -> str:
    from moneytrail.schema import AMOUNT

    return AMOUNT
