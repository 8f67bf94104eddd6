"""Counterparty evidence: two payees paid by the same resolved payer.

Receivers carry few fields (a name, a town, perhaps a phone), and common names
repeat. But a facilitator is paid again and again by the same consumers: two
"josefina santos" in Manila, both paid by subject S000123, are very likely one
person. After a first clustering, each profile gets the set of subjects on the
other side of its transactions; a pair of profiles then has one more
comparison, *shares a counterparty*, whose match weight log2(m/u) is estimated
from the data, the Fellegi-Sunter way: m among the pairs the first pass
matched, u from how often two random profiles share one. The adjusted weights
feed the second, final clustering.

The first pass also yields two pieces of *subject-level* evidence that a
profile-level model cannot see (measured on the synthetic world, where exact
name pairs with nothing else in common were 95-100 % true when the name is held
by at most three first-pass subjects, and 65 % otherwise):

- **rare name** (``w_rare_name``): the same name (any token order, initials
  aside when two words or more remain: "lea reyes s" is "lea reyes") held by at
  most ``RARE_NAME_SUBJECTS`` first-pass subjects, with no disagreeing date of
  birth, phone or email. Profile term frequencies overcount a name seen at
  many providers; counting subjects does not. A name is not rare when two of
  those subjects each hold a phone (or each an email, or each a date of birth):
  two people with one name, kept apart by their identifiers, make a record
  with that name alone ambiguous (two relatives "Ratana Wongsa" in one network
  of the synthetic world were fused this way once the withdrawal links had
  made their names "rare").
- **receiver paid by the same payer** (``w_receiver``): a third pass, in
  :mod:`moneytrail.resolve.receivers`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import duckdb
import numpy as np
import pyarrow as pa

from moneytrail.store import table_exists

RARE_NAME_SUBJECTS = 3
RARE_NAME_WEIGHT = 8.0


def core_name(col: str) -> str:
    """SQL: a sorted name without its initials when two words or more remain
    ("lea reyes s" -> "lea reyes"; "j smith" stays "j smith")."""
    words = f"list_filter(string_split({col}, ' '), lambda x: length(x) > 1)"
    return f"(CASE WHEN len({words}) >= 2 THEN array_to_string({words}, ' ') ELSE {col} END)"


Roots = Sequence[int] | np.ndarray
"""The group root of every record number (index 0 unused): a clustering result."""


def record_groups(root: Roots) -> pa.Table:
    """``(rid, grp)``: each record's group (its cluster root); record ids start at 1.

    Built from arrays without copying: a Python ``range`` and list of ten million
    records cost seconds per call, and every clustering pass calls this."""
    grp = np.ascontiguousarray(root, dtype=np.int64)
    rid = np.arange(len(grp), dtype=np.int64)
    return pa.table({"rid": pa.array(rid), "grp": pa.array(grp)}).slice(1)


CP_PAIRS = "_resolve_cp_pairs"
"""``(pid, orid)``: a profile and a record on the other side of one of its transactions."""


def counterparty_pairs(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)write :data:`CP_PAIRS`. The records of a transaction do not change between the
    clustering passes, only their groups: the join of the records with themselves (on
    provider and record id, strings) is done once a run, not once a pass."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {CP_PAIRS} AS
        SELECT DISTINCT r.pid, o.rid AS orid
        FROM resolve_records r
        JOIN resolve_records o ON o.provider = r.provider AND o.record_id = r.record_id
          AND o.party <> r.party AND o.side <> r.side AND r.side IN ('from', 'to')
        WHERE r.pid IS NOT NULL
        """
    )


def profile_counterparties(con: duckdb.DuckDBPyConnection, groups: str, target: str) -> None:
    """Write ``target(pid, cps)``: per profile, the groups (of the registered ``groups``) it
    transacts with (:data:`CP_PAIRS`, written first when missing)."""
    if not table_exists(con, CP_PAIRS):
        counterparty_pairs(con)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {target} AS
        SELECT c.pid, list(DISTINCT g.grp ORDER BY g.grp) AS cps
        FROM {CP_PAIRS} c JOIN {groups} g ON g.rid = c.orid
        GROUP BY c.pid
        """
    )


def group_profiles(con: duckdb.DuckDBPyConnection, groups: str, target: str, *, sides: bool = False) -> None:
    """Write ``target(grp, pid, n)``: the profiles of each group of the registered
    ``groups`` (records with a profile), with their numbers of records; with ``sides``
    also ``all_to``/``any_to``, whether all (any) of those records receive.

    The records of one profile share every compared value (name, date of birth, phone,
    email, ...), so what a group holds is read from these rows and ``resolve_profiles``
    (:func:`group_identifiers_sql`): a few rows per group, not a join of every wide record
    with the groups in every pass."""
    extra = ", bool_and(r.side = 'to') AS all_to, bool_or(r.side = 'to') AS any_to" if sides else ""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {target} AS
        SELECT g.grp, r.pid, count(*) AS n{extra}
        FROM resolve_records r JOIN {groups} g ON g.rid = r.rid
        WHERE r.pid IS NOT NULL GROUP BY g.grp, r.pid
        """
    )


