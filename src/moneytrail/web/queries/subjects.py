"""A subject page: who it is across providers, why it scored, what it did over time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from moneytrail.indicators import load_catalogue
from moneytrail.scoring.model import ModelSet, load_models
from moneytrail.web.queries import NotFound
from moneytrail.web.queries.alerts import split_reasons
from moneytrail.web.queries.reader import WarehouseReader, one, rows

RECORDS_PER_PROVIDER = 50


def _collect(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, subject_id: str) -> None:
    """The subject's parties and transactions as small temporary tables, from the read cache
    (sorted by subject: a row group or two read, whatever the ledger's size)."""
    con.execute("CREATE OR REPLACE TEMP TABLE _s_party AS SELECT * FROM web_sp WHERE subject_id = ?", [subject_id])
    con.execute("CREATE OR REPLACE TEMP TABLE _s_tx AS SELECT * FROM web_st WHERE subject_id = ?", [subject_id])


def _models(reader: WarehouseReader) -> ModelSet:
    return reader.cached("models", lambda: load_models(None))


def subject_detail(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, subject_id: str) -> dict[str, Any]:
    reader.require("subject_scores", "subject_records")
    base = one(con, """SELECT subject_id, role, score, flagged, reasons, score_consumer, score_facilitator,
                              score_intermediary FROM subject_scores WHERE subject_id = ?""", [subject_id])
    if base is None:
        raise NotFound(f"no subject {subject_id!r} in this warehouse; subject ids look like S000123")
    _collect(reader, con, subject_id)
    facts = one(con, "SELECT name, community_id FROM web_subjects WHERE subject_id = ?", [subject_id]) or {}
    prior = None
    if reader.has("network_prior_subject_scores"):
        got = one(con, "SELECT score FROM network_prior_subject_scores WHERE subject_id = ?", [subject_id])
        prior = got["score"] if got else None
    out: dict[str, Any] = {
        "subject_id": subject_id,
        "name": facts.get("name"),
        "role": base["role"] or "none",
        "score": base["score"] or 0.0,
        "flagged": bool(base["flagged"]),
        "reasons": split_reasons(base["reasons"]),
        "role_scores": {r: base[f"score_{r}"] or 0.0 for r in ("consumer", "facilitator", "intermediary")},
        "score_before_network": prior,
        "countries": [r["country"] for r in rows(con, """SELECT country, count(*) AS n FROM _s_party
                      WHERE country IS NOT NULL GROUP BY 1 ORDER BY n DESC, country""")],
        "identifiers": identifiers(con),
        "records_by_provider": records_by_provider(con),
        "indicators": indicators(reader, con, subject_id, base["role"] or "none"),
        "monthly": rows(con, """SELECT strftime(ts_utc, '%Y-%m') AS month, max(coalesce(s.score, 0)) AS max_score,
                                       count(*) AS payments, sum(coalesce(s.flagged, 0)) AS flagged,
                                       coalesce(sum(amount_usd), 0) AS total_usd
                                FROM _s_tx s WHERE ts_utc IS NOT NULL GROUP BY 1 ORDER BY 1"""),
        "network": network_facts(reader, con, subject_id),
        "community_id": facts.get("community_id"),
        "referrals": referral_links(reader, con, subject_id),
    }
    return out


IDENTIFIERS_SQL = """
WITH ids AS (
    SELECT 'name' AS kind, name AS value, provider FROM _s_party WHERE name IS NOT NULL
    UNION ALL SELECT 'email', email, provider FROM _s_party WHERE email IS NOT NULL
    UNION ALL SELECT 'phone', phone, provider FROM _s_party WHERE phone IS NOT NULL
    UNION ALL SELECT 'account', account, provider FROM _s_party WHERE account IS NOT NULL
    UNION ALL SELECT 'dob', CAST(dob AS VARCHAR), provider FROM _s_party WHERE dob IS NOT NULL
    UNION ALL SELECT 'address', concat_ws(', ', address, city, country), provider FROM _s_party
        WHERE address IS NOT NULL
    UNION ALL SELECT 'id_document', concat_ws(' ', id_type, id_number), provider FROM _s_party
        WHERE id_number IS NOT NULL
    UNION ALL SELECT 'device', device_id, provider FROM _s_tx WHERE device_id IS NOT NULL AND direction = 'sent'
    UNION ALL SELECT 'ip', ip_address, provider FROM _s_tx WHERE ip_address IS NOT NULL AND direction = 'sent'
)
SELECT kind, value, list(DISTINCT provider ORDER BY provider) AS providers, count(*) AS records
FROM ids GROUP BY kind, value ORDER BY kind, records DESC, value LIMIT 1000
"""


def identifiers(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return rows(con, IDENTIFIERS_SQL)


def records_by_provider(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    got = rows(con, f"""
        WITH r AS (
            SELECT p.provider, p.record_id, p.party, p.side, p.name, p.country, p.account, t.ts_utc, t.amount_usd,
                   row_number() OVER (PARTITION BY p.provider ORDER BY t.ts_utc DESC NULLS LAST, p.record_id) AS k,
                   count(*) OVER (PARTITION BY p.provider) AS n
            FROM _s_party p LEFT JOIN _s_tx t USING (trow))
        SELECT * FROM r WHERE k <= {RECORDS_PER_PROVIDER} ORDER BY n DESC, provider, k""")
    out: dict[str, dict[str, Any]] = {}
    for r in got:
        g = out.setdefault(r["provider"], {"provider": r["provider"], "records": r["n"], "items": []})
        g["items"].append({k: r[k] for k in ("record_id", "party", "side", "name", "country", "account",
                                             "ts_utc", "amount_usd")})
    return list(out.values())


def _sources(ind: Any) -> list[dict[str, Any]]:
    return [s.model_dump() for s in ind.source_refs]


def indicators(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, subject_id: str, role: str
               ) -> list[dict[str, Any]]:
    """What raised the score: the same contributions `moneytrail explain --subject` prints."""
    if not reader.has("mt_subf", "subject_indicators"):
        return []
    models = _models(reader)
    model = models.subject.get(role if role != "none" else "consumer") or models.subject["consumer"]
    cur = con.execute("SELECT * FROM mt_subf WHERE subject_id = ?", [subject_id])
    cols = [d[0] for d in cur.description]
    row = cur.fetchone()
    if row is None:
        return []
    feats = dict(zip(cols, row, strict=True))
    vals = {r[0]: (r[1], r[2]) for r in con.execute(
        "SELECT indicator_id, value, threshold FROM web_si WHERE subject_id = ?", [subject_id]).fetchall()}
    out = []
    for ind in load_catalogue().indicators:
        if ind.level == "transaction":
            v = float(feats.get(f"share_{ind.id}") or 0.0)
            if v <= 0:
                continue
            weight = model.weight_of(f"share_{ind.id}") * v
            value, thr = f"{v:.0%} of its transactions", "fires on the transaction"
        elif int(feats.get(f"f_{ind.id}") or 0) == 1:
            value, thr = vals.get(ind.id, ("", ""))
            weight = model.weight_of(f"f_{ind.id}")
        else:
            continue
        out.append({"id": ind.id, "title": ind.title, "level": ind.level, "value": str(value or ""),
                    "threshold": str(thr or ""), "weight": round(float(weight), 4), "sources": _sources(ind),
                    "cite": ind.cite()})
    return sorted(out, key=lambda r: -r["weight"])


def network_facts(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, subject_id: str
                  ) -> dict[str, float | int | str | None]:
    out: dict[str, Any] = {}
    if reader.has("network_features"):
        out |= one(con, "SELECT * EXCLUDE (subject_id) FROM web_nf WHERE subject_id = ?", [subject_id]) or {}
    if reader.has("network_roles"):
        got = one(con, """SELECT role AS network_role, p_consumer, p_facilitator, p_intermediary,
                                 reasons AS network_reasons FROM network_roles WHERE subject_id = ?""", [subject_id])
        out |= got or {}
    return {k: (v if isinstance(v, (int, float, str)) or v is None else str(v)) for k, v in out.items()}


def referral_links(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, subject_id: str) -> list[dict[str, Any]]:
    if not reader.has("referral_links", "referral_subjects"):
        return []
    return rows(con, """
        SELECT l.referral_provider, l.referral_record_id, s.platform, s.account_id, l.via, l.evidence
        FROM referral_links l LEFT JOIN referral_subjects s
          ON s.provider = l.referral_provider AND s.record_id = l.referral_record_id
        WHERE l.subject_id = ? ORDER BY l.referral_record_id, l.via""", [subject_id])


def exists(con: duckdb.DuckDBPyConnection, subject_id: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM web_subjects WHERE subject_id = ?", [subject_id]).fetchall()[0][0])


def timeline(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, subject_id: str,
             since: datetime | None, until: datetime | None, limit: int) -> dict[str, Any]:
    """Payments and the platform sessions and logins of linked referral accounts, on one time axis;
    beyond `limit` events the oldest are left out."""
    if not exists(con, subject_id):
        raise NotFound(f"no subject {subject_id!r} in this warehouse")
    _collect(reader, con, subject_id)
    window = []
    params: list[Any] = []
    if since:
        window.append('"at" >= ?')
        params.append(since)
    if until:
        window.append('"at" <= ?')
        params.append(until)
    cond = " AND ".join(window) or "true"
    pay = rows(con, f"""
        SELECT * FROM (
            SELECT 'payment' AS kind, ts_utc AS "at", provider, record_id, direction, amount_usd,
                   CASE direction WHEN 'sent' THEN receiver.subject_id ELSE sender.subject_id END
                       AS counterparty_subject_id, score, flagged
            FROM _s_tx)
        WHERE "at" IS NOT NULL AND {cond}
        ORDER BY "at" DESC LIMIT ?""", [*params, limit + 1])
    events: list[dict[str, Any]] = []
    for p in pay:
        p["flagged"] = None if p["flagged"] is None else bool(p["flagged"])
        amount = f"{p['amount_usd']:.2f} USD" if p["amount_usd"] is not None else "payment"
        p["label"] = f"{p['direction']} {amount}" + (f" {'to' if p['direction'] == 'sent' else 'from'} "
                                                      f"{p['counterparty_subject_id']}" if p["counterparty_subject_id"] else "")
        events.append(p)
    truncated = len(events) > limit
    if reader.has("referral_links", "referral_sessions"):
        events += _sessions(reader, con, subject_id, cond, params, limit)
    events.sort(key=lambda e: e["at"])
    truncated = truncated or len(events) > limit
    return {"subject_id": subject_id, "events": events[-limit:], "truncated": truncated}  # the newest


def _sessions(reader: WarehouseReader, con: duckdb.DuckDBPyConnection, subject_id: str, cond: str,
              params: list[Any], limit: int) -> list[dict[str, Any]]:
    con.execute("""CREATE OR REPLACE TEMP TABLE _s_ref AS SELECT DISTINCT referral_provider AS provider,
                   referral_record_id AS record_id FROM referral_links WHERE subject_id = ?""", [subject_id])
    aligned = "[]::VARCHAR[]"
    if reader.has("aligned_payments"):
        aligned = """coalesce((SELECT list(a.provider || ':' || a.record_id ORDER BY a.provider, a.record_id)
                      FROM aligned_payments a JOIN _s_tx x USING (provider, record_id)
                      WHERE a.referral_provider = s.provider AND a.report_id = s.report_id
                        AND a.session_seq = s.seq), [])"""
    sessions = rows(con, f"""
        SELECT * FROM (
            SELECT 'session' AS kind, s.start_utc AS "at", s.end_utc AS "end", r.platform, s.report_id,
                   s.seq AS session_seq, s.kind AS session_kind, {aligned} AS aligned_with,
                   s.from_record_id, s.to_record_id
            FROM referral_sessions s JOIN referrals r ON r.provider = s.provider AND r.record_id = s.report_id
            WHERE EXISTS (SELECT 1 FROM _s_ref f WHERE f.provider = s.provider
                          AND f.record_id IN (s.from_record_id, s.to_record_id)))
        WHERE "at" IS NOT NULL AND {cond} ORDER BY "at" DESC LIMIT ?""", [*params, limit + 1])
    for s in sessions:
        s["label"] = f"{s['session_kind'] or 'session'} {s.pop('from_record_id')} -> {s.pop('to_record_id')}"
    logins: list[dict[str, Any]] = []
    if reader.has("referral_ip_events", "referral_subjects"):
        logins = rows(con, f"""
            SELECT * FROM (
                SELECT 'login' AS kind, e.at_utc AS "at", s.platform, s.report_id, e.event, e.ip
                FROM referral_ip_events e JOIN _s_ref f USING (provider, record_id)
                JOIN referral_subjects s USING (provider, record_id))
            WHERE "at" IS NOT NULL AND {cond} ORDER BY "at" DESC LIMIT ?""", [*params, limit + 1])
        for e in logins:
            e["label"] = f"{e.pop('event') or 'login'} from {e.pop('ip')}"
    return sessions + logins
