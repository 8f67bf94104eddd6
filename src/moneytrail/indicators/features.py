"""The feature layer: plain SQL over the canonical tables and ``subject_records``.

``mt_tx``   one row per transaction: both sides' names, subjects, flags the
            indicators test (p2p, cross-border, high-risk corridor...).
``mt_subj`` one row per subject: aggregates of its paying side (s.) and its
            paid side (r.) that the sender- and receiver-level indicators test.

DuckDB dialect kept to functions SQLGlot maps to Spark (no Python UDFs).
"""

from __future__ import annotations

import duckdb

from moneytrail.indicators.config import ScoringConfig
from moneytrail.store import table_exists

P2P_TYPES = "('transfer', 'send_money', 'credit_transfer', 'card_transfer', 'payment')"
TRAVEL_MCC = "(mcc_n BETWEEN 3000 AND 3999 OR mcc_n IN (4511, 4722, 7011, 4411, 4112))"
MAX_COPAY_RECEIVERS = 50  # a sender paying more receivers than this is not a consumer (business, payroll)
REPORT_INCIDENTS = "('live_streaming_abuse', 'solicitation')"


def _quote(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)




def build_names(con: duckdb.DuckDBPyConnection) -> None:
    """mt_names(name_norm, origin): the surname-origin class of each distinct name."""
    con.execute("""
        CREATE OR REPLACE TABLE mt_names AS
        WITH tok AS (
            SELECT name_norm, unnest(string_split(name_norm, ' ')) AS token
            FROM (SELECT DISTINCT name_norm FROM parties WHERE name_norm IS NOT NULL)
        ), hits AS (
            SELECT tok.name_norm, l.origin, count(*) AS n
            FROM tok JOIN mt_lex_surname l ON l.token = tok.token
            GROUP BY tok.name_norm, l.origin
        )
        -- the most frequent origin; a tie goes to the first origin by name, so that
        -- every engine and thread count picks the same one
        SELECT name_norm, origin FROM (
            SELECT name_norm, origin, row_number() OVER (PARTITION BY name_norm ORDER BY n DESC, origin) AS k
            FROM hits
        ) WHERE k = 1
    """)


