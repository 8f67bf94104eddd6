"""Pivot from a platform account, an email or a phone to the money.

``pivot(con, kind, value)`` returns one dict (JSON-ready: strings, numbers,
lists) that the command line prints and the API serves:

- ``query``: the kind, the value as given and as normalised;
- ``referral_subjects``: the referral accounts that carry it, with their links;
- ``subjects``: the linked payment subjects (names, countries, how linked);
- ``payments``: their payments, sent and received, newest first, with any
  aligned session;
- ``facilitators``: whom they paid (merchants left out), where those
  facilitators collect (payout city, agent, country), and the other consumers
  who paid the same facilitators.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import duckdb

from moneytrail.errors import UserError
from moneytrail.normalise import normalise_email, normalise_phone
from moneytrail.referrals import tables as T
from moneytrail.referrals.linking import ensure_subject_records

KINDS = ("account", "email", "phone")


def _value(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.isoformat(timespec="seconds")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, float):
        return round(v, 2)
    return v


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [{c: _value(v) for c, v in zip(cols, row, strict=True)} for row in cur.fetchall()]


def normalise_query(kind: str, value: str) -> str:
    """The value as stored: ``PLATFORM:ACCOUNT``, a lower-case email, an E.164 phone."""
    value = value.strip()
    if kind == "email":
        return normalise_email(value) or value.lower()
    if kind == "phone":
        norm = normalise_phone(value, None)
        if norm is None and not value.startswith(("+", "00")):
            norm = normalise_phone("+" + value, None)
        if norm is None:
            raise UserError(
                f"cannot read the phone number {value!r}; write it in international form, "
                "for example +63 917 555 0101"
            )
        return norm
    if kind == "account":
        return value
    raise UserError(f"unknown pivot kind {kind!r}; use one of {', '.join(KINDS)}")


def _find_referral_subjects(con: duckdb.DuckDBPyConnection, kind: str, norm: str) -> None:
    if kind == "account":
        platform, sep, account = norm.partition(":")
        if not sep:
            platform, account = "", norm
        where = "s.account_id = ?" + (
            " AND (lower(s.platform) = lower(?) OR lower(s.provider) = lower(?))" if platform else ""
        )
        params: list[Any] = [account] + ([platform, platform] if platform else [])
    else:
        where = (
            "EXISTS (SELECT 1 FROM referral_identifiers i WHERE i.provider = s.provider "
            "AND i.record_id = s.record_id AND i.kind = ? AND i.value_norm = ?)"
        )
        params = [kind, norm]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _pv_refs AS SELECT s.* FROM referral_subjects s WHERE {where}",
        params,
    )


def _find_subjects(con: duckdb.DuckDBPyConnection, kind: str, norm: str) -> None:
    direct = ""
    params: list[Any] = []
    if kind in ("email", "phone"):
        col = "p.email" if kind == "email" else "p.phone_e164"
        direct = f"""
        UNION ALL
        SELECT DISTINCT sr.subject_id, 'identifier' AS via, '{kind}=' || ? AS evidence,
               NULL AS referral_provider, NULL AS referral_record_id
        FROM parties p JOIN subject_records sr ON sr.provider = p.provider
         AND sr.record_id = p.record_id AND sr.party = p.party
        WHERE {col} = ?
        """
        params = [norm, norm]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _pv_links AS
        SELECT l.subject_id, l.via, l.evidence, l.referral_provider, l.referral_record_id
        FROM referral_links l JOIN _pv_refs r ON r.provider = l.referral_provider
         AND r.record_id = l.referral_record_id
        {direct}
        """,
        params,
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pv_subjects AS SELECT DISTINCT subject_id FROM _pv_links
        """
    )


_SIDES_SQL = """
SELECT sr.subject_id, p.provider, p.record_id, p.party, p.side, p.name, p.city, p.country,
       (p.party = 'merchant' OR coalesce(p.account_kind, '') = 'merchant') AS is_merchant
FROM parties p
JOIN subject_records sr ON sr.provider = p.provider AND sr.record_id = p.record_id
 AND sr.party = p.party
