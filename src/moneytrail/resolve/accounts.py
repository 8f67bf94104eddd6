"""Accounts as evidence: a provider knows a customer once.

A card issuer gives a person one card token, a remittance operator one customer
id, a bank one account; a wallet operator one wallet (its payees are not
counted: a withdrawal's payee is the holder's own bank account, written as
another "wallet"). So two groups of records that each hold their own account
of one kind at one provider, with none in common, are two people however alike
their names: two cardholders "Jeffrey Rogers" with two card tokens at one bank.
:func:`account_keys` gives these accounts to the clustering's **account guard**
(:mod:`moneytrail.resolve.clustering`).

The converse is the fourth clustering pass, :func:`adjust_accounts`. After the
third pass, a scored pair of profiles just below the threshold (match weight at
least ``ACCOUNT_MIN_WEIGHT``: the same or a compatible name, the same country,
usually the subject-level "rare name") gets ``w_account``
(``ACCOUNT_WEIGHT``) when the two subjects it joins could be one customer
everywhere: their accounts do not clash at any provider, and no date of birth,
phone or email disagrees (on the profiles or on the subjects). A person's card
records written with a name only ("BENNETT GARY" at the card issuer) and her
wallet and bank records ("Gary Bennett" with a phone) are such a pair. On three
synthetic worlds (seeds 1, 5 and 11 at scale 1), 97 to 99 % of the subject pairs
so qualified were one person, against none of those whose accounts clash.
"""

from __future__ import annotations

import duckdb

from moneytrail.resolve.counterparty import add_weight, record_groups

ACCOUNT_MIN_WEIGHT = 6.0
ACCOUNT_WEIGHT = 3.0

# a record's own account: (key, account) where key is provider + account kind
OWN_ACCOUNTS_SQL = """
SELECT rid, provider || '|' || account_kind AS k, account
FROM resolve_records
WHERE account IS NOT NULL AND account_kind IS NOT NULL AND origin <> 'merchant'
  AND NOT (account_kind = 'wallet' AND side = 'to')
"""


def account_keys(con: duckdb.DuckDBPyConnection) -> tuple[list[int], list[int], list[int]]:
    """(rid, key, account) as integers, for :func:`moneytrail.resolve.clustering.cluster`."""
    cols = con.execute(
        f"""
        SELECT rid, dense_rank() OVER (ORDER BY k) AS key, dense_rank() OVER (ORDER BY k, account) AS acct
        FROM ({OWN_ACCOUNTS_SQL}) ORDER BY rid
        """
    ).fetchnumpy()
    return cols["rid"].tolist(), cols["key"].tolist(), cols["acct"].tolist()


def _agree(col: str) -> str:
    return f"coalesce(p1.{col} = p2.{col} OR p1.{col} IS NULL OR p2.{col} IS NULL, TRUE)"


def _groups_agree(col: str) -> str:
    return f"coalesce(len(g1.{col}) = 0 OR len(g2.{col}) = 0 OR len(list_intersect(g1.{col}, g2.{col})) > 0, TRUE)"