def build_tx(con: duckdb.DuckDBPyConnection, cfg: ScoringConfig) -> None:
    """mt_tx (a view, materialised once as mt_txi): one row per transaction with the columns the indicators test (alias t)."""
    hr = _quote(cfg.high_risk_countries)
    subj = table_exists(con, "subject_records")
    sr_join = (
        "LEFT JOIN subject_records sr ON sr.provider = p.provider AND sr.record_id = p.record_id AND sr.party = p.party"
        if subj else ""
    )
    sr_id = "sr.subject_id" if subj else "CAST(NULL AS VARCHAR)"
    # platform evidence, when the referrals stage has run
    rf = table_exists(con, "referral_txn_features")
    rf_join = "LEFT JOIN referral_txn_features rf ON rf.provider = t.provider AND rf.record_id = t.record_id" if rf else ""
    rf_cols = (
        "coalesce(rf.aligned_session, 0) = 1 AS aligned_session, coalesce(rf.login_time_match, 0) = 1 AS login_time_match"
        if rf else "FALSE AS aligned_session, FALSE AS login_time_match"
    )
    old = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'mt_tx'").fetchone()
    if old and old[0]:
        con.execute("DROP TABLE mt_tx")  # left by an older version

    def pick(col: str) -> str:  # the to side: the beneficiary before the merchant
        return (f"coalesce(any_value({col}) FILTER (WHERE side = 'to' AND party <> 'merchant'), "
                f"any_value({col}) FILTER (WHERE party = 'merchant'))")

    # one pass over parties (joined once to subject_records), pivoted to one row per transaction
    con.execute(f"""
        CREATE OR REPLACE VIEW mt_tx AS
        WITH sides AS (
            SELECT p.provider, p.record_id, p.party, p.side, p.name_norm, p.dob, p.country, p.account, p.city,
                   coalesce({sr_id}, 'u:' || p.provider || ':' || coalesce(p.account, p.name_norm || '|' || coalesce(p.country, ''), p.record_id || '#' || p.side)) AS subject_id
            FROM parties p {sr_join}
        ), pv AS (
            SELECT provider, record_id,
                   any_value(name_norm) FILTER (WHERE side = 'from') AS s_name,
                   any_value(dob) FILTER (WHERE side = 'from') AS s_dob,
                   any_value(subject_id) FILTER (WHERE side = 'from') AS sender_id,
                   {pick('name_norm')} AS r_name, {pick('lower(city)')} AS r_city,
                   {pick('subject_id')} AS receiver_id
            FROM sides GROUP BY provider, record_id
        ), base AS (
            SELECT t.provider, t.record_id, t.format, t.txn_type, t.ts_utc,
                   CAST(epoch(t.ts_utc) AS BIGINT) AS ts_s,
                   t.local_hour, CAST(t.amount AS DOUBLE) AS amount, t.currency,
                   coalesce(t.amount_usd, 0.0) AS amount_usd,
                   t.payout_agent_id, t.channel, lower(t.memo) AS memo_l, t.mcc,
                   TRY_CAST(t.mcc AS INTEGER) AS mcc_n,
                   lower(t.merchant_name) AS merchant_l, t.sender_country, t.receiver_country,
                   t.device_id,
                   date_diff('minute', t.ts_utc, t.paid_out_at) AS payout_minutes,
                   pv.s_name, pv.s_dob, pv.r_name, pv.r_city,
                   coalesce(pv.sender_id, 'u:' || t.provider || ':' || t.record_id || '#from') AS sender_id,
                   coalesce(pv.receiver_id, 'u:' || t.provider || ':' || t.record_id || '#to') AS receiver_id,
                   {rf_cols}
            FROM transactions t
            LEFT JOIN pv ON pv.provider = t.provider AND pv.record_id = t.record_id
            {rf_join}
        ), pair AS (
            -- the payments of each sender-receiver pair, joined back: the window
            -- count(*) OVER (PARTITION BY sender_id, receiver_id) would carry every column of
            -- every row through its partitioning (1M: 4.1 -> 3.5 CPU s for mt_txi; the real-time
            -- compiler reads the join as that window)
            SELECT sender_id, receiver_id, count(*) AS pair_n FROM base GROUP BY sender_id, receiver_id
        )
        SELECT b.*,
               b.txn_type IN {P2P_TYPES} AS is_p2p,
               b.txn_type = 'purchase' AS is_card_purchase,
               coalesce(b.sender_country <> b.receiver_country, FALSE) AS cross_border,
               coalesce(b.receiver_country IN ({hr}), FALSE) AS hr,
               coalesce(b.receiver_country IN ({hr}), FALSE) AS merchant_hr,
               coalesce({TRAVEL_MCC}, FALSE) AS is_travel,
               date_diff('year', b.s_dob, CAST(b.ts_utc AS DATE)) AS s_age,
               coalesce(list_has_any(string_split(b.s_name, ' '), string_split(b.r_name, ' ')), FALSE) AS name_tie,
               so.origin AS s_origin, ro.origin AS r_origin,
               pn.pair_n
        FROM base b
        JOIN pair pn ON pn.sender_id = b.sender_id AND pn.receiver_id = b.receiver_id
        LEFT JOIN mt_names so ON so.name_norm = b.s_name
        LEFT JOIN mt_names ro ON ro.name_norm = b.r_name
    """)


def _num(cfg: ScoringConfig, indicator_id: str, param: str) -> float:
    value = cfg.value(indicator_id, param)
    assert not isinstance(value, list)
    return float(value)


