"""Deterministic links on strong identifiers, with the shared-identifier guard.

Records carrying the same account (within its provider), card token, IBAN,
email, phone, identity document or device (of the paying side) are one person
— unless the identifier is *shared*: carried by more than
``max_names_per_identifier`` distinct names (a payout agent's phone, a
cybercafé's device), or by names falling into two or more groups that cannot
be one person ("maria santos" and "jose santos" on one family phone; variants
of one name — typos, initials, order — chain into a single group). Shared identifiers do not link; they are
listed in ``shared_identifiers``. Merchants resolve by merchant id alone.

One link comes from a transaction rather than an identifier: a wallet
*withdrawal* moves money to the holder's own bank account (the data contract:
"a withdrawal's payee is the linked bank account or cash-out point"), so its
payee is its payer when the two names are compatible (a cash-out point's name
is not). Without this, every wallet's withdrawals to a bank account formed a
receiver fragment of their own.
"""

from __future__ import annotations

from itertools import combinations

import duckdb
import pyarrow as pa

from moneytrail.resolve import tables as T
from moneytrail.resolve.counterparty import Roots, record_groups
from moneytrail.resolve.names import names_compatible


def name_groups(names: list[str]) -> int:
    """Number of groups of names that could be one person (single linkage over
    :func:`names_compatible`: "j satnos" joins "josefina santos" through "j santos")."""
    return len(_groups(names))


# Identifiers people lend or share (a family phone, an agent's phone, a cafe's
# device, a household email) versus identifiers that name one person or account,
# where two names on two records are more often a data error than two people.
LOOSELY_HELD = ("phone", "email", "device")


def names_disagree(kind: str, names: list[str], counts: list[int]) -> bool:
    """Do the names on an identifier belong to different people?

    Name variants are grouped (:func:`name_groups`). For phones, emails and
    devices two groups suffice; for accounts, cards, IBANs and documents it
    takes three groups, or two groups each seen on two records or more."""
    groups = _groups(names)
    if len(groups) < 2:
        return False
    if kind in LOOSELY_HELD or len(groups) >= 3:
        return True
    sizes = [sum(counts[i] for i in g) for g in groups]
    return sum(1 for n in sizes if n >= 2) >= 2


