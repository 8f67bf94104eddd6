"""Link referral subjects to payment subjects.

Three paths, one row of ``referral_links`` each:

- ``resolve``: entity resolution put the referral subject in the same subject
  as payment records (shared email, phone, or name with date of birth);
- ``ip``: an IP address of the subject's IP events was used at an e-wallet's
  or remittance operator's web/app payment within the window (±24 h), and
  that IP is not shared (used by at most ``max_subjects_per_ip`` payment
  subjects in the whole store); beyond the window, up to
  ``personal_ip_window_days``, only a personal IP (one payment subject ever
  used it) links;
- ``device``: the IP is shared, but within the window exactly one device made
  payments from it, and that device is personal (used by at most
  ``max_subjects_per_device`` payment subjects).

The links are recomputed over the whole store on every run, so a referral
that matched nothing is kept (``unmatched``) and links as soon as a later
bundle brings its payments.
"""

from __future__ import annotations

import duckdb

from moneytrail.referrals import tables as T
from moneytrail.referrals.config import ReferralSettings, sql_list
from moneytrail.store import table_exists

# The evidence of a resolve link that no identifier or date of birth supports.
WEAK_RESOLVE = "resolved together (similar name and details)"

# Referral subjects, and the payment subjects (subjects with party records).
_PAYMENT_SUBJECT_RECORDS_SQL = """
SELECT sr.subject_id, p.provider, p.record_id, p.party, p.side
FROM subject_records sr
JOIN parties p ON p.provider = sr.provider AND p.record_id = sr.record_id AND p.party = sr.party
"""




def ensure_subject_records(con: duckdb.DuckDBPyConnection) -> None:
    """An empty subject_records when resolve has not run (links then come from IPs only)."""
    from moneytrail.resolve import tables as RT

    con.execute(RT.SUBJECT_RECORDS.ddl())


def _resolve_links(con: duckdb.DuckDBPyConnection) -> None:
    """Referral subjects that resolve put with payment records, and why."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ref_resolve AS
        WITH ref AS (
          SELECT sr.subject_id, s.provider, s.record_id, s.name_norm, s.dob
          FROM referral_subjects s
          JOIN subject_records sr ON sr.provider = s.provider AND sr.record_id = s.record_id
           AND sr.party = s.subject_ref
        ),
        pay AS (
          SELECT x.subject_id, x.provider, x.record_id, x.party
          FROM ({_PAYMENT_SUBJECT_RECORDS_SQL}) x
          WHERE x.subject_id IN (SELECT subject_id FROM ref)
        ),
        party_vals AS (
          SELECT pay.subject_id, p.email, p.phone_e164, p.name_norm, p.dob
          FROM pay JOIN parties p USING (provider, record_id, party)
        ),
        ids AS (
          SELECT DISTINCT r.provider, r.record_id, i.kind || '=' || i.value_norm AS ev
          FROM ref r
          JOIN referral_identifiers i ON i.provider = r.provider AND i.record_id = r.record_id
          JOIN party_vals v ON v.subject_id = r.subject_id
           AND ((i.kind = 'email' AND v.email = i.value_norm)
             OR (i.kind = 'phone' AND v.phone_e164 = i.value_norm))
          UNION ALL
          SELECT DISTINCT r.provider, r.record_id, 'name+dob=' || r.name_norm || ' ' || r.dob::VARCHAR
          FROM ref r JOIN party_vals v ON v.subject_id = r.subject_id
           AND r.dob IS NOT NULL AND v.dob = r.dob
           AND list_sort(string_split(v.name_norm, ' ')) = list_sort(string_split(r.name_norm, ' '))
        )
        SELECT r.provider AS referral_provider, r.record_id AS referral_record_id, r.subject_id,
               'resolve' AS via,
               coalesce((SELECT string_agg(ev, '; ' ORDER BY ev) FROM ids
                         WHERE ids.provider = r.provider AND ids.record_id = r.record_id),
                        '{WEAK_RESOLVE}') AS evidence
        FROM ref r
        WHERE r.subject_id IN (SELECT subject_id FROM pay)
        """
    )