def build_subjects(con: duckdb.DuckDBPyConnection, cfg: ScoringConfig) -> None:
    """mt_subj: per-subject aggregates of both sides; needs mt_txi (transaction fires)."""
    window_s = int(_num(cfg, "MT21", "window_days") * 86400)
    micro = _num(cfg, "MT32", "max_usd")
    con.execute(f"""
        CREATE OR REPLACE TABLE mt_subj AS
        WITH xb AS (
            SELECT sender_id, receiver_id, ts_s, amount_usd, hr, name_tie, s_origin, r_origin,
                   ts_s - lag(ts_s) OVER (PARTITION BY sender_id ORDER BY ts_s) AS gap_s,
                   CASE WHEN hr THEN count(*) OVER (PARTITION BY sender_id, hr ORDER BY ts_s
                        RANGE BETWEEN {window_s} PRECEDING AND CURRENT ROW) ELSE 0 END AS burst_n
            FROM mt_txi WHERE is_p2p AND cross_border
        ), xb_agg AS (
            SELECT sender_id AS subject_id,
                   count(*) AS n_xb,
                   count(*) FILTER (WHERE hr) AS n_hr_xb,
                   count(DISTINCT receiver_id) FILTER (WHERE hr) AS n_recv_hr,
                   count(DISTINCT receiver_id) AS n_recv_xb,
                   count(DISTINCT receiver_id) FILTER (WHERE NOT name_tie AND (s_origin IS NULL OR r_origin IS NULL OR s_origin <> r_origin)) AS n_recv_unrel,
                   max(burst_n) AS burst_max,
                   CASE WHEN isnan(corr(amount_usd, ts_s)) THEN NULL ELSE corr(amount_usd, ts_s) END AS esc_corr,
                   CASE WHEN isnan(corr(gap_s, ts_s)) THEN NULL ELSE -corr(gap_s, ts_s) END AS freq_esc,
                   CASE WHEN isnan(stddev_samp(gap_s)) THEN NULL ELSE stddev_samp(gap_s) / nullif(avg(gap_s), 0) END AS gap_cv,
                   avg(CASE WHEN name_tie THEN 1.0 ELSE 0.0 END) AS tie_share,
                   count(*) FILTER (WHERE amount_usd <= {micro}) AS n_micro,
                   max(amount_usd) FILTER (WHERE hr) AS max_hr_usd,
                   max(amount_usd) AS max_xb_usd, min(amount_usd) AS min_xb_usd,
                   min(ts_s) FILTER (WHERE hr) AS first_hr_s
            FROM xb GROUP BY sender_id
        ), out_agg AS (
            SELECT sender_id AS subject_id,
                   count(*) AS n_out,
                   sum(f_MT01) AS n_low_hr,
                   count(DISTINCT receiver_country) FILTER (WHERE is_p2p AND cross_border AND hr) AS n_hr_countries,
                   sum(f_MT03) AS night_n,
                   sum(f_MT03) / nullif(count(*) FILTER (WHERE is_p2p AND cross_border), 0) AS night_share,
                   sum(f_MT10) AS n_anon, sum(f_MT11) AS n_webcam, sum(f_MT12) AS n_voip,
                   sum(f_MT13) AS n_travel,
                   max(CASE WHEN f_MT13 = 1 THEN ts_s END) AS last_travel_s,
                   max(s_age) AS age,
                   coalesce(sum(amount_usd) FILTER (WHERE txn_type = 'withdrawal'), 0) AS withdraw_usd,
                   coalesce(sum(amount_usd) FILTER (WHERE is_p2p AND NOT cross_border), 0) AS onward_usd
            FROM mt_txi GROUP BY sender_id
        ), in_agg AS (
            SELECT receiver_id AS subject_id,
                   count(*) AS n_in_xb,
                   count(DISTINCT sender_id) AS n_in_senders,
                   count(DISTINCT sender_id) FILTER (WHERE NOT name_tie) AS n_in_unrel,
                   count(DISTINCT sender_country) AS n_in_countries,
                   avg(CAST(f_MT15 AS DOUBLE)) AS band_share,
                   sum(f_MT15) AS n_band,
                   sum(f_MT14) AS n_quick,
                   sum(f_MT14) / nullif(count(payout_minutes), 0) AS quick_share,
                   sum(amount_usd) AS in_xb_usd
            FROM mt_txi WHERE is_p2p AND cross_border GROUP BY receiver_id
        ), agent_recv AS (
            SELECT DISTINCT t.payout_agent_id, t.receiver_id
            FROM mt_txi t JOIN in_agg i ON i.subject_id = t.receiver_id
            WHERE t.payout_agent_id IS NOT NULL AND i.n_in_unrel >= 2
        ), agent_n AS (
            SELECT payout_agent_id, count(*) AS n FROM agent_recv GROUP BY payout_agent_id
        ), agent_hub AS (
            SELECT a.receiver_id AS subject_id, max(n.n) AS agent_hub
            FROM agent_recv a JOIN agent_n n USING (payout_agent_id) GROUP BY a.receiver_id
        ), dev AS (
            SELECT DISTINCT device_id, sender_id FROM mt_txi WHERE device_id IS NOT NULL
        ), dev_n AS (
            SELECT device_id, count(*) AS n FROM dev GROUP BY device_id
        ), dev_share AS (
            SELECT d.sender_id AS subject_id, max(n.n) AS device_share
            FROM dev d JOIN dev_n n USING (device_id) GROUP BY d.sender_id
        ), from_recv AS (
            SELECT t.receiver_id AS subject_id, count(DISTINCT t.sender_id) AS n_from_receivers
            FROM mt_txi t JOIN in_agg i ON i.subject_id = t.sender_id
            WHERE t.is_p2p AND NOT t.cross_border AND i.n_in_unrel >= 1
            GROUP BY t.receiver_id
        ), ids AS (
            SELECT subject_id FROM out_agg UNION SELECT subject_id FROM in_agg UNION SELECT subject_id FROM from_recv
        )
        SELECT ids.subject_id,
               coalesce(o.n_out, 0) AS n_out,
               coalesce(x.n_xb, 0) AS n_xb, coalesce(x.n_hr_xb, 0) AS n_hr_xb,
               coalesce(x.n_recv_hr, 0) AS n_recv_hr, coalesce(x.n_recv_unrel, 0) AS n_recv_unrel,
               coalesce(x.burst_max, 0) AS burst_max,
               coalesce(x.esc_corr, 0) AS esc_corr, coalesce(x.freq_esc, 0) AS freq_esc,
               coalesce(x.gap_cv, 99) AS gap_cv, coalesce(x.tie_share, 0) AS tie_share,
               coalesce(x.n_micro, 0) AS n_micro, coalesce(x.max_hr_usd, 0) AS max_hr_usd,
               coalesce(x.max_xb_usd, 0) AS max_xb_usd, coalesce(x.min_xb_usd, 0) AS min_xb_usd,
               coalesce(x.n_recv_xb, 0) AS n_recv_xb,
               x.first_hr_s,
               coalesce(o.n_low_hr, 0) AS n_low_hr, coalesce(o.n_hr_countries, 0) AS n_hr_countries,
               coalesce(o.night_n, 0) AS night_n, coalesce(o.night_share, 0) AS night_share,
               coalesce(o.n_anon, 0) AS n_anon, coalesce(o.n_webcam, 0) AS n_webcam,
               coalesce(o.n_voip, 0) AS n_voip, coalesce(o.n_travel, 0) AS n_travel,
               o.last_travel_s, o.age,
               coalesce(i.n_in_xb, 0) AS n_in_xb, coalesce(i.n_in_senders, 0) AS n_in_senders,
               coalesce(i.n_in_unrel, 0) AS n_in_unrel, coalesce(i.n_in_countries, 0) AS n_in_countries,
               coalesce(i.band_share, 0) AS band_share, coalesce(i.n_band, 0) AS n_band,
               coalesce(i.n_quick, 0) AS n_quick, coalesce(i.quick_share, 0) AS quick_share,
               coalesce(i.in_xb_usd, 0) AS in_xb_usd,
               coalesce(o.withdraw_usd, 0) / nullif(i.in_xb_usd, 0) AS withdraw_ratio,
               coalesce(o.onward_usd, 0) / nullif(i.in_xb_usd, 0) AS pass_ratio,
               coalesce(h.agent_hub, 0) AS agent_hub,
               coalesce(d.device_share, 0) AS device_share,
               coalesce(fr.n_from_receivers, 0) AS n_from_receivers
        FROM ids
        LEFT JOIN out_agg o USING (subject_id)
        LEFT JOIN xb_agg x USING (subject_id)
        LEFT JOIN in_agg i USING (subject_id)
        LEFT JOIN agent_hub h USING (subject_id)
        LEFT JOIN dev_share d USING (subject_id)
        LEFT JOIN from_recv fr USING (subject_id)
    """)


