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

from collections.abc import Callable
from itertools import combinations

import duckdb
import numpy as np
import pyarrow as pa

from moneytrail.resolve.counterparty import (
    Roots,
    add_weight,
    group_identifiers_sql,
    group_profiles,
    record_groups,
)

ACCOUNT_MIN_WEIGHT = 6.0
ACCOUNT_WEIGHT = 3.0

# a record's own account: (key, account) where key is provider + account kind
OWN_ACCOUNTS_SQL = """
SELECT rid, provider || '|' || account_kind AS k, account
FROM resolve_records
WHERE account IS NOT NULL AND account_kind IS NOT NULL AND origin <> 'merchant'
  AND NOT (account_kind = 'wallet' AND side = 'to')
"""


def account_keys(con: duckdb.DuckDBPyConnection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rid, key, account) as int64 arrays, for :func:`moneytrail.resolve.clustering.cluster`."""
    cols = con.execute(
        f"""
        SELECT rid, dense_rank() OVER (ORDER BY k) AS key, dense_rank() OVER (ORDER BY k, account) AS acct
        FROM ({OWN_ACCOUNTS_SQL}) ORDER BY rid
        """
    ).fetchnumpy()
    rid, key, acct = (np.asarray(cols[c], dtype=np.int64) for c in ("rid", "key", "acct"))
    return rid, key, acct


def _agree(col: str) -> str:
    return f"coalesce(p1.{col} = p2.{col} OR p1.{col} IS NULL OR p2.{col} IS NULL, TRUE)"


def _groups_agree(col: str) -> str:
    return f"coalesce(len(g1.{col}) = 0 OR len(g2.{col}) = 0 OR list_has_any(g1.{col}, g2.{col}), TRUE)"


def adjust_accounts(
    con: duckdb.DuckDBPyConnection, root: Roots, threshold: float, weight: float | None = None
) -> int:
    """Set ``w_account`` on ``_resolve_scored`` (and its match weight and probability)
    from the subjects in ``root``. Returns the number of pairs given the evidence."""
    w = ACCOUNT_WEIGHT if weight is None else float(weight)
    con.register("_resolve_acc_groups", record_groups(root))
    # the (group, profile) rows once: each profile's subject and each subject's
    # identifiers are read from them (a few rows per group, not every record)
    group_profiles(con, "_resolve_acc_groups", "_resolve_acc_aps")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _resolve_acc_pid AS
        SELECT pid, min(grp) AS grp FROM _resolve_acc_aps GROUP BY pid
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolve_acc_grp AS
        SELECT grp, phones, emails, dobs FROM ({group_identifiers_sql("_resolve_acc_aps")})
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
          WHERE NOT list_has_any(a.accts, b.accts)
        )
        """
    )
    # a profile with itself (records with all compared values equal, in several
    # subjects): the same test over all the subjects its records are in
    con.execute(
        f"""
        INSERT INTO _resolve_acc_pairs
        WITH s AS (
          SELECT s.pid_l FROM _resolve_scored s JOIN resolve_profiles p ON p.pid = s.pid_l
          WHERE s.pid_l = s.pid_r AND s.match_weight >= {ACCOUNT_MIN_WEIGHT}
            AND s.match_probability < {float(threshold)} AND coalesce(s.w_name, 0) > 5
            AND NOT regexp_matches(p.name_sorted, '[0-9]')
        ),
        g AS (SELECT DISTINCT s.pid_l AS pid, a.grp FROM s JOIN _resolve_acc_aps a ON a.pid = s.pid_l),
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
    con.execute("DROP TABLE IF EXISTS _resolve_acc_aps")
    n = int(con.execute("SELECT count(*) FROM _resolve_acc_pairs").fetchall()[0][0])
    if n and w:
        add_weight(con, "_resolve_acc_pairs", "w_account", w)
    return n


# A component of only-candidate subjects larger than this is left alone (it is a
# crowd of namesakes, not one person's fragments).
ONLY_CANDIDATE_MAX_SUBJECTS = 4
ONLY_CANDIDATE_NAME_WEIGHT = 5.0


def only_candidate_links(
    con: duckdb.DuckDBPyConnection, root: Roots
) -> list[tuple[int, int, str, str]]:
    """Links ``(rid, rid, 'only_candidate', value)`` joining subjects that are each other's
    only possible match (after the last clustering pass, ``root``).

    An ordinary customer is a card at one bank ("c deborah wilson", a date of birth),
    a wallet at another ("claire deborah wilson", an email) and a bank account
    ("deborah wilson", an address): three subjects with nothing in common but a
    compatible name and a country. The model cannot merge them (a name and a
    country are not enough), but the accounts tell who else they could be. Two
    subjects are *candidates* when a scored pair of their profiles has a
    compatible name (model name weight above ``ONLY_CANDIDATE_NAME_WEIGHT``), the
    same country, no digit in the names, and no disagreeing date of birth, phone,
    email or document. A connected set of candidates (at most
    ``ONLY_CANDIDATE_MAX_SUBJECTS``) is one person when no two of its subjects
    clash (different accounts of one kind at one provider, or different phones,
    emails, dates of birth) and every two hold compatible names: nobody else
    could be either of them. A name a second cardholder of the same bank also
    holds puts the two cards in one set, which then clashes, and nothing merges.
    On three synthetic worlds (seeds 1, 5, 11 at scale 1) 95 to 97 % of the subject
    pairs so joined were one person.

    Names are compared as written too (:func:`moneytrail.resolve.names.initials_agree`):
    an initial stands for a given or middle name, never for the surname, so "S THOMAS"
    (cards of an adult-webcam user) is no candidate of "Thomas Sullivan" (a consumer's
    wallet), nor "Andrea K. Weber" of "Andrea Kruger" (session 10: on six development
    worlds this removed 18 wrong joins and no right one). Nor may two names differ in a
    word that only looks like a typo (:func:`moneytrail.resolve.names.words_apart`):
    "christopher thomas" (cards of an adult-webcam user) is no candidate of "christopher
    thompson" (a wallet), nor "noel santos" of "noel santiago" (session 11).
    """
    from moneytrail.resolve.names import (
        initials_agree,
        names_compatible,
        surname_only_words,
        words_apart,
    )

    con.register("_resolve_oc_groups", record_groups(root))
    try:
        # candidate edges, then the attributes of their groups; pairs that clash are dropped
        # here in SQL (the same test as :func:`_clash`): in a large world most candidate
        # pairs are namesakes with different phones or cards, and testing each in Python
        # grew faster than the data
        _candidate_edges(con)
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _resolve_oc_attr AS
            WITH grps AS (SELECT ga AS grp FROM _resolve_oc_edges UNION SELECT gb FROM _resolve_oc_edges),
            -- the records of one profile share its values: what a group holds is read from
            -- its profiles (and from its records without one, merchants, which the edges
            -- leave out anyway), not from every wide record of its
            ap AS (
              SELECT DISTINCT g.grp, r.pid FROM resolve_records r JOIN _resolve_oc_groups g ON g.rid = r.rid
              WHERE r.pid IS NOT NULL AND g.grp IN (SELECT grp FROM grps)
            ),
            v AS (
              SELECT ap.grp, p.name_sorted, p.phone, p.email, p.dob
              FROM ap JOIN resolve_profiles p ON p.pid = ap.pid
              UNION ALL
              SELECT g.grp, r.name_sorted, r.phone, r.email, r.dob
              FROM resolve_records r JOIN _resolve_oc_groups g ON g.rid = r.rid
              WHERE r.pid IS NULL AND g.grp IN (SELECT grp FROM grps)
            )
            SELECT grp,
                   list(DISTINCT name_sorted) FILTER (WHERE name_sorted IS NOT NULL) AS names,
                   list(DISTINCT phone) FILTER (WHERE phone IS NOT NULL) AS phones,
                   list(DISTINCT email) FILTER (WHERE email IS NOT NULL) AS emails,
                   list(DISTINCT dob) FILTER (WHERE dob IS NOT NULL) AS dobs
            FROM v GROUP BY grp
            """
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _resolve_oc_acc AS
            SELECT g.grp, a.k, list(DISTINCT a.account) AS accts
            FROM ({OWN_ACCOUNTS_SQL}) a JOIN _resolve_oc_groups g ON g.rid = a.rid
            WHERE g.grp IN (SELECT grp FROM _resolve_oc_attr) GROUP BY ALL
            """
        )

        def apart(col: str) -> str:
            return (
                f"(coalesce(len(x.{col}), 0) > 0 AND coalesce(len(y.{col}), 0) > 0"
                f" AND NOT list_has_any(x.{col}, y.{col}))"
            )

        found = con.sql(
            f"""
            SELECT e.ga, e.gb, e.rid_a, e.rid_b, e.country FROM _resolve_oc_edges e
            LEFT JOIN _resolve_oc_attr x ON x.grp = e.ga LEFT JOIN _resolve_oc_attr y ON y.grp = e.gb
            LEFT JOIN (
                SELECT DISTINCT e.ga, e.gb FROM _resolve_oc_edges e
                JOIN _resolve_oc_acc a ON a.grp = e.ga JOIN _resolve_oc_acc b ON b.grp = e.gb AND b.k = a.k
                WHERE NOT list_has_any(a.accts, b.accts)
            ) c ON c.ga = e.ga AND c.gb = e.gb
            WHERE NOT coalesce({apart("phones")} OR {apart("emails")} OR {apart("dobs")}, FALSE)
              AND c.ga IS NULL
            """
        ).to_arrow_table()
        big = con.execute("SELECT grp FROM _resolve_oc_big").fetchnumpy()["grp"]
        edges = _small_component_edges(found, np.asarray(big, dtype=np.int64))
        if not edges:
            return []
        grps = pa.table(
            {"grp": pa.array(sorted({e[0] for e in edges} | {e[1] for e in edges}), pa.int64())}
        )
        con.register("_resolve_oc_grps", grps)
        attrs = con.execute(
            """
            SELECT grp, names, phones, emails, dobs FROM _resolve_oc_attr
            WHERE grp IN (SELECT grp FROM _resolve_oc_grps)
            """
        ).fetchall()
        own = con.execute(
            """
            SELECT grp, k, accts FROM _resolve_oc_acc WHERE grp IN (SELECT grp FROM _resolve_oc_grps)
            """
        ).fetchall()
        # the names as written (token order kept), for what their initials stand for
        written = con.execute(
            """
            SELECT g.grp, list(DISTINCT r.name_norm) FROM resolve_records r
            JOIN _resolve_oc_groups g ON g.rid = r.rid
            WHERE r.name_norm IS NOT NULL AND g.grp IN (SELECT grp FROM _resolve_oc_grps)
            GROUP BY g.grp
            """
        ).fetchall()
        con.unregister("_resolve_oc_grps")
        surname_only = surname_only_words(
            n for (n,) in con.execute(
                """
                SELECT DISTINCT name_norm FROM resolve_records
                WHERE origin <> 'merchant' AND regexp_matches(name_norm, '(^| )[a-z] ')
                  AND NOT regexp_matches(name_norm, '[0-9]')
                """
            ).fetchall()
        )
    finally:
        con.unregister("_resolve_oc_groups")
        for t in _OC_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {t}")
    info = {
        int(g): (list(n or []), set(p or []), set(e or []), set(d or [])) for g, n, p, e, d in attrs
    }
    accounts: dict[int, dict[str, set[str]]] = {}
    for g, k, accts in own:
        accounts.setdefault(int(g), {})[str(k)] = set(accts)
    names = {int(g): list(n or []) for g, n in written}

    def agree(a: int, b: int) -> bool:
        return any(
            names_compatible(x, y) and initials_agree(x, y, surname_only) and not words_apart(x, y)
            for x in names.get(a, []) for y in names.get(b, [])
        )

    return _accept_components(edges, info, accounts, names_compatible, agree)


_OC_TABLES = (
    "_resolve_oc_edges",
    "_resolve_oc_attr",
    "_resolve_oc_acc",
    "_resolve_oc_pg",
    "_resolve_oc_pairs",
    "_resolve_oc_keys",
    "_resolve_oc_side",
    "_resolve_oc_big",
)


def _candidate_edges(con: duckdb.DuckDBPyConnection) -> None:
    """Write ``_resolve_oc_edges(ga, gb, rid_a, rid_b, country)``, the candidate edges
    between the groups of the registered ``_resolve_oc_groups``, and
    ``_resolve_oc_big(grp)``, the groups certain to sit in a connected set too large to
    join, whose edges between themselves are left out.

    A scored pair of profiles makes an edge between every group of one and every group
    of the other. A profile written with a name and a country only ("james smith", US)
    sits in thousands of subjects at 5M transactions, and its pairs made tens of millions
    of edges, grown with the square of the data. A group that has at least
    ``ONLY_CANDIDATE_MAX_SUBJECTS`` groups across one pair that it *cannot* clash with
    (they hold no phone, email, date of birth or account kind it holds too) has that
    many candidates, so its set is too large: it is marked big, and only the edges
    touching a group not marked big are written. Every set keeps its groups, a set
    holding a big group is left alone as before, and the edges of the other sets are
    those the full product gave (session 7: identical ``subject_records``).
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _resolve_oc_pg AS
        WITH excluded AS (
          SELECT DISTINCT g.grp FROM resolve_records r JOIN _resolve_oc_groups g ON g.rid = r.rid
          WHERE r.origin = 'merchant' OR regexp_matches(coalesce(r.name_sorted, ''), '[0-9]')
        )
        SELECT r.pid, g.grp, min(r.rid) AS rid FROM resolve_records r
        JOIN _resolve_oc_groups g ON g.rid = r.rid
        WHERE r.pid IS NOT NULL AND g.grp NOT IN (SELECT grp FROM excluded) GROUP BY ALL
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolve_oc_pairs AS
        SELECT s.pid_l, s.pid_r, p1.country
        FROM _resolve_scored s
        JOIN resolve_profiles p1 ON p1.pid = s.pid_l JOIN resolve_profiles p2 ON p2.pid = s.pid_r
        WHERE s.w_name > {ONLY_CANDIDATE_NAME_WEIGHT} AND p1.country = p2.country
          AND coalesce(s.w_dob, 0) >= 0 AND coalesce(s.w_phone, 0) >= 0
          AND coalesce(s.w_email, 0) >= 0 AND coalesce(s.w_id_doc, 0) >= 0
        """
    )
    m = int(ONLY_CANDIDATE_MAX_SUBJECTS)
    # a group is big through a pair whose other profile sits in more than m groups: only
    # those pairs are looked at (most profiles sit in one or two)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolve_oc_side AS
        WITH n AS (SELECT pid, count(*) AS n FROM _resolve_oc_pg GROUP BY pid HAVING count(*) > {m})
        SELECT DISTINCT x.pid, x.other, n.n FROM (
          SELECT pid_l AS pid, pid_r AS other FROM _resolve_oc_pairs
          UNION ALL SELECT pid_r, pid_l FROM _resolve_oc_pairs
        ) x JOIN n ON n.pid = x.other
        """
    )
    # what each of their groups could clash on: phones, emails, dates of birth (on any of
    # its records, as _resolve_oc_attr) and its own accounts' kinds (as _resolve_oc_acc)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolve_oc_keys AS
        WITH grps AS (
          SELECT DISTINCT grp FROM _resolve_oc_pg
          WHERE pid IN (SELECT pid FROM _resolve_oc_side UNION SELECT other FROM _resolve_oc_side)
        )
        SELECT DISTINCT g.grp, k FROM (
          SELECT rid, 'phone' AS k FROM resolve_records WHERE phone IS NOT NULL
          UNION ALL SELECT rid, 'email' FROM resolve_records WHERE email IS NOT NULL
          UNION ALL SELECT rid, 'dob' FROM resolve_records WHERE dob IS NOT NULL
          UNION ALL SELECT rid, 'account|' || k FROM ({OWN_ACCOUNTS_SQL})
        ) x JOIN _resolve_oc_groups g ON g.rid = x.rid
        WHERE g.grp IN (SELECT grp FROM grps)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolve_oc_big AS
        WITH nk AS (
          SELECT pg.pid, k.k, count(*) AS n FROM _resolve_oc_pg pg
          JOIN _resolve_oc_keys k USING (grp)
          WHERE pg.pid IN (SELECT other FROM _resolve_oc_side) GROUP BY ALL
        ),
        -- of the other profile's groups, how many each group could clash with (at most)
        could AS (
          SELECT side.pid, side.other, k.grp, sum(nk.n) AS n
          FROM _resolve_oc_side side JOIN _resolve_oc_pg pg ON pg.pid = side.pid
          JOIN _resolve_oc_keys k ON k.grp = pg.grp
          JOIN nk ON nk.pid = side.other AND nk.k = k.k
          GROUP BY ALL
        )
        SELECT DISTINCT pg.grp
        FROM _resolve_oc_side side JOIN _resolve_oc_pg pg ON pg.pid = side.pid
        LEFT JOIN could c ON c.pid = side.pid AND c.other = side.other AND c.grp = pg.grp
        -- the other profile's groups, less itself, less those it could clash with
        WHERE side.n - 1 - coalesce(c.n, 0) >= {m}
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _resolve_oc_edges AS
        WITH x AS (
          SELECT a.grp AS ga, b.grp AS gb, a.rid AS rid_a, b.rid AS rid_b, q.country
          FROM _resolve_oc_pairs q JOIN _resolve_oc_pg a ON a.pid = q.pid_l
          JOIN _resolve_oc_pg b ON b.pid = q.pid_r
          WHERE a.grp NOT IN (SELECT grp FROM _resolve_oc_big)
          UNION ALL
          SELECT a.grp, b.grp, a.rid, b.rid, q.country
          FROM _resolve_oc_pairs q
          JOIN (SELECT * FROM _resolve_oc_pg WHERE grp IN (SELECT grp FROM _resolve_oc_big)) a
            ON a.pid = q.pid_l
          JOIN _resolve_oc_pg b ON b.pid = q.pid_r
          WHERE b.grp NOT IN (SELECT grp FROM _resolve_oc_big)
        )
        SELECT ga, gb, min(rid_a) AS rid_a, min(rid_b) AS rid_b, min(country) AS country
        FROM x WHERE ga <> gb GROUP BY ga, gb
        """
    )


def _small_component_edges(
    found: pa.Table, big: np.ndarray | None = None
) -> list[tuple[int, int, int, int, str]]:
    """The candidate edges ``(ga, gb, rid_a, rid_b, country)`` of the connected sets of at
    most ``ONLY_CANDIDATE_MAX_SUBJECTS`` subjects, found with arrays (scipy): a crowd of
    namesakes makes one set of thousands of subjects, which a Python union-find
    without path compression walked quadratically, and whose attributes were fetched
    for nothing. The clashing edges are already gone (SQL), so the sets are those
    :func:`_accept_components` would form. A set holding a group of ``big`` (one certain
    to have more candidates than a set may hold: :func:`_candidate_edges`) is left out
    too."""
    if found.num_rows == 0:
        return []
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ga = found.column("ga").to_numpy().astype(np.int64, copy=False)
    gb = found.column("gb").to_numpy().astype(np.int64, copy=False)
    grps, inv = np.unique(np.concatenate([ga, gb]), return_inverse=True)
    m, n = len(ga), len(grps)
    graph = coo_matrix((np.ones(m, dtype=np.int8), (inv[:m], inv[m:])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    small = np.bincount(label) <= ONLY_CANDIDATE_MAX_SUBJECTS
    if big is not None and len(big):
        small[label[np.isin(grps, big)]] = False
    keep = np.nonzero(small[label[inv[:m]]])[0]
    kept = found.take(pa.array(keep))
    cols = [kept.column(c).to_pylist() for c in ("ga", "gb", "rid_a", "rid_b", "country")]
    return list(zip(*cols, strict=True))


_Subject = tuple[list[str], set[object], set[object], set[object]]  # names, phones, emails, dobs


def _clash(
    a: _Subject, b: _Subject, acc_a: dict[str, set[str]], acc_b: dict[str, set[str]]
) -> bool:
    """Two subjects that cannot be one person: different accounts of one kind at one
    provider, or phones (emails, dates of birth) on both sides with none in common."""
    if any(not (acc_a[k] & acc_b[k]) for k in acc_a.keys() & acc_b.keys()):
        return True
    return any(x and y and not (x & y) for x, y in zip(a[1:], b[1:], strict=True))


def _accept_components(
    edges: list[tuple[int, int, int, int, str]],
    info: dict[int, _Subject],
    accounts: dict[int, dict[str, set[str]]],
    compatible: Callable[[str | None, str | None], bool],
    agree: Callable[[int, int], bool] | None = None,
) -> list[tuple[int, int, str, str]]:
    """The candidate edges ``(grp, grp, rid, rid, country)`` of the connected sets that
    are small, clash nowhere and hold compatible names two by two (``agree(ga, gb)``,
    when given, instead of ``compatible`` over their sorted names: names as written,
    whose initials must agree too)."""
    empty: _Subject = ([], set(), set(), set())

    def clash(a: int, b: int) -> bool:
        return _clash(
            info.get(a, empty), info.get(b, empty), accounts.get(a, {}), accounts.get(b, {})
        )

    # two subjects that clash are no candidates of each other; a third that could be
    # either of them makes their set clash, and nothing in it merges
    edges = [e for e in edges if not clash(e[0], e[1])]
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for ga, gb, *_ in edges:
        ra, rb = find(ga), find(gb)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, set[int]] = {}
    for ga, gb, *_ in edges:
        members.setdefault(find(ga), set()).update((ga, gb))
    ok: set[int] = set()
    for comp, grps in members.items():
        if len(grps) > ONLY_CANDIDATE_MAX_SUBJECTS:
            continue
        pairs = list(combinations(sorted(grps), 2))
        if any(clash(a, b) for a, b in pairs):
            continue
        if all(
            agree(a, b)
            if agree is not None
            else any(compatible(x, y) for x in info.get(a, empty)[0] for y in info.get(b, empty)[0])
            for a, b in pairs
        ):
            ok.add(comp)
    out = []
    for ga, gb, rid_a, rid_b, country in sorted(edges):
        if find(ga) in ok:
            name_a = min(info.get(ga, empty)[0], default="")
            name_b = min(info.get(gb, empty)[0], default="")
            out.append((int(rid_a), int(rid_b), "only_candidate", f"{country}:{name_a} ~ {name_b}"))
    return out
