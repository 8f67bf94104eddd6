"""The one table of records to resolve, its profiles and its strong identifiers.

A *record* is a party occurrence (one side of a transaction) or a referral
subject. Its key is ``(provider, record_id, party)``; a referral subject's party
is its ``subject_ref``. Records whose compared values are all equal share a
*profile*: the probabilistic model compares profiles, not records, which keeps
the work proportional to the number of distinct ways people are written down.
"""

from __future__ import annotations

import duckdb

from moneytrail.resolve import tables as T

# Account kinds whose ids are only unique within a provider.
SCOPED_ACCOUNT_KINDS = ("customer", "wallet", "account", "beneficiary_account")


def _fold(expr: str) -> str:
    return (
        f"nullif(trim(regexp_replace(lower(strip_accents(coalesce({expr}, ''))), "
        f"'[^a-z0-9]+', ' ', 'g')), '')"
    )


def _tokens_sorted(name_norm: str) -> str:
    return (
        f"nullif(array_to_string(list_sort(list_filter(string_split({name_norm}, ' '), "
        f"lambda x: x <> '')), ' '), '')"
    )


def source_sql() -> str:
    """SELECT of every record to resolve, before numbering."""
    id_doc = (
        "CASE WHEN nullif(trim(p.id_number), '') IS NOT NULL THEN "
        "upper(coalesce(trim(p.id_type), '')) || ':' || "
        "upper(regexp_replace(p.id_number, '[^A-Za-z0-9]', '', 'g')) END"
    )
    return f"""
    SELECT p.provider, p.record_id, p.party, p.side,
           CASE WHEN p.party = 'merchant' OR p.account_kind = 'merchant'
                THEN 'merchant' ELSE 'party' END AS origin,
           p.name_norm, {_tokens_sorted("p.name_norm")} AS name_sorted,
           p.dob, nullif(p.phone_e164, '') AS phone, nullif(lower(trim(p.email)), '') AS email,
           {_fold("p.address")} AS address, {_fold("p.city")} AS city,
           nullif(upper(p.country), '') AS country, {id_doc} AS id_doc,
           nullif(trim(p.account), '') AS account, p.account_kind,
           CASE WHEN p.side = 'from' THEN nullif(trim(t.device_id), '') END AS device_id
    FROM parties p
    LEFT JOIN transactions t ON t.provider = p.provider AND t.record_id = p.record_id
    UNION ALL
    SELECT s.provider, s.record_id, s.subject_ref AS party, 'subject' AS side,
           'referral' AS origin,
           s.name_norm, {_tokens_sorted("s.name_norm")} AS name_sorted,
           s.dob,
           (SELECT min(i.value_norm) FROM referral_identifiers i WHERE i.provider = s.provider
              AND i.record_id = s.record_id AND i.kind = 'phone') AS phone,
           (SELECT min(i.value_norm) FROM referral_identifiers i WHERE i.provider = s.provider
              AND i.record_id = s.record_id AND i.kind = 'email') AS email,
           NULL AS address, NULL AS city, nullif(upper(s.country), '') AS country,
           NULL AS id_doc,
           CASE WHEN nullif(trim(s.account_id), '') IS NOT NULL
                THEN coalesce(s.platform, '') || ':' || trim(s.account_id) END AS account,
           'platform_account' AS account_kind, NULL AS device_id
    FROM referral_subjects s
    """


PROFILE_COLUMNS = ("name_sorted", "dob", "phone", "email", "address", "city", "country", "id_doc")