def _ip_links(con: duckdb.DuckDBPyConnection, settings: ReferralSettings) -> None:
    """IP and device links, with the shared-IP and shared-device guards."""
    window_s = round(float(settings.ip_window_hours) * 3600)
    personal_s = round(float(settings.personal_ip_window_days) * 86400)
    reach_s = max(window_s, personal_s)
    channels = sql_list(settings.ip_channels)
    formats = sql_list(settings.ip_formats)
    # web/app payments at IPs some referral subject used, with the paying subject
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ref_ip_pay AS
        SELECT t.provider, t.record_id, t.ts_utc, trim(t.ip_address) AS ip,
               nullif(trim(t.device_id), '') AS device_id, x.subject_id
        FROM transactions t
        JOIN ({_PAYMENT_SUBJECT_RECORDS_SQL}) x
          ON x.provider = t.provider AND x.record_id = t.record_id AND x.side = 'from'
        WHERE t.format IN ({formats})
          AND (t.channel IS NULL OR lower(t.channel) IN ({channels}))
          AND t.ts_utc IS NOT NULL
          AND trim(t.ip_address) IN (SELECT DISTINCT trim(ip) FROM referral_ip_events
                                     WHERE ip IS NOT NULL AND at_utc IS NOT NULL)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ref_dev_pay AS
        SELECT t.provider, t.record_id, nullif(trim(t.device_id), '') AS device_id, x.subject_id
        FROM transactions t
        JOIN ({_PAYMENT_SUBJECT_RECORDS_SQL}) x
          ON x.provider = t.provider AND x.record_id = t.record_id AND x.side = 'from'
        WHERE t.format IN ({formats})
          AND (t.channel IS NULL OR lower(t.channel) IN ({channels}))
          AND nullif(trim(t.device_id), '') IN (SELECT device_id FROM _ref_ip_pay)
        """
    )
    con.execute(T.SHARED_IPS.ddl())
    con.execute("DELETE FROM referral_shared_ips")
    con.execute(
        f"""
        INSERT INTO referral_shared_ips
        SELECT 'ip', ip, count(DISTINCT subject_id) FROM _ref_ip_pay GROUP BY ip
        HAVING count(DISTINCT subject_id) > {int(settings.max_subjects_per_ip)}
        UNION ALL
        SELECT 'device', device_id, count(DISTINCT subject_id) FROM _ref_dev_pay GROUP BY device_id
        HAVING count(DISTINCT subject_id) > {int(settings.max_subjects_per_device)}
        ORDER BY 1, 2
        """
    )
    # referral IP events matched to payments within the window
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ref_ip_hits AS
        SELECT e.provider AS referral_provider, e.record_id AS referral_record_id,
               e.ip, e.at_utc, coalesce(e.event, 'event') AS event,
               p.provider, p.record_id, p.ts_utc, p.device_id, p.subject_id,
               abs(date_diff('second', e.at_utc, p.ts_utc)) AS gap_s,
               e.ip IN (SELECT value FROM referral_shared_ips WHERE kind = 'ip') AS ip_shared,
               e.ip IN (SELECT ip FROM _ref_ip_pay GROUP BY ip
                        HAVING count(DISTINCT subject_id) = 1) AS ip_personal
        FROM (SELECT provider, record_id, trim(ip) AS ip, at_utc, event FROM referral_ip_events
              WHERE ip IS NOT NULL AND at_utc IS NOT NULL) e
        JOIN _ref_ip_pay p ON p.ip = e.ip
         AND p.ts_utc BETWEEN e.at_utc - INTERVAL ({reach_s}) SECOND
                          AND e.at_utc + INTERVAL ({reach_s}) SECOND
        """
    )
    evidence = (
        "'{kind} ' || {value} || ' at ' || strftime(at_utc, '%Y-%m-%d %H:%M') || ' (' || event || ')"
        " ~ payment ' || provider || ':' || record_id || ' at ' || strftime(ts_utc, '%Y-%m-%d %H:%M')"
        " || ', ' || CASE WHEN gap_s < 5400 THEN CAST(round(gap_s / 60.0) AS BIGINT) || ' min'"
        " WHEN gap_s < 172800 THEN round(gap_s / 3600.0, 1) || ' h'"
        " ELSE CAST(round(gap_s / 86400.0) AS BIGINT) || ' days' END || ' apart'"
        f" || CASE WHEN gap_s > {window_s} THEN ', personal ip (one payment subject ever used it)'"
        " ELSE '' END"
    )
    ip_ev = evidence.format(kind="ip", value="ip")
    dev_ev = evidence.format(kind="device", value="device_id || ' on shared ip ' || ip")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ref_ip_links AS
        WITH ip_hits AS (
          SELECT * FROM _ref_ip_hits
          WHERE (NOT ip_shared AND gap_s <= {window_s}) OR (ip_personal AND gap_s <= {personal_s})
        ),
        ip_best AS (
          SELECT referral_provider, referral_record_id, subject_id,
                 arg_min({ip_ev}, gap_s) AS ev, count(*) AS n
          FROM ip_hits GROUP BY ALL
        ),
        -- behind a shared IP: one personal device in the window around the event
        dev_events AS (
          SELECT referral_provider, referral_record_id, ip, at_utc
          FROM _ref_ip_hits WHERE ip_shared AND gap_s <= {window_s}
          GROUP BY ALL
          HAVING count(DISTINCT device_id) = 1 AND count(*) = count(device_id)
        ),
        dev_hits AS (
          SELECT h.* FROM _ref_ip_hits h
          JOIN dev_events d USING (referral_provider, referral_record_id, ip, at_utc)
          WHERE h.gap_s <= {window_s} AND h.device_id NOT IN (SELECT value FROM referral_shared_ips WHERE kind = 'device')
        ),
        dev_best AS (
          SELECT referral_provider, referral_record_id, subject_id,
                 arg_min({dev_ev}, gap_s) AS ev, count(*) AS n
          FROM dev_hits GROUP BY ALL
        )
        SELECT referral_provider, referral_record_id, subject_id, 'ip' AS via,
               ev || CASE WHEN n > 1 THEN ' (+' || (n - 1) || ' more)' ELSE '' END AS evidence
        FROM ip_best
        UNION ALL
        SELECT referral_provider, referral_record_id, subject_id, 'device',
               ev || CASE WHEN n > 1 THEN ' (+' || (n - 1) || ' more)' ELSE '' END
        FROM dev_best
        """
    )


def link_referrals(
    con: duckdb.DuckDBPyConnection, settings: ReferralSettings | None = None
) -> dict[str, int]:
    """Rebuild ``referral_links`` (and ``referral_shared_ips``) over the whole store.

    Returns rows per path (``via``)."""
    settings = settings or ReferralSettings()
    ensure_subject_records(con)
    _resolve_links(con)
    _ip_links(con, settings)
    con.execute(T.REFERRAL_LINKS.ddl())
    con.execute("DELETE FROM referral_links")
    con.execute(
        """
        INSERT INTO referral_links
        SELECT * FROM (SELECT * FROM _ref_resolve UNION ALL SELECT * FROM _ref_ip_links)
        ORDER BY referral_provider, referral_record_id, subject_id,
                 CASE via WHEN 'resolve' THEN 0 WHEN 'ip' THEN 1 ELSE 2 END
        """
    )
    for name in ("_ref_resolve", "_ref_ip_pay", "_ref_dev_pay", "_ref_ip_hits", "_ref_ip_links"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    rows = con.execute("SELECT via, count(*) FROM referral_links GROUP BY via").fetchall()
    return {str(v): int(n) for v, n in rows}


UNMATCHED_SQL = """
SELECT s.provider, s.record_id, s.report_id, s.platform, s.role, s.account_id, s.screen_name,
       s.display_name, r.incident_type, r.submitted_at,
       (SELECT count(*) FROM referral_identifiers i
         WHERE i.provider = s.provider AND i.record_id = s.record_id) AS n_identifiers,
       (SELECT count(*) FROM referral_ip_events e
         WHERE e.provider = s.provider AND e.record_id = s.record_id) AS n_ip_events
FROM referral_subjects s
LEFT JOIN referrals r ON r.provider = s.provider AND r.record_id = s.report_id
WHERE NOT EXISTS (SELECT 1 FROM referral_links l WHERE l.referral_provider = s.provider
                  AND l.referral_record_id = s.record_id)
ORDER BY s.provider, s.report_id, s.record_id
"""


def unmatched(con: duckdb.DuckDBPyConnection) -> list[dict[str, object]]:
    """Referral subjects linked to no payment subject (kept, waiting for payments)."""
    if not table_exists(con, "referral_links", temporary=False):
        con.execute(T.REFERRAL_LINKS.ddl())
    cur = con.execute(UNMATCHED_SQL)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