def _reported_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Per subject: platform referrals naming it a suspected facilitator or viewer of live-streamed abuse.

    ``n_reported_fac_paying``: the reports naming it the facilitator in which a named viewer sends
    money abroad; ``own_tx``: whether the subject has any transaction of its own.
    """
    if not all(table_exists(con, t) for t in ("referral_subjects", "referrals", "subject_records")):
        return ("SELECT CAST(NULL AS VARCHAR) AS subject_id, 0 AS n_reported_facilitator, "
                "0 AS n_reported_viewer, 0 AS n_reported_fac_paying, TRUE AS own_tx WHERE FALSE")
    return f"""
            WITH named_in AS (
                SELECT sr.subject_id, rs.report_id, rs.record_id, rs.role
                FROM referral_subjects rs
                JOIN referrals r ON r.provider = rs.provider AND r.record_id = rs.report_id
                JOIN subject_records sr ON sr.provider = rs.provider AND sr.record_id = rs.record_id
                WHERE r.incident_type IN {REPORT_INCIDENTS} AND rs.role IN ('suspect_facilitator', 'suspect_viewer')
            ), paying_reports AS (
                SELECT DISTINCT n.report_id FROM named_in n
                WHERE n.role = 'suspect_viewer'
                  AND n.subject_id IN (SELECT sender_id FROM mt_txi WHERE is_p2p AND cross_border)
            ), agg AS (
                SELECT subject_id,
                       count(DISTINCT record_id) FILTER (WHERE role = 'suspect_facilitator') AS n_reported_facilitator,
                       count(DISTINCT record_id) FILTER (WHERE role = 'suspect_viewer') AS n_reported_viewer,
                       count(DISTINCT report_id) FILTER (
                           WHERE role = 'suspect_facilitator' AND report_id IN (SELECT report_id FROM paying_reports)
                       ) AS n_reported_fac_paying
                FROM named_in GROUP BY subject_id
            )
            SELECT a.*, a.subject_id IN (SELECT sender_id FROM mt_txi)
                        OR a.subject_id IN (SELECT receiver_id FROM mt_txi) AS own_tx
            FROM agg a"""


def build_graph(con: duckdb.DuckDBPyConnection) -> None:
    """mt_subg: per subject, features of the payment graph around it (network-level indicators).

    Receivers are *co-paid* when the same foreign senders pay both. From that:
    domestic transfers to a co-paid receiver (handing over to the head) and from
    co-paid receivers (collecting), a larger co-paid receiver beside a small
    one, the share of a receiver's payers who also pay a collector, the name
    under which it receives from abroad, and the platform referrals naming
    the subject. Receivers whose names are compatible (one person split by
    entity resolution) count their intake together for the head of a group
    (``major_ratio``), relatives and neighbours who take more or less
    (``kin_bigger``, ``kin_smaller``) and alike unrelated peers (``n_peers``, a
    syndicate's receivers); ``frag_nin`` is what those fragments receive (the
    subject models' ``log_in_group``). Ratios and shares are rounded to two decimals, as
    explanations show them. Batch only: the real-time path scores
    transactions without them. Needs mt_txi.
    """
    reported = _reported_sql(con)
    con.execute(f"""
        CREATE OR REPLACE TABLE mt_subg AS
        WITH rs AS (
            -- who pays whom across borders (people, not a wallet's merchant payments), once per
            -- pair; senders paying very many receivers (businesses, payroll) are left out of the
            -- co-payment pairs
            SELECT receiver_id, sender_id, count(*) AS n, count(*) OVER (PARTITION BY sender_id) AS s_recv
            FROM mt_txi WHERE is_p2p AND cross_border AND txn_type <> 'payment' GROUP BY receiver_id, sender_id
        ), rname AS (
            SELECT receiver_id, min(r_name) AS r_name, min(r_city) AS r_city FROM mt_txi
            WHERE is_p2p AND cross_border AND txn_type <> 'payment' GROUP BY receiver_id
        ), rsum AS (
            SELECT r.receiver_id, count(*) AS nsend, sum(r.n) AS nin, any_value(nm.r_name) AS r_name,
                   any_value(nm.r_city) AS r_city
            FROM rs r LEFT JOIN rname nm ON nm.receiver_id = r.receiver_id GROUP BY r.receiver_id
        ), copaid AS (
            -- pairs of receivers paid by the same foreign senders, and how many they share
            SELECT a.receiver_id AS r, b.receiver_id AS x, count(*) AS shared
            FROM rs a JOIN rs b ON a.sender_id = b.sender_id AND a.receiver_id <> b.receiver_id
            WHERE a.s_recv <= {MAX_COPAY_RECEIVERS} AND b.s_recv <= {MAX_COPAY_RECEIVERS}
            GROUP BY a.receiver_id, b.receiver_id
        ), rtok AS (
            SELECT DISTINCT receiver_id, token FROM (
                SELECT receiver_id, unnest(string_split(r_name, ' ')) AS token FROM rname WHERE r_name IS NOT NULL)
            WHERE token <> ''
        ), ptok AS (
            SELECT c.r, c.x, t.token FROM copaid c JOIN rtok t ON t.receiver_id = c.r
        ), matched AS (
            -- a word of r's name found in x's name, or an initial of one of x's words
            SELECT p.r, p.x, p.token FROM ptok p JOIN rtok u ON u.receiver_id = p.x
            WHERE u.token = p.token OR (length(p.token) = 1 AND left(u.token, 1) = p.token)
            GROUP BY p.r, p.x, p.token
        ), unmatched AS (
            SELECT p.r, p.x, count(*) - count(m.token) AS n, count(m.token) AS n_matched,
                   count(m.token) FILTER (WHERE m.token IN (SELECT token FROM mt_lex_surname)) AS n_sur_matched
            FROM ptok p LEFT JOIN matched m ON m.r = p.r AND m.x = p.x AND m.token = p.token
            GROUP BY p.r, p.x
        ), pairs AS (
            -- co-paid pairs with their names compared: under different names when neither name
            -- is the other's, give or take words and initials (`j p pascual` / `jovelyn pascual`:
            -- one person, split); kin: the names still share a word (a family name)
            SELECT c.r, c.x, c.shared, n.nsend, n.nin, m.nsend AS x_nsend, m.nin AS x_nin,
                   coalesce(a.n_matched, 0) > 0 AS kin, coalesce(a.n_sur_matched, 0) > 0 AS kin_surname,
                   coalesce(n.r_city = m.r_city, FALSE) AS same_city,
                   coalesce(a.n, 1) > 0 AND coalesce(b.n, 1) > 0 AS distinct_names
            FROM copaid c JOIN rsum n ON n.receiver_id = c.r JOIN rsum m ON m.receiver_id = c.x
            LEFT JOIN unmatched a ON a.r = c.r AND a.x = c.x
            LEFT JOIN unmatched b ON b.r = c.x AND b.x = c.r
        ), named AS (
            SELECT * FROM pairs WHERE distinct_names
        ), dom AS (
            SELECT sender_id, receiver_id, count(*) AS n FROM mt_txi
            WHERE is_p2p AND NOT cross_border GROUP BY sender_id, receiver_id
        ), fwd_cp AS (
            SELECT d.sender_id AS subject_id, sum(d.n) AS n_fwd_copaid
            FROM dom d JOIN copaid c ON c.r = d.sender_id AND c.x = d.receiver_id GROUP BY d.sender_id
        ), coll_cp AS (
            SELECT d.receiver_id AS subject_id, count(DISTINCT d.sender_id) AS n_coll_copaid
            FROM dom d JOIN copaid c ON c.r = d.receiver_id AND c.x = d.sender_id GROUP BY d.receiver_id
        ), coll_grp AS (
            -- domestic senders of the subject that share foreign payers with another of its
            -- domestic senders: the receivers of one operation handing over to its head
            SELECT d1.receiver_id AS subject_id, count(DISTINCT d1.sender_id) AS n_coll_group
            FROM dom d1 JOIN dom d2 ON d2.receiver_id = d1.receiver_id AND d2.sender_id <> d1.sender_id
            JOIN copaid c ON c.r = d1.sender_id AND c.x = d2.sender_id
            GROUP BY d1.receiver_id
        ), dom_in AS (
            SELECT receiver_id AS subject_id, count(DISTINCT sender_id) AS n_dom_senders FROM dom GROUP BY receiver_id
        ), minor AS (
            -- a larger receiver (another name) is paid by at least half of this receiver's senders
            SELECT r AS subject_id, max(CAST(x_nin AS DOUBLE) / nin) AS minor_ratio,
                   max(CASE WHEN kin THEN CAST(x_nin AS DOUBLE) / nin END) AS minor_kin_ratio
            FROM named WHERE nsend >= 2 AND shared * 2 >= nsend GROUP BY r
        ), gsum AS (
            -- a receiver's intake with its co-paid fragments: receivers paid by its senders under a
            -- name compatible with its own (entity resolution left one person in several subjects)
            SELECT r AS receiver_id, sum(x_nin) AS frag_nin FROM pairs WHERE NOT distinct_names GROUP BY r
        ), gnamed AS (
            SELECT n.*, n.nin + coalesce(a.frag_nin, 0) AS g_nin, n.x_nin + coalesce(b.frag_nin, 0) AS gx_nin
            FROM named n LEFT JOIN gsum a ON a.receiver_id = n.r LEFT JOIN gsum b ON b.receiver_id = n.x
        ), kin_any AS (
            -- any payer in common with a relative or neighbour (another person sharing a surname of
            -- the lexicon, or receiving in the same city; a shared given name is no tie): how many
            -- times more it takes than this one (at most), or this one than it (at least), each
            -- with its fragments
            SELECT r AS subject_id, max(CAST(gx_nin AS DOUBLE) / g_nin) AS kin_bigger,
                   min(CAST(g_nin AS DOUBLE) / gx_nin) AS kin_smaller
            FROM gnamed WHERE kin_surname OR same_city GROUP BY r
        ), peers AS (
            -- differently named, unrelated receivers sharing most payers with this one and taking
            -- about as much (within a factor of two): the receivers of a syndicate, paid in turn
            SELECT r AS subject_id, count(*) AS n_peers
            FROM gnamed
            WHERE NOT kin AND shared * 2 >= least(nsend, x_nsend) AND g_nin <= 2 * gx_nin AND gx_nin <= 2 * g_nin
            GROUP BY r
        ), major AS (
            -- the mirror of minor: the receivers (another name) most of whose senders also pay this
            -- one, and how many times their largest intake this one takes (the head of the group),
            -- each with its fragments
            SELECT r AS subject_id, min(CAST(g_nin AS DOUBLE) / gx_nin) AS major_ratio
            FROM gnamed WHERE x_nsend >= 2 AND shared * 2 >= x_nsend GROUP BY r
        ), collectors AS (
            SELECT subject_id FROM coll_cp
            UNION SELECT g.subject_id FROM coll_grp g JOIN dom_in d ON d.subject_id = g.subject_id
            WHERE g.n_coll_group >= 2 AND 2 * g.n_coll_group >= d.n_dom_senders
        ), beside AS (
            -- the largest share of the subject's foreign senders who also pay a collector
            -- (another name); collectors themselves are left out
            SELECT nm.r AS subject_id, max(CAST(nm.shared AS DOUBLE) / nm.nsend) AS beside_collector,
                   max(CASE WHEN nm.kin THEN CAST(nm.shared AS DOUBLE) / nm.nsend END) AS beside_kin_collector
            FROM named nm JOIN collectors k ON k.subject_id = nm.x
            WHERE nm.r NOT IN (SELECT subject_id FROM collectors)
            GROUP BY nm.r
        ), reported AS (
            {reported}
        ), ids AS (
            SELECT subject_id FROM fwd_cp UNION SELECT subject_id FROM coll_cp UNION SELECT subject_id FROM coll_grp
            UNION SELECT subject_id FROM minor UNION SELECT subject_id FROM major UNION SELECT subject_id FROM kin_any UNION SELECT subject_id FROM peers UNION SELECT subject_id FROM beside UNION SELECT subject_id FROM reported
            UNION SELECT receiver_id AS subject_id FROM rname
        )
        SELECT ids.subject_id, nm.r_name AS r_name,
               coalesce(fc.n_fwd_copaid, 0) AS n_fwd_copaid,
               coalesce(cc.n_coll_copaid, 0) AS n_coll_copaid,
               coalesce(cg.n_coll_group, 0) AS n_coll_group,
               round(coalesce(CAST(cg.n_coll_group AS DOUBLE) / di.n_dom_senders, 0), 2) AS coll_group_share,
               round(coalesce(mi.minor_ratio, 0), 2) AS minor_ratio,
               round(coalesce(mi.minor_kin_ratio, 0), 2) AS minor_kin_ratio,
               round(coalesce(mj.major_ratio, 0), 2) AS major_ratio,
               coalesce(pr.n_peers, 0) AS n_peers,
               round(coalesce(ka.kin_bigger, 0), 2) AS kin_bigger,
               round(coalesce(ka.kin_smaller, 0), 2) AS kin_smaller,
               round(coalesce(bc.beside_collector, 0), 2) AS beside_collector,
               round(coalesce(bc.beside_kin_collector, 0), 2) AS beside_kin_collector,
               coalesce(rp.n_reported_facilitator, 0) AS n_reported_facilitator,
               coalesce(rp.n_reported_viewer, 0) AS n_reported_viewer,
               coalesce(rp.n_reported_fac_paying, 0) AS n_reported_fac_paying,
               coalesce(rp.own_tx, TRUE) AS own_tx,
               coalesce(gs.frag_nin, 0) AS frag_nin
        FROM ids
        LEFT JOIN fwd_cp fc ON fc.subject_id = ids.subject_id
        LEFT JOIN coll_cp cc ON cc.subject_id = ids.subject_id
        LEFT JOIN coll_grp cg ON cg.subject_id = ids.subject_id
        LEFT JOIN dom_in di ON di.subject_id = ids.subject_id
        LEFT JOIN minor mi ON mi.subject_id = ids.subject_id
        LEFT JOIN major mj ON mj.subject_id = ids.subject_id
        LEFT JOIN kin_any ka ON ka.subject_id = ids.subject_id
        LEFT JOIN peers pr ON pr.subject_id = ids.subject_id
        LEFT JOIN beside bc ON bc.subject_id = ids.subject_id
        LEFT JOIN reported rp ON rp.subject_id = ids.subject_id
        LEFT JOIN rname nm ON nm.receiver_id = ids.subject_id
        LEFT JOIN gsum gs ON gs.receiver_id = ids.subject_id
    """)