def group_identifiers_sql(aps: str) -> str:
    """SELECT ``(grp, n_records, phones, emails, dobs)`` of the groups of ``aps`` (rows of
    :func:`group_profiles`): what their records hold, as lists of distinct values."""
    return f"""
        SELECT a.grp, sum(a.n)::BIGINT AS n_records,
               list(DISTINCT p.phone) FILTER (WHERE p.phone IS NOT NULL) AS phones,
               list(DISTINCT p.email) FILTER (WHERE p.email IS NOT NULL) AS emails,
               list(DISTINCT p.dob) FILTER (WHERE p.dob IS NOT NULL) AS dobs
        FROM {aps} a JOIN resolve_profiles p ON p.pid = a.pid
        GROUP BY a.grp
        """


def counterparty_sets(con: duckdb.DuckDBPyConnection, root: Roots) -> None:
    """Write ``_resolve_cp(pid, cps)``: per profile, the groups it transacts with."""
    con.register("_resolve_cp_groups", record_groups(root))
    counterparty_pairs(con)  # the records may have changed since an earlier run
    profile_counterparties(con, "_resolve_cp_groups", "_resolve_cp")
    group_profiles(con, "_resolve_cp_groups", "_resolve_cp_aps")
    # each group's names and identifiers from its profiles (group_profiles), a core name
    # worked out once per profile
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolve_name_subjects AS
        WITH named AS (
          SELECT a.grp, c.core AS name_sorted
          FROM _resolve_cp_aps a
          JOIN (SELECT pid, {core_name("name_sorted")} AS core FROM resolve_profiles
                WHERE name_sorted IS NOT NULL) c ON c.pid = a.pid
        ),
        anchored AS (
          SELECT a.grp, bool_or(p.phone IS NOT NULL) AS has_phone, bool_or(p.email IS NOT NULL) AS has_email,
                 bool_or(p.dob IS NOT NULL) AS has_dob
          FROM _resolve_cp_aps a JOIN resolve_profiles p ON p.pid = a.pid GROUP BY a.grp
        )
        SELECT n.name_sorted, count(DISTINCT n.grp) AS n_subjects,
               greatest(count(DISTINCT n.grp) FILTER (WHERE a.has_phone),
                        count(DISTINCT n.grp) FILTER (WHERE a.has_email),
                        count(DISTINCT n.grp) FILTER (WHERE a.has_dob)) AS n_anchored
        FROM named n JOIN anchored a USING (grp)
        GROUP BY n.name_sorted
        """
    )
    con.execute("DROP TABLE IF EXISTS _resolve_cp_aps")
    con.unregister("_resolve_cp_groups")


def add_weight(con: duckdb.DuckDBPyConnection, pairs: str, column: str, w: float) -> None:
    """Add evidence weight ``w`` to the scored pairs listed in table ``pairs`` (pid_l, pid_r),
    in column ``column`` and in the match weight and probability; a pair that already has
    it is left alone, so a pass run twice adds nothing twice."""
    con.execute(
        f"""
        UPDATE _resolve_scored s
        SET {column} = {w}, match_weight = s.match_weight + {w},
            match_probability = 1 / (1 + pow(2, -(s.match_weight + {w})))
        FROM {pairs} p
        WHERE p.pid_l = s.pid_l AND p.pid_r = s.pid_r AND coalesce(s.{column}, 0) = 0
        """
    )


def _agree(col: str) -> str:
    return f"coalesce(p1.{col} = p2.{col} OR p1.{col} IS NULL OR p2.{col} IS NULL, TRUE)"


def estimate(con: duckdb.DuckDBPyConnection, threshold: float) -> tuple[float, float]:
    """(m, u) of 'shares a counterparty' for profile pairs that both have counterparties."""
    n_rows = con.execute(
        "SELECT count(*), sum(len(cps)) FROM _resolve_cp"
    ).fetchall()[0]
    n = int(n_rows[0] or 0)
    if n < 2:
        return 0.5, 0.5
    # u: random pairs of profiles sharing a counterparty group
    shared_pairs = con.execute(
        """
        SELECT coalesce(sum(c * (c - 1) / 2), 0) FROM (
          SELECT count(*) AS c FROM (SELECT unnest(cps) AS g FROM _resolve_cp) GROUP BY g)
        """
    ).fetchall()[0][0]
    u = min(max(float(shared_pairs) / (n * (n - 1) / 2), 1e-9), 0.5)
    row = con.execute(
        f"""
        SELECT count(*), count(*) FILTER (WHERE list_has_any(a.cps, b.cps))
        FROM _resolve_scored s JOIN _resolve_cp a ON a.pid = s.pid_l JOIN _resolve_cp b ON b.pid = s.pid_r
        WHERE s.match_probability >= {float(threshold)} AND s.pid_l <> s.pid_r
        """
    ).fetchall()[0]
    total, hits = int(row[0] or 0), int(row[1] or 0)
    if total < 20:
        return 0.5, 0.5
    m = min(max(hits / total, 0.01), 0.99)
    return m, u


def adjust(con: duckdb.DuckDBPyConnection, m: float, u: float) -> None:
    """Add the counterparty comparison to the scored pairs (columns lvl_/w_counterparty)
    and the rare-name evidence (``w_subject``). ``w_receiver`` starts at zero: see
    :mod:`moneytrail.resolve.receivers`."""
    w_yes = math.log2(m / u)
    w_no = math.log2((1 - m) / (1 - u))
    # per profile, computed once rather than per scored pair (sessions 7 and 8): the number
    # of its core name when that name is rare (held by few first-pass subjects, at most one
    # of them anchored), and only then its date of birth, phone and email, which the rare
    # name evidence alone reads. The pairs' join then carries an integer and mostly NULLs,
    # not three strings and a date for every one of millions of pairs
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolve_adj_p AS
        WITH c AS (SELECT pid, dob, phone, email, {core_name("name_sorted")} AS core FROM resolve_profiles),
        rare AS (
          SELECT name_sorted AS core, row_number() OVER (ORDER BY name_sorted) AS rc
          FROM _resolve_name_subjects
          WHERE n_subjects <= {RARE_NAME_SUBJECTS} AND n_anchored <= 1
        )
        SELECT c.pid, r.rc,
               CASE WHEN r.rc IS NOT NULL THEN c.dob END AS dob,
               CASE WHEN r.rc IS NOT NULL THEN c.phone END AS phone,
               CASE WHEN r.rc IS NOT NULL THEN c.email END AS email
        FROM c LEFT JOIN rare r ON r.core = c.core
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolve_scored AS
        WITH x AS (
          SELECT s.*,
                 CASE WHEN a.cps IS NULL OR b.cps IS NULL OR s.pid_l = s.pid_r THEN NULL
                      WHEN list_has_any(a.cps, b.cps) THEN {w_yes}
                      ELSE {w_no} END AS w_counterparty,
                 {_agree("dob")} AND {_agree("phone")} AND {_agree("email")} AS no_conflict,
                 p1.rc = p2.rc AS rare_name
          FROM _resolve_scored s
          LEFT JOIN _resolve_cp a ON a.pid = s.pid_l LEFT JOIN _resolve_cp b ON b.pid = s.pid_r
          JOIN _resolve_adj_p p1 ON p1.pid = s.pid_l JOIN _resolve_adj_p p2 ON p2.pid = s.pid_r
        ),
        y AS (
          SELECT * EXCLUDE (no_conflict, rare_name),
                 CASE WHEN s_pair OR NOT no_conflict OR NOT coalesce(rare_name, FALSE) THEN 0.0
                      ELSE {RARE_NAME_WEIGHT} END AS w_subject,
                 0.0 AS w_receiver, 0.0 AS w_account
          FROM (SELECT *, pid_l = pid_r AS s_pair FROM x)
        )
        SELECT * EXCLUDE (match_weight, match_probability, s_pair),
               match_weight + coalesce(w_counterparty, 0) + w_subject AS match_weight,
               1 / (1 + pow(2, -(match_weight + coalesce(w_counterparty, 0) + w_subject))) AS match_probability,
               coalesce(w_counterparty, 0) AS lvl_counterparty
        FROM y
        """
    )
    con.execute("DROP TABLE IF EXISTS _resolve_adj_p")