def adjust_accounts(
    con: duckdb.DuckDBPyConnection, root: list[int], threshold: float, weight: float | None = None
) -> int:
    """Set ``w_account`` on ``_resolve_scored`` (and its match weight and probability)
    from the subjects in ``root``. Returns the number of pairs given the evidence."""
    w = ACCOUNT_WEIGHT if weight is None else float(weight)
    con.register("_resolve_acc_groups", record_groups(root))
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _resolve_acc_pid AS
        SELECT r.pid, min(g.grp) AS grp FROM resolve_records r JOIN _resolve_acc_groups g ON g.rid = r.rid
        WHERE r.pid IS NOT NULL GROUP BY r.pid
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _resolve_acc_grp AS
        SELECT g.grp,
               list(DISTINCT r.phone) FILTER (WHERE r.phone IS NOT NULL) AS phones,
               list(DISTINCT r.email) FILTER (WHERE r.email IS NOT NULL) AS emails,
               list(DISTINCT r.dob) FILTER (WHERE r.dob IS NOT NULL) AS dobs
        FROM resolve_records r JOIN _resolve_acc_groups g ON g.rid = r.rid
        WHERE r.pid IS NOT NULL GROUP BY g.grp
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolve_acc_own AS
        SELECT g.grp, a.k, list(DISTINCT a.account) AS accts
        FROM ({OWN_ACCOUNTS_SQL}) a JOIN _resolve_acc_groups g ON g.rid = a.rid
        GROUP BY ALL
        """
    )
    con.unregister("_resolve_acc_groups")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolve_acc_pairs AS
        WITH x AS (
          SELECT s.pid_l, s.pid_r, q1.grp AS grp_l, q2.grp AS grp_r
          FROM _resolve_scored s
          JOIN _resolve_acc_pid q1 ON q1.pid = s.pid_l JOIN _resolve_acc_pid q2 ON q2.pid = s.pid_r
          JOIN resolve_profiles p1 ON p1.pid = s.pid_l JOIN resolve_profiles p2 ON p2.pid = s.pid_r
          JOIN _resolve_acc_grp g1 ON g1.grp = q1.grp JOIN _resolve_acc_grp g2 ON g2.grp = q2.grp
          WHERE s.pid_l <> s.pid_r AND q1.grp <> q2.grp
            AND s.match_weight >= {ACCOUNT_MIN_WEIGHT} AND s.match_probability < {float(threshold)}
            AND coalesce(s.w_name, 0) > 5
            AND NOT regexp_matches(p1.name_sorted, '[0-9]') AND NOT regexp_matches(p2.name_sorted, '[0-9]')
            AND {_agree("dob")} AND {_agree("phone")} AND {_agree("email")}
            AND {_groups_agree("phones")} AND {_groups_agree("emails")} AND {_groups_agree("dobs")}
        )
        SELECT pid_l, pid_r, grp_l, grp_r FROM x
        """
    )
    # drop the pairs whose subjects hold different accounts of one kind at one provider
    con.execute(
        """
        DELETE FROM _resolve_acc_pairs WHERE (grp_l, grp_r) IN (
          SELECT (x.grp_l, x.grp_r) FROM (SELECT DISTINCT grp_l, grp_r FROM _resolve_acc_pairs) x
          JOIN _resolve_acc_own a ON a.grp = x.grp_l
          JOIN _resolve_acc_own b ON b.grp = x.grp_r AND b.k = a.k
          WHERE len(list_intersect(a.accts, b.accts)) = 0
        )
        """
    )
    # a profile with itself (records with all compared values equal, in several
    # subjects): the same test over all the subjects its records are in
    con.register("_resolve_acc_groups", record_groups(root))
    con.execute(
        f"""
        INSERT INTO _resolve_acc_pairs
        WITH s AS (
          SELECT s.pid_l FROM _resolve_scored s JOIN resolve_profiles p ON p.pid = s.pid_l
          WHERE s.pid_l = s.pid_r AND s.match_weight >= {ACCOUNT_MIN_WEIGHT}
            AND s.match_probability < {float(threshold)} AND coalesce(s.w_name, 0) > 5
            AND NOT regexp_matches(p.name_sorted, '[0-9]')
        ),
        g AS (
          SELECT DISTINCT s.pid_l AS pid, g.grp FROM s JOIN resolve_records r ON r.pid = s.pid_l
          JOIN _resolve_acc_groups g ON g.rid = r.rid
        ),
        members AS (
          SELECT g.pid, count(*) AS n_groups,
                 len(list_distinct(flatten(list(a.phones)))) AS phones,
                 len(list_distinct(flatten(list(a.emails)))) AS emails,
                 len(list_distinct(flatten(list(a.dobs)))) AS dobs
          FROM g JOIN _resolve_acc_grp a ON a.grp = g.grp
          GROUP BY g.pid
        ),
        own AS (
          SELECT g.pid, a.k, unnest(a.accts) AS acct FROM g JOIN _resolve_acc_own a ON a.grp = g.grp
        ),
        clash AS (SELECT DISTINCT pid FROM own GROUP BY pid, k HAVING count(DISTINCT acct) > 1)
        SELECT pid, pid, NULL, NULL FROM members
        WHERE n_groups > 1 AND phones <= 1 AND emails <= 1 AND dobs <= 1
          AND pid NOT IN (SELECT pid FROM clash)
        """
    )
    con.unregister("_resolve_acc_groups")
    n = int(con.execute("SELECT count(*) FROM _resolve_acc_pairs").fetchall()[0][0])
    if n and w:
        add_weight(con, "_resolve_acc_pairs", "w_account", w)
    return n
