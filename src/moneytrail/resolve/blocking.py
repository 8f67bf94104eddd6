"""Which profiles to compare: capped blocking keys, so work stays near-linear.

Each profile emits a handful of keys (the sorted name; the name with the date of
birth or city; each name token with the initial of another token — which lets
"j a smith" meet "john andrew smith" and "smith john" meet "john smith"; a name
token with the date of birth, or its first three letters with the date of birth
(meets "brakhn" for "brain"); the date of birth with the initials; phone;
email; email user name; document, and its characters sorted, which meets a
transposed digit; date of birth with city; address with city — the last
three bring together records whose names were mistyped or replaced). Two profiles are compared when they share a
key. A key held by more than ``block_cap`` profiles is too common to say
anything (a popular name in one country, a payout agent's phone) and is dropped:
the other keys still bring true matches together, and the number of pairs is at
most ``block_cap`` times the number of keys.
"""

from __future__ import annotations

import duckdb


def keys_sql() -> str:
    return """
    WITH p AS (
      SELECT pid, name_sorted, string_split(name_sorted, ' ') AS toks, dob, phone, email,
             address, city, id_doc
      FROM resolve_profiles
    ),
    tok AS (
      SELECT pid, unnest(toks) AS t, generate_subscripts(toks, 1) AS i, dob
      FROM p WHERE name_sorted IS NOT NULL
    ),
    ini AS (
      SELECT pid, array_to_string(list_sort(list_transform(toks, lambda x: left(x, 1))), '') AS initials
      FROM p WHERE name_sorted IS NOT NULL
    )
    SELECT pid, 'n:' || name_sorted AS k FROM p WHERE name_sorted IS NOT NULL
    UNION ALL SELECT pid, 'nd:' || name_sorted || '|' || dob FROM p
      WHERE name_sorted IS NOT NULL AND dob IS NOT NULL
    UNION ALL SELECT pid, 'nc:' || name_sorted || '|' || city FROM p
      WHERE name_sorted IS NOT NULL AND city IS NOT NULL
    UNION ALL SELECT a.pid, 'ti:' || a.t || '|' || left(b.t, 1) FROM tok a
      JOIN tok b ON a.pid = b.pid AND a.i <> b.i WHERE length(a.t) >= 2
    UNION ALL SELECT pid, 'td:' || t || '|' || dob FROM tok WHERE length(t) >= 3 AND dob IS NOT NULL
    UNION ALL SELECT pid, 'dp:' || left(t, 3) || '|' || dob FROM tok WHERE length(t) >= 3 AND dob IS NOT NULL
    UNION ALL SELECT p.pid, 'di:' || p.dob || '|' || ini.initials FROM p JOIN ini USING (pid)
      WHERE p.dob IS NOT NULL
    UNION ALL SELECT pid, 'p:' || phone FROM p WHERE phone IS NOT NULL
    UNION ALL SELECT pid, 'e:' || email FROM p WHERE email IS NOT NULL
    UNION ALL SELECT pid, 'eu:' || split_part(email, '@', 1) FROM p
      WHERE email IS NOT NULL AND length(split_part(email, '@', 1)) >= 5
    UNION ALL SELECT pid, 'x:' || id_doc FROM p WHERE id_doc IS NOT NULL
    UNION ALL SELECT pid, 'xs:' || array_to_string(list_sort(string_split(id_doc, '')), '') FROM p
      WHERE id_doc IS NOT NULL
    UNION ALL SELECT pid, 'dc:' || dob || '|' || city FROM p WHERE dob IS NOT NULL AND city IS NOT NULL
    UNION ALL SELECT pid, 'ac:' || address || '|' || city FROM p
      WHERE address IS NOT NULL AND city IS NOT NULL
    """


def build_pairs(
    con: duckdb.DuckDBPyConnection,
    *,
    block_cap: int,
    new_from_pid: int = 0,
    new_from_rid: int = 0,
) -> int:
    """Write ``_resolve_pairs(pid_l, pid_r)``: candidate pairs of distinct profiles,
    plus a profile with itself when it has several records. With ``new_from_pid``, only pairs touching a
    profile numbered above it (and self pairs of profiles with a record above
    ``new_from_rid``). Returns the number of pairs."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _resolve_keys AS {keys_sql()}")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolve_pairs AS
        WITH kk AS (
          SELECT k, pid FROM _resolve_keys
          WHERE k IN (SELECT k FROM _resolve_keys GROUP BY k
                      HAVING count(*) BETWEEN 2 AND {int(block_cap)})
        )
        SELECT DISTINCT a.pid AS pid_l, b.pid AS pid_r
        FROM kk a JOIN kk b ON a.k = b.k AND a.pid < b.pid
        WHERE b.pid > {int(new_from_pid)}
        UNION ALL
        SELECT pid, pid FROM (
          SELECT pid FROM resolve_records WHERE pid IS NOT NULL
          GROUP BY pid HAVING count(*) > 1 AND max(rid) > {int(new_from_rid)}
        )
        """
    )
    con.execute("DROP TABLE _resolve_keys")
    row = con.execute("SELECT count(*) FROM _resolve_pairs").fetchall()[0]
    return int(row[0]) if row else 0
