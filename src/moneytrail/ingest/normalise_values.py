"""Normalise the distinct names, emails and phones of a checked file.

Only values not seen before are normalised, once each, with the Python
normalisers; rows then join the results (`stage_norm`, the values this file
needs). A national phone notation depends on the party's country, so phones
are keyed by (value, country).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from moneytrail.ingest.order import unordered
from moneytrail.ingest.stage import SIDES
from moneytrail.normalise import normalise_email, normalise_name, normalise_phone


def phone_hint_sql(phone: str, country: str) -> str:
    """The country hint a phone needs: none for an international notation."""
    return f"CASE WHEN starts_with({phone}, '+') OR starts_with({phone}, '00') THEN '' ELSE coalesce({country}, '') END"


# Values SQL normalises as the Python normalisers do: for ASCII text, NFKC and
# unidecode change nothing, so a name is lower case with runs of other characters
# made one space (normalise_name); an address of plain characters with one "@"
# has nothing to strip and matches the e-mail pattern, so it is just lower case
# (normalise_email). DuckDB's `length` counts characters and `strlen` bytes.
_PLAIN_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z0-9\-]+"
SQL_TAKES = (
    "((kind = 'name' AND strlen(value) = length(value))"
    f" OR (kind = 'email' AND regexp_full_match(value, '{_PLAIN_EMAIL}')))"
)
SQL_NORM = (
    "CASE kind WHEN 'name' THEN nullif(trim(regexp_replace(lower(value), '[^a-z0-9]+', ' ', 'g')), '')"
    " ELSE lower(value) END"
)


def normalise_checked_values(
    con: duckdb.DuckDBPyConnection, relation: str = "good", sides: Sequence[str] = SIDES
) -> pa.Table:
    """Normalise the values of `relation` (the records to load) not normalised before.

    Returns `stage_norm`: the normalised values the records need (kind, value,
    hint, norm), an Arrow table the caller's SQL reads by the name of its
    variable (see `finish.SCRATCH_SETTING`). Only the store's values of this
    relation are read (its few distinct values probe a scan of the store), and
    the new ones are added to it.
    """
    # One scan of `relation` unpivots every side's name, email and phone (a UNION ALL of
    # nine selects scanned it, and the join behind it, nine times).
    items = ", ".join(
        f"{{'kind': '{kind}', 'value': {s}_{kind}, 'hint': {hint}}}"
        for s in sides
        for kind, hint in (
            ("name", "''"),
            ("email", "''"),
            ("phone", phone_hint_sql(f"{s}_phone", f"{s}_country_v")),
        )
    )
    stage_values = con.sql(  # noqa: F841 (read by the SQL below)
        f"SELECT DISTINCT kind, value, hint FROM (SELECT unnest([{items}], recursive := true) "
        f"FROM {relation}) WHERE value IS NOT NULL"
    ).to_arrow_table()
    with unordered(con):
        known = con.sql(
            """
            SELECT n.kind, n.value, n.hint, n.norm FROM normalised_values n
            SEMI JOIN stage_values v ON n.kind = v.kind AND n.value = v.value AND n.hint = v.hint
            """
        ).to_arrow_table()
        stage_new = con.sql(  # noqa: F841 (read by the SQL below)
            """
            SELECT v.kind, v.value, v.hint FROM stage_values v
            ANTI JOIN known n ON n.kind = v.kind AND n.value = v.value AND n.hint = v.hint
            """
        ).to_arrow_table()
    # Plain ASCII names and plain e-mail addresses are normalised in SQL, exactly as
    # the Python normalisers would (a property test holds them equal); the rest in Python.
    in_sql = con.sql(
        f"SELECT kind, value, hint, {SQL_NORM} AS norm FROM stage_new WHERE {SQL_TAKES}"
    ).to_arrow_table()
    new = con.execute(f"SELECT kind, value, hint FROM stage_new WHERE NOT ({SQL_TAKES})").fetchall()
    in_python = pa.table(
        {
            "kind": [r[0] for r in new],
            "value": [r[1] for r in new],
            "hint": [r[2] for r in new],
            "norm": pa.array(
                [_normalise(kind, value, hint) for kind, value, hint in new], pa.string()
            ),
        },
        schema=known.schema,
    )
    added = pa.concat_tables([in_sql.cast(known.schema), in_python])
    con.execute("INSERT INTO normalised_values SELECT kind, value, hint, norm FROM added")
    return pa.concat_tables([known, added])


def _normalise(kind: str, value: str, hint: str) -> str | None:
    if kind == "name":
        return normalise_name(value)
    if kind == "email":
        return normalise_email(value)
    return normalise_phone(value, hint or None)
