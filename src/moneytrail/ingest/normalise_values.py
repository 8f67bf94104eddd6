"""Normalise the distinct names, emails and phones of a staged file.

Only values not seen before are normalised, once each, with the Python
normalisers; rows then join the results. A national phone notation depends
on the party's country, so phones are keyed by (value, country).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from moneytrail.ingest.stage import SIDES
from moneytrail.normalise import normalise_email, normalise_name, normalise_phone


def normalise_staged_values(con: duckdb.DuckDBPyConnection) -> int:
    names = " UNION ".join(
        f"SELECT 'name' AS kind, {s}_name AS value, '' AS hint FROM stage WHERE {s}_name IS NOT NULL"
        for s in SIDES
    )
    emails = " UNION ".join(
        f"SELECT 'email', {s}_email, '' FROM stage WHERE {s}_email IS NOT NULL" for s in SIDES
    )
    phones = " UNION ".join(
        f"""SELECT 'phone', s.{s}_phone, coalesce(c.alpha2, '') FROM stage s
            LEFT JOIN country_lookup c
              ON c.key = lower(trim(regexp_replace(s.{s}_country, '\\s+', ' ', 'g')))
            WHERE s.{s}_phone IS NOT NULL"""
        for s in SIDES
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE stage_values AS "
        f"SELECT DISTINCT kind, value, hint FROM ({names} UNION {emails} UNION {phones})"
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
    # The values this file needs, as a small table to join rows against.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE stage_norm AS
        SELECT n.* FROM normalised_values n
        SEMI JOIN stage_values v ON n.kind = v.kind AND n.value = v.value AND n.hint = v.hint
        """
    )
    return len(new)


def _insert(con: duckdb.DuckDBPyConnection, new: list[tuple[str, str, str]]) -> None:
    norms = [_normalise(kind, value, hint) for kind, value, hint in new]
    batch = pa.table(
        {
            "kind": [r[0] for r in new],
            "value": [r[1] for r in new],
            "hint": [r[2] for r in new],
            "norm": norms,
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