def _groups(names: list[str]) -> list[list[int]]:
    parent = list(range(len(names)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in combinations(range(len(names)), 2):
        ri, rj = find(i), find(j)
        if ri != rj and names_compatible(names[i], names[j]):
            parent[rj] = ri
    out: dict[int, list[int]] = {}
    for i in range(len(names)):
        out.setdefault(find(i), []).append(i)
    return list(out.values())


def find_shared(con: duckdb.DuckDBPyConnection, max_names: int) -> int:
    """Rebuild ``shared_identifiers``; returns how many there are."""
    con.execute(T.SHARED_IDENTIFIERS.ddl())
    con.execute("DELETE FROM shared_identifiers")
    # (rid, kind, value) is unique in resolve_identifiers: count(*) counts records.
    # The name lists are built only for identifiers with two names or more.
    rows = con.execute(
        f"""
        WITH per_name AS (
          SELECT i.kind, i.value, r.name_sorted, count(*) AS n
          FROM resolve_identifiers i JOIN resolve_records r USING (rid)
          WHERE i.kind <> 'merchant'
          GROUP BY ALL
        ),
        named AS (
          SELECT kind, value FROM per_name GROUP BY kind, value HAVING count(name_sorted) >= 2
        )
        SELECT kind, value, sum(n) AS n_records, count(name_sorted) AS n_names,
               list(name_sorted ORDER BY n DESC, name_sorted)
                 FILTER (WHERE name_sorted IS NOT NULL)[1:{int(max_names) + 1}] AS names,
               list(n ORDER BY n DESC, name_sorted)
                 FILTER (WHERE name_sorted IS NOT NULL)[1:{int(max_names) + 1}] AS counts
        FROM per_name JOIN named USING (kind, value) GROUP BY kind, value
        """
    ).fetchall()
    shared = []
    for kind, value, n_records, n_names, names, counts in rows:
        if n_names > max_names:
            reason = "too_many_names"
        elif names_disagree(kind, names, counts):
            reason = "names_disagree"
        else:
            continue
        shared.append((kind, value, n_records, n_names, reason, ";".join(names[:5])))
    if shared:
        # one Arrow insert: executemany costs half a millisecond a row
        cols = list(zip(*shared, strict=True))
        tbl = pa.table(
            {
                "kind": pa.array(cols[0], pa.string()),
                "value": pa.array(cols[1], pa.string()),
                "n_records": pa.array(cols[2], pa.int64()),
                "n_names": pa.array(cols[3], pa.int64()),
                "reason": pa.array(cols[4], pa.string()),
                "names": pa.array(cols[5], pa.string()),
            }
        )
        con.register("_resolve_shared_arrow", tbl)
        con.execute("INSERT INTO shared_identifiers SELECT * FROM _resolve_shared_arrow")
        con.unregister("_resolve_shared_arrow")
    return len(shared)


def strong_links(con: duckdb.DuckDBPyConnection, *, only_new_from_rid: int = 0) -> int:
    """Write ``_resolve_strong(rid_l, rid_r, kind, value)``: a star of links per usable
    identifier (its first record to each other one). With ``only_new_from_rid``,
    only identifiers carried by at least one record numbered above it."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _resolve_strong AS
        WITH usable AS (
          SELECT i.rid, i.kind, i.value FROM resolve_identifiers i
          ANTI JOIN shared_identifiers s ON s.kind = i.kind AND s.value = i.value
        ),
        g AS (
          SELECT kind, value, min(rid) AS root FROM usable GROUP BY kind, value
          HAVING count(*) > 1 AND max(rid) > {int(only_new_from_rid)}
        )
        SELECT g.root AS rid_l, u.rid AS rid_r, u.kind, u.value
        FROM usable u JOIN g USING (kind, value)
        WHERE u.rid <> g.root
        """
    )
    row = con.execute("SELECT count(*) FROM _resolve_strong").fetchall()[0]
    return int(row[0]) if row else 0


SELF_TRANSFER_TYPES = ("withdrawal",)


def self_transfer_links(con: duckdb.DuckDBPyConnection, *, only_new_from_rid: int = 0) -> int:
    """Append to ``_resolve_strong`` a link (kind ``withdrawal``, value
    ``PROVIDER:RECORD_ID``) from the payer to the payee of every withdrawal whose
    two names are compatible. Returns the number of links added."""
    types = ", ".join(f"'{t}'" for t in SELF_TRANSFER_TYPES)
    rows = con.execute(
        f"""
        WITH w AS (SELECT provider, record_id, txn_type FROM transactions WHERE txn_type IN ({types}))
        SELECT f.rid, t.rid, w.txn_type, w.provider || ':' || w.record_id, f.name_sorted, t.name_sorted
        FROM w
        JOIN resolve_records t ON t.provider = w.provider AND t.record_id = w.record_id
          AND t.side = 'to' AND t.origin = 'party'
        JOIN resolve_records f ON f.provider = w.provider AND f.record_id = w.record_id
          AND f.side = 'from' AND f.origin = 'party'
        WHERE f.name_sorted IS NOT NULL AND t.name_sorted IS NOT NULL
          AND greatest(f.rid, t.rid) > {int(only_new_from_rid)}
        """
    ).fetchall()
    links = [
        (rid_f, rid_t, kind, value)
        for rid_f, rid_t, kind, value, name_f, name_t in rows
        if _person_name(name_f)
        and _person_name(name_t)
        and (name_f == name_t or names_compatible(name_f, name_t))
    ]
    if links:
        cols = list(zip(*links, strict=True))
        tbl = pa.table(
            {
                "rid_l": pa.array(cols[0], pa.int64()),
                "rid_r": pa.array(cols[1], pa.int64()),
                "kind": pa.array(cols[2], pa.string()),
                "value": pa.array(cols[3], pa.string()),
            }
        )
        con.register("_resolve_self_arrow", tbl)
        con.execute("INSERT INTO _resolve_strong SELECT * FROM _resolve_self_arrow")
        con.unregister("_resolve_self_arrow")
    return len(links)


def _person_name(name: str) -> bool:
    """A name with a number in it is an outlet or an agent ("cash express #27"), not a person."""
    return not any(ch.isdigit() for ch in name)


def blank_shared(con: duckdb.DuckDBPyConnection, *, from_rid: int = 0) -> None:
    """Shared phones, emails and documents say nothing about who someone is: blank
    them in ``resolve_records`` (records above ``from_rid``) so that the
    probabilistic model does not count them as evidence either.

    One UPDATE for the three columns (a CASE each): the table is written once, not three
    times (on Spark each UPDATE writes the whole table anew)."""
    kinds = ("phone", "email", "id_doc")
    shared = {k: f"r.{k} IN (SELECT value FROM shared_identifiers WHERE kind = '{k}')" for k in kinds}
    sets = ", ".join(f"{k} = CASE WHEN {shared[k]} THEN NULL ELSE r.{k} END" for k in kinds)
    con.execute(
        f"""
        UPDATE resolve_records r SET {sets}
        WHERE r.rid > {int(from_rid)} AND ({" OR ".join(shared.values())})
        """
    )


def merchant_name_links(
    con: duckdb.DuckDBPyConnection, root: Roots
) -> list[tuple[int, int, str, str]]:
    """Links ``(rid_merchant, rid_party, 'merchant_name', value)`` joining a merchant to the one
    subject that is paid under its exact name in its country.

    Merchants resolve by merchant id; but a charity or a supplier is also paid
    by bank transfer or wallet, as a payee with the same name ("Bahay Pag-asa
    Sponsorship", PH). When a name and country is held by exactly one merchant
    subject and exactly one other subject (after clustering, ``root``), and the
    name has two words or more, the two are one organisation. A name two
    merchants or two subjects hold links nothing.
    """
    con.register("_resolve_mn_groups", record_groups(root))
    # only a name and country a merchant holds can link: the records of those alone are
    # grouped, not every record with a name
    rows = con.execute(
        """
        WITH m AS (
          SELECT DISTINCT name_sorted, country FROM resolve_records
          WHERE origin = 'merchant' AND name_sorted IS NOT NULL AND country IS NOT NULL
            AND name_sorted LIKE '% %'
        ),
        x AS (
          SELECT r.rid, g.grp, r.origin = 'merchant' AS is_merchant, r.name_sorted, r.country
          FROM resolve_records r
          JOIN m ON m.name_sorted = r.name_sorted AND m.country = r.country
          JOIN _resolve_mn_groups g ON g.rid = r.rid
          WHERE r.origin <> 'referral'
        ),
        held AS (
          SELECT name_sorted, country,
                 count(DISTINCT grp) FILTER (WHERE is_merchant) AS n_merchants,
                 count(DISTINCT grp) FILTER (WHERE NOT is_merchant) AS n_others,
                 min(rid) FILTER (WHERE is_merchant) AS rid_m, min(rid) FILTER (WHERE NOT is_merchant) AS rid_p
          FROM x GROUP BY ALL
        )
        SELECT rid_m, rid_p, country || ':' || name_sorted FROM held
        WHERE n_merchants = 1 AND n_others = 1
        ORDER BY rid_m
        """
    ).fetchall()
    con.unregister("_resolve_mn_groups")
    return [(int(m), int(p), "merchant_name", str(v)) for m, p, v in rows]
