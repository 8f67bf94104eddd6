"""Normalise the distinct names, emails and phones of a checked file.

Only values not seen before are normalised, once each, with the Python
normalisers; rows then join the results (`stage_norm`, the values this file
needs). A national phone notation depends on the party's country, so phones
are keyed by (value, country).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from moneytrail.ingest.stage import SIDES
from moneytrail.normalise import normalise_email, normalise_name, normalise_phone


def phone_hint_sql(phone: str, country: str) -> str:
    """The country hint a phone needs: none for an international notation."""
    return f"CASE WHEN regexp_matches(trim({phone}), '^(\\+|00)') THEN '' ELSE coalesce({country}, '') END"


def normalise_checked_values(con: duckdb.DuckDBPyConnection) -> int:
    good = "reason IS NULL"
    parts = []
    for s in SIDES:
        parts.append(f"SELECT 'name' AS kind, {s}_name AS value, '' AS hint FROM checked WHERE {good} AND {s}_name IS NOT NULL")
        parts.append(f"SELECT 'email', {s}_email, '' FROM checked WHERE {good} AND {s}_email IS NOT NULL")
        parts.append(
            f"SELECT 'phone', {s}_phone, {phone_hint_sql(f'{s}_phone', f'{s}_country_v')} FROM checked "
            f"WHERE {good} AND {s}_phone IS NOT NULL"
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stage_values AS SELECT DISTINCT kind, value, hint FROM ("
        + " UNION ALL ".join(parts)
        + ")"
    )
    new = con.execute(
        """
        SELECT kind, value, hint FROM stage_values v
        WHERE NOT EXISTS (
            SELECT 1 FROM normalised_values n
            WHERE n.kind = v.kind AND n.value = v.value AND n.hint = v.hint
        )
        """
    ).fetchall()
    if new:
        _insert(con, new)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE stage_norm AS
        SELECT n.* FROM normalised_values n
        SEMI JOIN stage_values v ON n.kind = v.kind AND n.value = v.value AND n.hint = v.hint
        """
    )
    return len(new)


def _insert(con: duckdb.DuckDBPyConnection, new: list[tuple[str, str, str]]) -> None:
    batch = pa.table(
        {
            "kind": [r[0] for r in new],
            "value": [r[1] for r in new],
            "hint": [r[2] for r in new],
            "norm": [_normalise(kind, value, hint) for kind, value, hint in new],
        }
    )
    con.register("new_normalised", batch)
    con.execute("INSERT INTO normalised_values SELECT kind, value, hint, norm FROM new_normalised")
    con.unregister("new_normalised")


def _normalise(kind: str, value: str, hint: str) -> str | None:
    if kind == "name":
        return normalise_name(value)
    if kind == "email":
        return normalise_email(value)
    return normalise_phone(value, hint or None)