"""


def _subject_summaries(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, dict[str, Any]]:
    rows = _rows(
        con,
        f"""
        WITH s AS ({_SIDES_SQL} WHERE sr.subject_id IN (SELECT subject_id FROM {table}))
        SELECT s.subject_id,
               list(DISTINCT s.name ORDER BY s.name) FILTER (WHERE s.name IS NOT NULL)[1:5] AS names,
               list(DISTINCT s.country ORDER BY s.country) FILTER (WHERE s.country IS NOT NULL) AS countries,
               count(*) FILTER (WHERE s.side = 'from') AS n_sent,
               round(coalesce(sum(t.amount_usd) FILTER (WHERE s.side = 'from'), 0), 2) AS usd_sent,
               count(*) FILTER (WHERE s.side = 'to') AS n_received,
               round(coalesce(sum(t.amount_usd) FILTER (WHERE s.side = 'to'), 0), 2) AS usd_received
        FROM s JOIN transactions t ON t.provider = s.provider AND t.record_id = s.record_id
        GROUP BY s.subject_id ORDER BY s.subject_id
        """,
    )
    return {str(r["subject_id"]): r for r in rows}


def pivot(
    con: duckdb.DuckDBPyConnection, kind: str, value: str, *, limit: int = 200
) -> dict[str, Any]:
    """Everything the store knows around one platform account, email or phone.

    ``kind`` is ``account`` (value ``PLATFORM:ACCOUNT_ID``; the platform may be
    the platform's name or the provider; without ``PLATFORM:`` any platform),
    ``email`` or ``phone`` (any notation; international form for phones).
    Lists are capped at ``limit`` rows; ``truncated`` says which were cut.
    Reads ``referral_links`` (run the referral stage first).
    """
    norm = normalise_query(kind, value)
    ensure_subject_records(con)
    con.execute(T.REFERRAL_LINKS.ddl())
    con.execute(T.ALIGNED_PAYMENTS.ddl())
    _find_referral_subjects(con, kind, norm)
    _find_subjects(con, kind, norm)
    lim = int(limit)
    truncated: list[str] = []

    refs = _rows(
        con,
        """
        SELECT r.provider, r.record_id, r.report_id, r.platform, r.role, r.account_id,
               r.screen_name, r.display_name, r.dob, r.country, f.incident_type, f.submitted_at,
               (SELECT list(i.value ORDER BY i.kind, i.value) FROM referral_identifiers i
                 WHERE i.provider = r.provider AND i.record_id = r.record_id) AS identifiers,
               (SELECT list({'ip': e.ip, 'at_utc': strftime(e.at_utc, '%Y-%m-%dT%H:%M:%S'),
                             'event': e.event} ORDER BY e.seq)
                  FROM referral_ip_events e
                 WHERE e.provider = r.provider AND e.record_id = r.record_id) AS ip_events
        FROM _pv_refs r LEFT JOIN referrals f ON f.provider = r.provider AND f.record_id = r.report_id
        ORDER BY r.provider, r.record_id
        """,
    )
    links = _rows(
        con,
        "SELECT * FROM _pv_links ORDER BY subject_id, via, referral_provider, referral_record_id",
    )
    for ref in refs:
        ref["links"] = [
            {"subject_id": lk["subject_id"], "via": lk["via"], "evidence": lk["evidence"]}
            for lk in links
            if lk["referral_provider"] == ref["provider"] and lk["referral_record_id"] == ref["record_id"]
        ]
        ref["ip_events"] = ref["ip_events"] or []
        ref["identifiers"] = ref["identifiers"] or []

    summaries = _subject_summaries(con, "_pv_subjects")
    subjects = []
    for sid in sorted(summaries):
        s = dict(summaries[sid])
        s["linked_via"] = sorted({str(lk["via"]) for lk in links if lk["subject_id"] == sid})
        subjects.append(s)

    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _pv_pay AS
        WITH mine AS ({_SIDES_SQL} WHERE sr.subject_id IN (SELECT subject_id FROM _pv_subjects)),
        other AS ({_SIDES_SQL})
        SELECT DISTINCT m.subject_id, m.side AS role_side, t.provider, t.record_id, t.ts_utc,
               t.amount, t.currency, t.amount_usd, t.channel, t.payout_method, t.payout_agent_id,
               t.receiver_country,
               o.subject_id AS counterparty_subject_id, o.name AS counterparty_name,
               o.city AS counterparty_city, o.country AS counterparty_country, o.is_merchant
        FROM mine m
        JOIN transactions t ON t.provider = m.provider AND t.record_id = m.record_id
        LEFT JOIN other o ON o.provider = m.provider AND o.record_id = m.record_id
         AND o.side <> m.side
        """
    )
    n_pay = int(con.execute("SELECT count(*) FROM _pv_pay").fetchall()[0][0])
    if n_pay > lim:
        truncated.append("payments")
    payments = _rows(
        con,
        f"""
        SELECT p.subject_id, CASE p.role_side WHEN 'from' THEN 'sent' ELSE 'received' END AS direction,
               p.provider, p.record_id, p.ts_utc, p.amount, p.currency, p.amount_usd, p.channel,
               p.counterparty_subject_id, p.counterparty_name, p.counterparty_city,
               p.counterparty_country, p.payout_method, p.payout_agent_id,
               (SELECT list({{'referral_provider': a.referral_provider, 'report_id': a.report_id,
                              'session_seq': a.session_seq, 'order': a."order",
                              'gap_minutes': a.gap_minutes}})
                  FROM aligned_payments a
                 WHERE a.provider = p.provider AND a.record_id = p.record_id) AS aligned_sessions
        FROM _pv_pay p
        ORDER BY p.ts_utc DESC NULLS LAST, p.provider, p.record_id
        LIMIT {lim}
        """,
    )
    for p in payments:
        p["aligned_sessions"] = p["aligned_sessions"] or []

    # facilitators: whom the linked subjects paid (merchants left out)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _pv_fac AS
        SELECT counterparty_subject_id AS subject_id, count(DISTINCT (provider, record_id)) AS n_paid,
               round(sum(amount_usd), 2) AS usd_paid
        FROM (SELECT DISTINCT provider, record_id, counterparty_subject_id, amount_usd FROM _pv_pay
              WHERE role_side = 'from' AND NOT coalesce(is_merchant, FALSE)
                AND counterparty_subject_id IS NOT NULL
                AND counterparty_subject_id NOT IN (SELECT subject_id FROM _pv_subjects))
        GROUP BY 1
        """
    )
    fac_summ = _subject_summaries(con, "_pv_fac")
    fac_rows = _rows(con, f"SELECT * FROM _pv_fac ORDER BY usd_paid DESC, subject_id LIMIT {lim}")
    places = _rows(
        con,
        f"""
        WITH s AS ({_SIDES_SQL} WHERE sr.subject_id IN (SELECT subject_id FROM _pv_fac)
                   AND p.side = 'to')
        SELECT s.subject_id, upper(trim(s.city)) AS payout_city, t.payout_agent_id,
               coalesce(t.receiver_country, s.country) AS payout_country,
               count(*) AS n, round(sum(t.amount_usd), 2) AS usd,
               max(t.paid_out_at) AS last_paid_out_at
        FROM s JOIN transactions t ON t.provider = s.provider AND t.record_id = s.record_id
        GROUP BY ALL ORDER BY s.subject_id, n DESC, payout_city NULLS LAST, payout_agent_id NULLS LAST
        """,
    )
    others = _rows(
        con,
        f"""
        WITH s AS ({_SIDES_SQL} WHERE sr.subject_id IN (SELECT subject_id FROM _pv_fac)
                   AND p.side = 'to'),
        payer AS ({_SIDES_SQL} WHERE p.side = 'from')
        SELECT s.subject_id AS facilitator, y.subject_id,
               list(DISTINCT y.name ORDER BY y.name) FILTER (WHERE y.name IS NOT NULL)[1:3] AS names,
               list(DISTINCT y.country ORDER BY y.country) FILTER (WHERE y.country IS NOT NULL) AS countries,
               count(DISTINCT (t.provider, t.record_id)) AS n_payments, round(sum(t.amount_usd), 2) AS usd,
               y.subject_id IN (SELECT subject_id FROM referral_links) AS has_referral
        FROM s JOIN payer y ON y.provider = s.provider AND y.record_id = s.record_id
        JOIN transactions t ON t.provider = s.provider AND t.record_id = s.record_id
        WHERE y.subject_id NOT IN (SELECT subject_id FROM _pv_subjects)
        GROUP BY s.subject_id, y.subject_id
        ORDER BY s.subject_id, usd DESC, y.subject_id
        """,
    )
    facilitators = []
    for f in fac_rows:
        sid = str(f["subject_id"])
        summ = fac_summ.get(sid, {})
        mine_places = [
            {k: v for k, v in p.items() if k != "subject_id"} for p in places if p["subject_id"] == sid
        ]
        mine_others = [
            {k: v for k, v in o.items() if k != "facilitator"} for o in others if o["facilitator"] == sid
        ]
        if len(mine_others) > lim:
            truncated.append(f"other_consumers of {sid}")
        facilitators.append(
            {
                "subject_id": sid,
                "names": summ.get("names") or [],
                "countries": summ.get("countries") or [],
                "n_paid_by_these_subjects": f["n_paid"],
                "usd_paid_by_these_subjects": f["usd_paid"],
                "n_received_in_all": summ.get("n_received", 0),
                "usd_received_in_all": summ.get("usd_received", 0.0),
                "collection_places": mine_places[:lim],
                "other_consumers": mine_others[:lim],
            }
        )
    for name in ("_pv_refs", "_pv_links", "_pv_subjects", "_pv_pay", "_pv_fac"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return {
        "query": {"kind": kind, "value": value, "normalised": norm},
        "referral_subjects": refs,
        "subjects": subjects,
        "payments": payments,
        "n_payments": n_pay,
        "facilitators": facilitators,
        "truncated": truncated,
    }

