"""Read resolved subjects from the warehouse as the values the encoder needs.

A subject's records give its *profiles*: each distinct (name, date of birth,
city, country) it was written down with, most frequent first. A record without
a date of birth, a city or a country borrows the subject's most frequent one, so
"Maria Santos" seen once with her birth date and ten times without is one
profile, not two that each look like half a person. Strong identifiers come from the resolver's
``resolve_identifiers``, less the ones it found shared by unrelated people.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from moneytrail.errors import UserError
from moneytrail.share.encodings import TOKEN_KINDS, Profile, SubjectValues
from moneytrail.store import scalar, table_exists

MAX_PROFILES = 8


def _require_resolved(con: duckdb.DuckDBPyConnection) -> None:
    for t in ("subject_records", "resolve_records", "resolve_identifiers"):
        if not table_exists(con, t) or not scalar(con, f"SELECT count(*) FROM {t}"):
            raise UserError("the store has no resolved subjects; run `moneytrail run` or `moneytrail resolve` first")


def flagged_subjects(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Subjects the scoring flagged for review."""
    if not table_exists(con, "subject_scores"):
        raise UserError("the store has no subject scores; run `moneytrail run` first, or choose --all or --case")
    rows = con.execute("SELECT subject_id FROM subject_scores WHERE flagged = 1 ORDER BY subject_id").fetchall()
    return [r[0] for r in rows]


def all_subjects(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every subject that is a person (merchants resolve by merchant id and are left out)."""
    _require_resolved(con)
    rows = con.execute(
        """SELECT DISTINCT s.subject_id FROM subject_records s
           JOIN resolve_records r USING (provider, record_id, party)
           WHERE r.origin <> 'merchant' ORDER BY 1"""
    ).fetchall()
    return [r[0] for r in rows]


def read_subjects(con: duckdb.DuckDBPyConnection, subject_ids: Sequence[str],
                  *, max_profiles: int = MAX_PROFILES) -> list[SubjectValues]:
    """Profiles and identifiers of the given subjects, in the order given.

    The ``ref`` of each is its subject id; the caller replaces it with an opaque
    reference before anything leaves the unit."""
    _require_resolved(con)
    if not subject_ids:
        return []
    con.execute("CREATE OR REPLACE TEMP TABLE _share_sel (subject_id VARCHAR, ord BIGINT)")
    con.executemany("INSERT INTO _share_sel VALUES (?, ?)", [(s, i) for i, s in enumerate(subject_ids)])
    known = scalar(con, "SELECT count(DISTINCT subject_id) FROM subject_records WHERE subject_id IN "
                        "(SELECT subject_id FROM _share_sel)")
    if known < len(set(subject_ids)):
        missing = con.execute("SELECT subject_id FROM _share_sel WHERE subject_id NOT IN "
                              "(SELECT subject_id FROM subject_records) LIMIT 3").fetchall()
        raise UserError(f"subjects not in this store: {', '.join(m[0] for m in missing)}; "
                        "is --store the warehouse the case was made from?")
    profiles = con.execute(
        f"""
        WITH recs AS (
          SELECT s.subject_id, r.name_sorted, r.dob, r.city, r.country
          FROM _share_sel sel JOIN subject_records s USING (subject_id)
          JOIN resolve_records r USING (provider, record_id, party)
          WHERE r.origin <> 'merchant'),
        modal AS (
          SELECT subject_id, mode(dob) AS dob, mode(city) AS city, mode(country) AS country
          FROM recs GROUP BY 1),
        filled AS (
          SELECT r.subject_id, r.name_sorted AS name,
                 strftime(coalesce(r.dob, m.dob), '%Y%m%d') AS dob, coalesce(r.city, m.city) AS city,
                 lower(coalesce(r.country, m.country)) AS country
          FROM recs r JOIN modal m USING (subject_id)),
        counted AS (
          SELECT subject_id, name, dob, city, country, count(*) AS n FROM filled
          WHERE name IS NOT NULL OR dob IS NOT NULL GROUP BY ALL),
        ranked AS (
          SELECT *, row_number() OVER (PARTITION BY subject_id ORDER BY n DESC, name, dob, city, country) AS k
          FROM counted)
        SELECT subject_id, name, dob, city, country FROM ranked WHERE k <= {int(max_profiles)}
        ORDER BY subject_id, k
        """
    ).fetchall()
    kinds = ", ".join(f"'{k}'" for k in TOKEN_KINDS)
    shared = ("AND NOT EXISTS (SELECT 1 FROM shared_identifiers x WHERE x.kind = i.kind AND x.value = i.value)"
              if table_exists(con, "shared_identifiers") else "")
    identifiers = con.execute(
        f"""
        SELECT DISTINCT s.subject_id, i.kind, i.value
        FROM _share_sel sel JOIN subject_records s USING (subject_id)
        JOIN resolve_records r USING (provider, record_id, party)
        JOIN resolve_identifiers i ON i.rid = r.rid
        WHERE r.origin <> 'merchant' AND i.kind IN ({kinds}) AND i.value IS NOT NULL {shared}
        ORDER BY 1, 2, 3
        """
    ).fetchall()
    con.execute("DROP TABLE IF EXISTS _share_sel")
    by_subject: dict[str, SubjectValues] = {s: SubjectValues(s, [], []) for s in subject_ids}
    for sid, name, dob, city, country in profiles:
        by_subject[sid].profiles.append(Profile({"name": name, "dob": dob, "city": city, "country": country}))
    for sid, kind, value in identifiers:
        by_subject[sid].identifiers.append((kind, value))
    return [by_subject[s] for s in dict.fromkeys(subject_ids)]