def _pkey_sql(alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    return "hash(" + ", ".join(f"{a}{c}" for c in PROFILE_COLUMNS) + ")"


def keys_sql() -> str:
    """SELECT of the key ``(provider, record_id, party)`` of every record to resolve: the
    keys of :func:`source_sql`, read from the two tables alone."""
    return """
    SELECT provider, record_id, party FROM parties
    UNION ALL
    SELECT provider, record_id, subject_ref AS party FROM referral_subjects
    """


def build_records(con: duckdb.DuckDBPyConnection, *, incremental: bool = False) -> int:
    """(Re)build ``resolve_records``; with ``incremental`` keep existing rows and
    append the records not there yet. Returns the number of records added."""
    con.execute(T.RESOLVE_RECORDS.ddl())
    if not incremental:
        con.execute("DELETE FROM resolve_records")
    base = con.execute("SELECT coalesce(max(rid), 0) FROM resolve_records").fetchall()[0]
    start = int(base[0]) if base else 0
    cols = [c for c in T.RESOLVE_RECORDS.names if c not in ("rid", "pid")]
    new_only = (
        "WHERE NOT EXISTS (SELECT 1 FROM resolve_records r WHERE r.provider = k.provider "
        "AND r.record_id = k.record_id AND r.party = k.party)"
        if incremental
        else ""
    )
    keys = f"SELECT * FROM ({keys_sql()}) k {new_only}"
    # One provider at a time: a record's number orders it by provider first, so the
    # records of one provider, numbered from where the providers before it end, are
    # numbered as the whole would be, and each statement sorts and joins a provider's
    # records only. Within a provider, the numbering sorts the keys alone (read from the
    # tables) and the wide rows stream from the source into the table through one join
    # on the key. Session 8 wrote all the wide rows to a temporary table and numbered
    # them in one statement: at 5M transactions under a 1.2 GB limit (as 20M would feel)
    # it spilled 3.6 GB in 62-66 CPU-s; this spills 0.02 GB in 32-34 CPU-s (session 9).
    # The rows are not stored in rid order: nothing reads them in storage order. A key
    # without a provider is never stored (the join on the key drops it), as before
    counts = con.execute(
        f"SELECT provider, count(*) FROM ({keys}) x GROUP BY provider ORDER BY provider"
    ).fetchall()
    offset = start
    for provider, n in counts:
        if provider is None:
            continue
        same = "provider = '" + str(provider).replace("'", "''") + "'"
        con.execute(
            f"""
            INSERT INTO resolve_records
            WITH num AS (
              SELECT provider, record_id, party,
                     {offset} + row_number() OVER (ORDER BY record_id, party) AS rid
              FROM ({keys}) x WHERE {same}
            )
            SELECT num.rid, {", ".join("src." + c for c in cols)}, NULL AS pid
            FROM ({source_sql()}) src JOIN num USING (provider, record_id, party)
            WHERE src.{same}
            """
        )
        offset += int(n)
    end = con.execute("SELECT coalesce(max(rid), 0) FROM resolve_records").fetchall()[0]
    return (int(end[0]) if end else 0) - start


def build_profiles(con: duckdb.DuckDBPyConnection) -> int:
    """Give every record without one a profile id (``pid``); maintain ``resolve_profiles``.

    Returns the number of new profiles."""
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS resolve_profiles (
          pid BIGINT, pkey UBIGINT, name_sorted VARCHAR, dob DATE, phone VARCHAR,
          email VARCHAR, address VARCHAR, city VARCHAR, country VARCHAR, id_doc VARCHAR,
          n_records BIGINT)
        """
    )
    base = con.execute("SELECT coalesce(max(pid), 0) FROM resolve_profiles").fetchall()[0]
    start = int(base[0]) if base else 0
    cols = ", ".join(PROFILE_COLUMNS)
    con.execute(
        f"""
        INSERT INTO resolve_profiles
        SELECT {start} + row_number() OVER (ORDER BY min_rid) AS pid, pkey, {cols}, 0
        FROM (
          SELECT {_pkey_sql()} AS pkey, {cols}, min(rid) AS min_rid
          FROM resolve_records
          WHERE pid IS NULL AND origin <> 'merchant'
          GROUP BY ALL
        ) n
        WHERE NOT EXISTS (SELECT 1 FROM resolve_profiles p WHERE p.pkey = n.pkey)
        """
    )
    con.execute(
        f"""
        UPDATE resolve_records r SET pid = p.pid
        FROM resolve_profiles p
        WHERE r.pid IS NULL AND r.origin <> 'merchant' AND p.pkey = {_pkey_sql("r")}
        """
    )
    con.execute(
        """
        UPDATE resolve_profiles p SET n_records = c.n
        FROM (SELECT pid, count(*) AS n FROM resolve_records WHERE pid IS NOT NULL
              GROUP BY pid) c
        WHERE c.pid = p.pid
        """
    )
    end = con.execute("SELECT coalesce(max(pid), 0) FROM resolve_profiles").fetchall()[0]
    return (int(end[0]) if end else 0) - start


def identifiers_sql(where: str = "TRUE") -> str:
    """SELECT (rid, kind, value) of the strong identifiers of the selected records, each
    once.

    Each branch reads the table itself (a CTE read nine times may be materialised: the
    whole wide table held, or spilled, once more). A party's or merchant's record gives
    each kind from one branch only, so its rows are distinct already; only a referral
    subject's phone and email (its own columns, and every one of its referral's
    identifiers) can repeat, and only those go through DISTINCT (session 8 deduplicated
    every row: at 5M transactions under a 1.2 GB limit 31-33 CPU-s and 1.5 GB of spill,
    now 6.6-6.7 CPU-s and none)."""
    scoped = ", ".join(f"'{k}'" for k in SCOPED_ACCOUNT_KINDS)
    r = f"(SELECT * FROM resolve_records WHERE {where})"
    return f"""
    SELECT rid, 'merchant' AS kind, account AS value FROM {r} r
      WHERE origin = 'merchant' AND account IS NOT NULL
    UNION ALL
    SELECT rid, 'account', provider || '|' || account_kind || '|' || account FROM {r} r
      WHERE origin <> 'merchant' AND account IS NOT NULL
        AND account_kind IN ({scoped}, 'platform_account')
    UNION ALL
    SELECT rid, 'iban', upper(replace(account, ' ', '')) FROM {r} r
      WHERE origin <> 'merchant' AND account IS NOT NULL AND account_kind = 'iban'
    UNION ALL
    SELECT rid, 'card', account FROM {r} r
      WHERE origin <> 'merchant' AND account IS NOT NULL AND account_kind = 'card'
    UNION ALL
    SELECT rid, 'email', email FROM {r} r WHERE origin = 'party' AND email IS NOT NULL
    UNION ALL
    SELECT rid, 'phone', phone FROM {r} r WHERE origin = 'party' AND phone IS NOT NULL
    UNION ALL
    SELECT rid, 'id_doc', id_doc FROM {r} r WHERE origin <> 'merchant' AND id_doc IS NOT NULL
    UNION ALL
    SELECT rid, 'device', device_id FROM {r} r WHERE origin <> 'merchant' AND device_id IS NOT NULL
    UNION ALL
    SELECT DISTINCT rid, kind, value FROM (
      SELECT rid, 'email' AS kind, email AS value FROM {r} r
        WHERE origin = 'referral' AND email IS NOT NULL
      UNION ALL
      SELECT rid, 'phone', phone FROM {r} r WHERE origin = 'referral' AND phone IS NOT NULL
      UNION ALL
      SELECT r.rid, i.kind, i.value_norm FROM {r} r
        JOIN referral_identifiers i ON i.provider = r.provider
         AND i.record_id = r.record_id AND r.origin = 'referral'
        WHERE i.kind IN ('email', 'phone') AND i.value_norm IS NOT NULL
    ) x
    """


def build_identifiers(con: duckdb.DuckDBPyConnection, *, incremental: bool = False) -> None:
    con.execute(T.RESOLVE_IDENTIFIERS.ddl())
    if not incremental:
        con.execute("DELETE FROM resolve_identifiers")
        con.execute(f"INSERT INTO resolve_identifiers {identifiers_sql()}")
        return
    con.execute(
        f"""
        INSERT INTO resolve_identifiers
        SELECT rid, kind, value FROM ({identifiers_sql()}) x
        WHERE rid NOT IN (SELECT DISTINCT rid FROM resolve_identifiers)
        """
    )
