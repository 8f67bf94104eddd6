"""Receiver fragments paid by the same payer: the third clustering pass.

A facilitator is written with a phone at one operator and with a name only at
another ("Mary Grace Ocampo", "+63 918..." and "Grace Ocampo"); the same
consumers pay both. After the second pass, a scored pair of profiles gets
``w_receiver`` (``RECEIVER_CP_WEIGHT``) when

- one profile only receives money and the other receives money too (payers
  are not given this: unrelated payers share merchants and facilitators);
- the two are paid by (or pay) a common second-pass subject;
- the names are people's names (no digit: cash-out outlets are paid by the
  same wallet holders) and agree: the same name, or compatible (:func:`names_compatible`:
  initials, dropped given or middle names, "Ma." for Maria, double surnames)
  with the model's name weight above ``COMPATIBLE_NAME_WEIGHT``;
- nothing disagrees: no differing date of birth, phone or email on the two
  profiles, nor between the two subjects they belong to;
- and the fragment is **unambiguous**: its side of the pair (the smaller
  subject) meets this test with exactly one other subject. Two sisters-in-law
  "Liza Navarro Reyes" and "Liza Santos Reyes" paid by one consumer leave a
  fragment "Liza Reyes" with two candidates, and it joins neither.

On three synthetic worlds (seeds 1, 5, 11 at scale 1), 174 of the 181 merges
made on this evidence were right (the others: namesakes in one network, and a
surname taken for a middle initial). The chaining guard still applies.
"""

from __future__ import annotations

import duckdb

from moneytrail.resolve.counterparty import (
    Roots,
    add_weight,
    group_identifiers_sql,
    group_profiles,
    profile_counterparties,
    record_groups,
)
from moneytrail.resolve.names import install_macros

RECEIVER_CP_WEIGHT = 6.0
COMPATIBLE_NAME_WEIGHT = 5.0


def _groups(con: duckdb.DuckDBPyConnection, root: Roots) -> None:
    """Per profile its subject, per subject its phones, emails and dates of birth, and
    per profile the subjects it transacts with, after the second pass."""
    con.register("_resolve_rcv_groups", record_groups(root))
    group_profiles(con, "_resolve_rcv_groups", "_resolve_rcv_aps", sides=True)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _resolve_rcv_pid AS
        SELECT pid, min(grp) AS grp, bool_and(all_to) AS receiver_only, bool_or(any_to) AS receives
        FROM _resolve_rcv_aps GROUP BY pid
        """
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _resolve_rcv_grp AS {group_identifiers_sql('_resolve_rcv_aps')}"
    )
    con.execute("DROP TABLE IF EXISTS _resolve_rcv_aps")
    profile_counterparties(con, "_resolve_rcv_groups", "_resolve_rcv_cp")
    con.unregister("_resolve_rcv_groups")


def _agree(col: str) -> str:
    return f"coalesce(p1.{col} = p2.{col} OR p1.{col} IS NULL OR p2.{col} IS NULL, TRUE)"


def _groups_agree(col: str) -> str:
    return f"coalesce(len(g1.{col}) = 0 OR len(g2.{col}) = 0 OR list_has_any(g1.{col}, g2.{col}), TRUE)"


def adjust_receivers(con: duckdb.DuckDBPyConnection, root: Roots, weight: float | None = None) -> int:
    """Set ``w_receiver`` on ``_resolve_scored`` (and its match weight and probability)
    from the subjects in ``root``. Returns the number of pairs given the evidence."""
    w = RECEIVER_CP_WEIGHT if weight is None else float(weight)
    _groups(con, root)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolve_rcv_x AS
        SELECT s.pid_l, s.pid_r, q1.grp AS grp_l, q2.grp AS grp_r,
               p1.name_sorted AS name_l, p2.name_sorted AS name_r,
               CASE WHEN g1.n_records <= g2.n_records THEN 'l' ELSE 'r' END AS smaller
        FROM _resolve_scored s
        JOIN _resolve_rcv_pid q1 ON q1.pid = s.pid_l JOIN _resolve_rcv_pid q2 ON q2.pid = s.pid_r
        JOIN _resolve_rcv_cp a ON a.pid = s.pid_l JOIN _resolve_rcv_cp b ON b.pid = s.pid_r
        JOIN resolve_profiles p1 ON p1.pid = s.pid_l JOIN resolve_profiles p2 ON p2.pid = s.pid_r
        JOIN _resolve_rcv_grp g1 ON g1.grp = q1.grp JOIN _resolve_rcv_grp g2 ON g2.grp = q2.grp
        WHERE s.pid_l <> s.pid_r AND q1.grp <> q2.grp
          AND ((q1.receiver_only AND q2.receives) OR (q1.receives AND q2.receiver_only))
          AND list_has_any(a.cps, b.cps)
          AND s.w_name > {COMPATIBLE_NAME_WEIGHT}
          -- a name with a number is an outlet or an agent ("perapadala center manila 20"),
          -- and "2" would pass for an initial of "20"
          AND NOT regexp_matches(p1.name_sorted, '[0-9]') AND NOT regexp_matches(p2.name_sorted, '[0-9]')
          AND {_agree("dob")} AND {_agree("phone")} AND {_agree("email")}
          AND {_groups_agree("phones")} AND {_groups_agree("emails")} AND {_groups_agree("dobs")}
        """
    )
    _compatible_names(con)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _resolve_rcv_pairs AS
        WITH x AS (
          SELECT x.* FROM _resolve_rcv_x x
          LEFT JOIN _resolve_rcv_names nm ON nm.name_l = x.name_l AND nm.name_r = x.name_r
          WHERE x.name_l = x.name_r OR nm.name_l IS NOT NULL
        ),
        -- how many other subjects each profile could join on this evidence
        cand AS (SELECT pid_l AS pid, grp_r AS other FROM x UNION SELECT pid_r, grp_l FROM x),
        amb AS (SELECT pid, count(DISTINCT other) AS n_other FROM cand GROUP BY pid)
        SELECT x.pid_l, x.pid_r FROM x
        JOIN amb al ON al.pid = x.pid_l JOIN amb ar ON ar.pid = x.pid_r
        WHERE (CASE WHEN smaller = 'l' THEN al.n_other ELSE ar.n_other END) = 1
        """
    )
    n = int(con.execute("SELECT count(*) FROM _resolve_rcv_pairs").fetchall()[0][0])
    if n and w:
        add_weight(con, "_resolve_rcv_pairs", "w_receiver", w)
    return n


def _compatible_names(con: duckdb.DuckDBPyConnection) -> None:
    """`_resolve_rcv_names`: the candidates' distinct name pairs that `mt_names_compatible` accepts.

    The name macros run in a DuckDB of their own, on the few distinct pairs, so
    the pass runs unchanged on an engine without DuckDB's macros (Spark).
    """
    pairs = con.sql("SELECT DISTINCT name_l, name_r FROM _resolve_rcv_x WHERE name_l <> name_r").to_arrow_table()
    local = duckdb.connect()
    try:
        install_macros(local, temp=True)
        local.register("pairs", pairs)
        ok = local.sql(
            "SELECT name_l, name_r FROM pairs WHERE coalesce(mt_names_compatible("
            "string_split(name_l, ' '), string_split(name_r, ' ')), FALSE)"
        ).to_arrow_table()
    finally:
        local.close()
    con.register("_resolve_rcv_names_arrow", ok)
    con.execute("CREATE OR REPLACE TEMP TABLE _resolve_rcv_names AS SELECT * FROM _resolve_rcv_names_arrow")
    con.unregister("_resolve_rcv_names_arrow")
