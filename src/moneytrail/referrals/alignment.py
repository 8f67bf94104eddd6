"""Time alignment of payments with platform sessions and logins.

- ``aligned_payments``: a payment from subject A to subject B close in time
  to a session of one referral between A's and B's accounts (either
  direction): the session starts within the window after the payment
  (``payment_first``: 0 <= start - paid <= window) or the payment follows the
  session start within the window (``session_first``: 0 < paid - start <=
  window). ``gap_minutes`` is the absolute distance, in minutes. The payer is
  a subject linked to one end; the payee a subject linked to the other end or
  a party named like it (a shared word of 3+ letters, or of 5+ letters one edit
  apart, among all the names the payee's subject goes by). When the payer is
  linked to no referral subject at all, a payer named like one end paying a
  subject linked to the other end also counts, and so does a payer carrying two
  name words of a linked end (resolution split him off) paying someone named
  like an unlinked end, and so does a payer linked to nothing whose name words
  are all names of his end paying someone who carries two name words of the
  other end (resolution split both). Per session and payer, the payment closest to the
  session start is kept (a second payment hours after the call is routine, not
  alignment).
- login-time match: a payment whose sender-local hour equals, within
  ±``login_hour_tolerance``, the sender-local hour of an IP event of a
  referral account linked to the sender, no more than ``login_window_days``
  apart. The login's local hour is computed with the payment's own UTC offset
  (``local_hour - hour(ts_utc)``).

All in DuckDB SQL over the whole store.
"""

from __future__ import annotations

import duckdb

from moneytrail.referrals import tables as T
from moneytrail.referrals.config import ReferralSettings
from moneytrail.referrals.linking import WEAK_RESOLVE


def _linked_payments(con: duckdb.DuckDBPyConnection) -> None:
    """Payments with a linked subject on either side, with both subjects.

    The few records that matter (of the linked subjects, of the payees' subjects) are
    written to small temporary tables first, and the big tables (parties,
    subject_records) are joined to those, or cut by a semi-join on their keys, before
    any join between two big ones. The rows are the same as joining the big tables
    directly; on Spark, where a join of two tables it cannot tell are small shuffles
    both, the stage at 1M spent 110 s here (61 s in ``_ref_payee`` alone), and a small
    table read from its Parquet file is broadcast instead."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ref_linked_subjects AS
        SELECT DISTINCT referral_provider, referral_record_id, subject_id FROM referral_links
        """
    )
    # the records of the linked subjects
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ref_linked_recs AS
        SELECT subject_id, provider, record_id, party FROM subject_records
        WHERE subject_id IN (SELECT subject_id FROM _ref_linked_subjects)
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ref_sides AS
        SELECT p.provider, p.record_id, p.side, sr.subject_id
        FROM parties p
        JOIN _ref_linked_recs sr ON sr.provider = p.provider AND sr.record_id = p.record_id
         AND sr.party = p.party
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ref_pay AS
        SELECT t.provider, t.record_id, t.ts_utc, t.local_hour,
               f.subject_id AS from_subject, o.subject_id AS to_subject
        FROM transactions t
        JOIN (SELECT DISTINCT provider, record_id FROM _ref_sides) k USING (provider, record_id)
        LEFT JOIN _ref_sides f ON f.provider = t.provider AND f.record_id = t.record_id AND f.side = 'from'
        LEFT JOIN _ref_sides o ON o.provider = t.provider AND o.record_id = t.record_id AND o.side = 'to'
        """
    )
    # payees of payments by linked subjects, with their subject and the name words of
    # every name that subject goes by ("L R DIZON" is also "Lorna Dizon")
    paid = "SELECT (provider, record_id) FROM _ref_pay WHERE from_subject IS NOT NULL"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ref_payee_pay AS
        SELECT p.provider, p.record_id, sr.subject_id, {_TOKENS.format(col="p.name_norm")} AS tokens
        FROM parties p
        LEFT JOIN (SELECT * FROM subject_records WHERE (provider, record_id) IN ({paid})) sr
          ON sr.provider = p.provider AND sr.record_id = p.record_id AND sr.party = p.party
        WHERE p.side = 'to' AND (p.provider, p.record_id) IN ({paid})
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _ref_payee_recs AS
        SELECT subject_id, provider, record_id, party FROM subject_records
        WHERE subject_id IN (SELECT subject_id FROM _ref_payee_pay)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ref_payee AS
        WITH names AS (
          SELECT sr.subject_id, list_distinct(flatten(list({_TOKENS.format(col="q.name_norm")}))) AS tokens
          FROM _ref_payee_recs sr
          JOIN parties q ON q.provider = sr.provider AND q.record_id = sr.record_id AND q.party = sr.party
          GROUP BY sr.subject_id
        )
        SELECT DISTINCT pay.provider, pay.record_id, pay.subject_id,
               list_distinct(list_concat(pay.tokens, coalesce(n.tokens, []))) AS tokens
        FROM _ref_payee_pay pay LEFT JOIN names n ON n.subject_id = pay.subject_id
        """
    )
    # payers not linked to any referral subject, of payments to linked subjects
    payers = "SELECT (provider, record_id) FROM _ref_pay WHERE from_subject IS NULL AND to_subject IS NOT NULL"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ref_payer AS
        SELECT DISTINCT p.provider, p.record_id, x.ts_utc, x.to_subject, sr.subject_id,
               {_TOKENS.format(col="p.name_norm")} AS tokens
        FROM parties p
        JOIN (SELECT DISTINCT provider, record_id, ts_utc, to_subject FROM _ref_pay
              WHERE from_subject IS NULL AND to_subject IS NOT NULL) x
          ON x.provider = p.provider AND x.record_id = p.record_id
        LEFT JOIN (SELECT * FROM subject_records WHERE (provider, record_id) IN ({payers})) sr
          ON sr.provider = p.provider AND sr.record_id = p.record_id AND sr.party = p.party
        WHERE p.side = 'from'
        """
    )
    # the names a referral subject goes by: its display name and its linked subjects' names
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ref_end_tokens AS
        SELECT referral_provider, referral_record_id, list_distinct(flatten(list(tokens))) AS tokens
        FROM (
          SELECT s.provider AS referral_provider, s.record_id AS referral_record_id,
                 {_TOKENS.format(col="s.name_norm")} AS tokens
          FROM referral_subjects s
          UNION ALL
          SELECT DISTINCT l.referral_provider, l.referral_record_id,
                 {_TOKENS.format(col="p.name_norm")}
          FROM _ref_linked_subjects l
          JOIN _ref_linked_recs sr ON sr.subject_id = l.subject_id
          JOIN parties p ON p.provider = sr.provider AND p.record_id = sr.record_id
           AND p.party = sr.party
        ) GROUP BY ALL
        """
    )
    for name in ("_ref_linked_recs", "_ref_sides", "_ref_payee_pay", "_ref_payee_recs"):
        con.execute(f"DROP TABLE IF EXISTS {name}")


# name tokens of three letters or more
_TOKENS = "list_filter(string_split(coalesce({col}, ''), ' '), lambda x: length(x) >= 3)"

# two token lists share a word, or words of five letters or more one edit apart
# ("joselyn" on the platform, "jocelyn" at the wallet)
_SIMILAR_TOKENS = (
    "len(list_filter({a}, lambda t: len(list_filter({b}, lambda u: t = u OR "
    "(length(t) >= 5 AND length(u) >= 5 AND levenshtein(t, u) <= 1))) > 0)) > 0"
)


# each session once per direction: (payer end a, payee end b)
_ENDS_SQL = """
SELECT provider, report_id, seq, from_record_id AS a, to_record_id AS b, start_utc
FROM referral_sessions WHERE start_utc IS NOT NULL
UNION ALL
SELECT provider, report_id, seq, to_record_id, from_record_id, start_utc
FROM referral_sessions WHERE start_utc IS NOT NULL AND from_record_id <> to_record_id
"""


def session_links(con: duckdb.DuckDBPyConnection, settings: ReferralSettings) -> int:
    """Link an unlinked referral end to the payer who pays the other end around its sessions.

    A viewer who gave the platform a throw-away email and no IP can still be found by
    what he does: he pays the facilitator (linked to the session's other end) minutes
    before or after the call. The payer must share a name word with the viewer's
    display name (or, when the account gives no name, be from its country and pay the
    subject linked to the other end), and be the only payer so placed, or the one who explains the most
    sessions when that is at least two. Needs the temp tables of `_linked_payments` and
    `_window_candidates`, which applies the window of `settings`.
    """
    con.execute(
        f"""
        INSERT INTO referral_links
        WITH ends AS (
          SELECT e.*, {_TOKENS.format(col="rs.name_norm")} AS a_tokens, rs.country AS a_country
          FROM ({_ENDS_SQL}) e
          JOIN referral_subjects rs ON rs.provider = e.provider AND rs.record_id = e.a
          WHERE (rs.name_norm IS NOT NULL OR rs.country IS NOT NULL)
            AND NOT EXISTS (SELECT 1 FROM referral_links la
                            WHERE la.referral_provider = e.provider AND la.referral_record_id = e.a
                              AND NOT (la.via = 'resolve' AND la.evidence = '{WEAK_RESOLVE}'))
        ),
        pay AS (
          SELECT t.provider, t.record_id, t.ts_utc, e.provider AS referral_provider, e.a, e.b,
                 e.report_id, e.seq, abs(date_diff('second', t.ts_utc, e.start_utc)) AS gap, e.a_tokens,
                 e.a_country
          FROM _ref_win t
          JOIN ends e ON e.provider = t.referral_provider AND e.report_id = t.report_id
           AND e.seq = t.seq AND e.a = t.a
        ),
        c AS (
          SELECT DISTINCT x.referral_provider, x.a AS referral_record_id, fr.subject_id, x.report_id,
                 x.seq, x.gap, tsr.subject_id AS to_subject,
                 CASE WHEN len(x.a_tokens) = 0 THEN 'country' ELSE 'name' END AS how
          FROM pay x
          JOIN parties f ON f.provider = x.provider AND f.record_id = x.record_id AND f.side = 'from'
          JOIN subject_records fr ON fr.provider = f.provider AND fr.record_id = f.record_id
           AND fr.party = f.party
          JOIN parties tp ON tp.provider = x.provider AND tp.record_id = x.record_id AND tp.side = 'to'
          JOIN subject_records tsr ON tsr.provider = tp.provider AND tsr.record_id = tp.record_id
           AND tsr.party = tp.party
          LEFT JOIN _ref_end_tokens bt ON bt.referral_provider = x.referral_provider
           AND bt.referral_record_id = x.b
          WHERE fr.subject_id <> tsr.subject_id
            -- the payer shares a word of the display name; an account that gives no name at
            -- all: the payer is from its country and pays the subject linked to the other end
            AND (list_has_any({_TOKENS.format(col="f.name_norm")}, x.a_tokens)
                 OR (len(x.a_tokens) = 0 AND f.country = x.a_country
                     AND tsr.subject_id IN (SELECT lc.subject_id FROM _ref_linked_subjects lc
                                            WHERE lc.referral_provider = x.referral_provider
                                              AND lc.referral_record_id = x.b)))
            -- the payee is the other end: linked to it, or sharing two name words with it
            AND (tsr.subject_id IN (SELECT lb.subject_id FROM _ref_linked_subjects lb
                                    WHERE lb.referral_provider = x.referral_provider
                                      AND lb.referral_record_id = x.b)
                 OR length(list_intersect({_TOKENS.format(col="tp.name_norm")}, coalesce(bt.tokens, []))) >= 2)
        ),
        per AS (
          SELECT referral_provider, referral_record_id, subject_id,
                 count(DISTINCT (report_id, seq)) AS sessions, min(gap) AS gap,
                 any_value(to_subject) AS payee, any_value(how) AS how
          FROM c GROUP BY ALL
        ),
        ranked AS (
          SELECT *, count(*) OVER w AS candidates,
                 count(*) FILTER (WHERE sessions = best) OVER w AS at_best
          FROM (SELECT *, max(sessions) OVER (PARTITION BY referral_provider, referral_record_id) AS best FROM per)
          WINDOW w AS (PARTITION BY referral_provider, referral_record_id)
        )
        SELECT referral_provider, referral_record_id, subject_id, 'session',
               format('paid {{}} (the other end) within {{}} min of {{}} session(s); {{}}',
                      payee, round(gap / 60.0)::INTEGER, sessions,
                      CASE WHEN how = 'name' THEN 'shares a name with the display name'
                           ELSE 'from the country of an account that gives no name' END)
        FROM ranked
        WHERE candidates = 1 OR (sessions = best AND sessions >= 2 AND at_best = 1)
        ORDER BY 1, 2, 3
        """
    )
    # what the viewer did outweighs a resolution on a similar name alone
    con.execute(
        f"""
        DELETE FROM referral_links l
        WHERE l.via = 'resolve' AND l.evidence = '{WEAK_RESOLVE}'
          AND EXISTS (SELECT 1 FROM referral_links s WHERE s.via = 'session'
                      AND s.referral_provider = l.referral_provider
                      AND s.referral_record_id = l.referral_record_id AND s.subject_id <> l.subject_id)
        """
    )
    rows = con.execute("SELECT count(*) FROM referral_links WHERE via = 'session'").fetchall()
    return int(rows[0][0])


def _payees(con: duckdb.DuckDBPyConnection, window_s: int) -> None:
    """``_ref_to``: every payee party with its payment's time and time bucket (of the
    window's width), and ``_ref_to_tok``: the same with each name word. They do not
    depend on the links, so both alignment passes of a run read them."""
    w = max(int(window_s), 1)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ref_to AS
        SELECT p.provider, p.record_id, p.party, p.name_norm, t.ts_utc,
               epoch(t.ts_utc)::BIGINT // {w} AS bucket
        FROM parties p JOIN transactions t ON t.provider = p.provider AND t.record_id = p.record_id
        WHERE p.side = 'to' AND t.ts_utc IS NOT NULL
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ref_to_tok AS
        SELECT provider, record_id, ts_utc, bucket, unnest({_TOKENS.format(col="name_norm")}) AS tok
        FROM _ref_to WHERE name_norm IS NOT NULL
        """
    )


def _window_candidates(con: duckdb.DuckDBPyConnection, window_s: int) -> None:
    """``_ref_win``: payments near a session whose payee is linked to the session's other
    end, or shares a name word with it while the payer shares one with the session's own
    end (what both readers, :func:`session_links` and the last branch of the alignment,
    require). Joined on (name word, time bucket of the window's width), so the cost grows
    with the payments, not with sessions times payments.
    Needs the tables of :func:`_payees` for the same window."""
    w = max(int(window_s), 1)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ref_win AS
        WITH ends AS (
          SELECT e.*, b.bucket
          FROM ({_ENDS_SQL}) e,
               (SELECT unnest([-1, 0, 1]) AS d) k,
               LATERAL (SELECT epoch(e.start_utc)::BIGINT // {w} + k.d AS bucket) b
        ),
        end_tok AS (
          SELECT e.*, ta.tokens AS a_tokens, unnest(t.tokens) AS tok
          FROM ends e JOIN _ref_end_tokens t ON t.referral_provider = e.provider AND t.referral_record_id = e.b
          JOIN _ref_end_tokens ta ON ta.referral_provider = e.provider AND ta.referral_record_id = e.a
        ),
        -- a payee named like one end is kept only when the payer shares a word with the
        -- other end: both readers of _ref_win ask for that (or for a payee linked to the
        -- other end, which by_link finds), and common names in a busy time bucket would
        -- otherwise pair every such payment with every such session (quadratic in size)
        by_name AS (
          SELECT t.provider, t.record_id, t.ts_utc, e.provider AS referral_provider, e.report_id, e.seq,
                 e.a, e.b, e.start_utc
          FROM _ref_to_tok t JOIN end_tok e ON e.tok = t.tok AND e.bucket = t.bucket
          JOIN parties f ON f.provider = t.provider AND f.record_id = t.record_id AND f.side = 'from'
          WHERE t.ts_utc BETWEEN e.start_utc - INTERVAL ({w}) SECOND AND e.start_utc + INTERVAL ({w}) SECOND
            AND list_has_any({_TOKENS.format(col="f.name_norm")}, e.a_tokens)
        ),
        by_link AS (
          SELECT y.provider, y.record_id, y.ts_utc, e.provider, e.report_id, e.seq, e.a, e.b, e.start_utc
          FROM _ref_to y
          JOIN subject_records sr ON sr.provider = y.provider AND sr.record_id = y.record_id
           AND sr.party = y.party
          JOIN _ref_linked_subjects lb ON lb.subject_id = sr.subject_id
          JOIN ends e ON e.provider = lb.referral_provider AND e.b = lb.referral_record_id
           AND e.bucket = y.bucket
        )
        SELECT DISTINCT * FROM (SELECT * FROM by_name UNION ALL SELECT * FROM by_link)
        WHERE ts_utc BETWEEN start_utc - INTERVAL ({w}) SECOND AND start_utc + INTERVAL ({w}) SECOND
        """
    )


def align_payments(
    con: duckdb.DuckDBPyConnection, settings: ReferralSettings | None = None
) -> int:
    """Rebuild ``aligned_payments``; returns its row count. Needs ``referral_links``."""
    settings = settings or ReferralSettings()
    _payees(con, _window_seconds(settings))
    try:
        return _align(con, settings)
    finally:
        for name in ("_ref_to", "_ref_to_tok"):
            con.execute(f"DROP TABLE IF EXISTS {name}")


def _window_seconds(settings: ReferralSettings) -> int:
    return round(float(settings.align_window_minutes) * 60)


def _align(con: duckdb.DuckDBPyConnection, settings: ReferralSettings) -> int:
    """:func:`align_payments` once the tables of :func:`_payees` are there."""
    window_s = _window_seconds(settings)
    # the payee is the session's other end: linked to it, or (unless strict)
    # named like it (resolution often splits a facilitator into several subjects)
    name_ok = "FALSE" if settings.align_payee_must_match else (
        _SIMILAR_TOKENS.format(a="y.tokens", b="coalesce(bt.tokens, [])")
    )
    name_ok2 = "FALSE" if settings.align_payee_must_match else "TRUE"
    nearest = "rk = 1" if settings.align_nearest_only else "TRUE"
    _linked_payments(con)
    _window_candidates(con, window_s)
    con.execute(T.ALIGNED_PAYMENTS.ddl())
    con.execute("DELETE FROM aligned_payments")
    con.execute(
        f"""
        INSERT INTO aligned_payments
        WITH ends AS ({_ENDS_SQL}),
        pairs AS (
          SELECT DISTINCT e.provider AS referral_provider, e.report_id, e.seq, e.start_utc,
                 la.subject_id AS subj_a, e.b
          FROM ends e
          JOIN _ref_linked_subjects la ON la.referral_provider = e.provider AND la.referral_record_id = e.a
        ),
        hits AS (
          SELECT p.provider, p.record_id, s.referral_provider, s.report_id, s.seq AS session_seq,
                 s.subj_a, date_diff('second', p.ts_utc, s.start_utc) AS d
          FROM (SELECT DISTINCT provider, record_id, ts_utc, from_subject FROM _ref_pay) p
          JOIN pairs s ON s.subj_a = p.from_subject
          -- joins, not nested subqueries, so that Spark runs it too; a payment with
          -- several such payees repeats here and is made one by the DISTINCT below
          JOIN _ref_payee y ON y.provider = p.provider AND y.record_id = p.record_id
           AND coalesce(y.subject_id, '') <> p.from_subject
          LEFT JOIN _ref_linked_subjects lb ON lb.referral_provider = s.referral_provider
           AND lb.referral_record_id = s.b AND lb.subject_id = y.subject_id
          LEFT JOIN _ref_end_tokens bt ON bt.referral_provider = s.referral_provider
           AND bt.referral_record_id = s.b
          WHERE p.ts_utc BETWEEN s.start_utc - INTERVAL ({window_s}) SECOND
                             AND s.start_utc + INTERVAL ({window_s}) SECOND
            AND (lb.subject_id IS NOT NULL OR ({name_ok}))
          UNION ALL
          -- the payer's account is linked to nothing, but the payee is the other end
          -- and the payer is named like the session's end
          SELECT y.provider, y.record_id, e.provider, e.report_id, e.seq,
                 coalesce(y.subject_id, y.provider || ':' || y.record_id),
                 date_diff('second', y.ts_utc, e.start_utc)
          FROM _ref_payer y
          JOIN ends e ON y.ts_utc BETWEEN e.start_utc - INTERVAL ({window_s}) SECOND
                                     AND e.start_utc + INTERVAL ({window_s}) SECOND
          JOIN _ref_linked_subjects lb ON lb.referral_provider = e.provider
           AND lb.referral_record_id = e.b AND lb.subject_id = y.to_subject
          JOIN _ref_end_tokens t ON t.referral_provider = e.provider AND t.referral_record_id = e.a
          WHERE ({name_ok2}) AND list_has_any(y.tokens, t.tokens)
            AND NOT EXISTS (SELECT 1 FROM _ref_linked_subjects la WHERE la.referral_provider = e.provider
                            AND la.referral_record_id = e.a AND la.subject_id = y.to_subject)
          UNION ALL
          -- resolution split the payer off: a payer linked to nothing, named like his end,
          -- paying someone named like the other end. Either his end is linked and hers is
          -- not (he carries two of his end's name words, the payee one of hers), or
          -- resolution split both ("k walsh" for "Keith Walsh" paying "allan aquino domingo"
          -- for "Allan A. Domingo": all his name words are his end's, the payee is not linked
          -- to her end and carries two of her name words)
          SELECT t.provider, t.record_id, e.provider, e.report_id, e.seq, fr.subject_id,
                 date_diff('second', t.ts_utc, e.start_utc)
          FROM ends e
          JOIN _ref_end_tokens ta ON ta.referral_provider = e.provider AND ta.referral_record_id = e.a
          JOIN _ref_end_tokens tb ON tb.referral_provider = e.provider AND tb.referral_record_id = e.b
          JOIN _ref_win t ON t.referral_provider = e.provider AND t.report_id = e.report_id
           AND t.seq = e.seq AND t.a = e.a
          JOIN parties f ON f.provider = t.provider AND f.record_id = t.record_id AND f.side = 'from'
          JOIN subject_records fr ON fr.provider = f.provider AND fr.record_id = f.record_id
           AND fr.party = f.party
          JOIN parties y ON y.provider = t.provider AND y.record_id = t.record_id AND y.side = 'to'
          LEFT JOIN subject_records yr ON yr.provider = y.provider AND yr.record_id = y.record_id
           AND yr.party = y.party
          WHERE ({name_ok2})
            AND fr.subject_id NOT IN (SELECT subject_id FROM _ref_linked_subjects)
            AND ((EXISTS (SELECT 1 FROM _ref_linked_subjects la WHERE la.referral_provider = e.provider
                          AND la.referral_record_id = e.a)
                  AND NOT EXISTS (SELECT 1 FROM _ref_linked_subjects lb WHERE lb.referral_provider = e.provider
                                  AND lb.referral_record_id = e.b)
                  AND length(list_intersect({_TOKENS.format(col="f.name_norm")}, ta.tokens)) >= 2
                  AND list_has_any({_TOKENS.format(col="y.name_norm")}, tb.tokens))
                 OR (NOT EXISTS (SELECT 1 FROM _ref_linked_subjects lb WHERE lb.referral_provider = e.provider
                                 AND lb.referral_record_id = e.b AND lb.subject_id = yr.subject_id)
                     AND len({_TOKENS.format(col="f.name_norm")}) > 0
                     AND len(list_filter({_TOKENS.format(col="f.name_norm")},
                                         lambda x: NOT list_contains(ta.tokens, x))) = 0
                     AND length(list_intersect({_TOKENS.format(col="y.name_norm")}, tb.tokens)) >= 2))
        ),
        ranked AS (
          SELECT *, row_number() OVER (
                   PARTITION BY referral_provider, report_id, session_seq, subj_a
                   ORDER BY abs(d), provider, record_id) AS rk
          FROM hits WHERE abs(d) <= {window_s}
        )
        SELECT DISTINCT provider, record_id, referral_provider, report_id, session_seq,
               CASE WHEN d >= 0 THEN 'payment_first' ELSE 'session_first' END,
               round(abs(d) / 60.0, 2)
        FROM ranked
        WHERE {nearest}
        ORDER BY provider, record_id, referral_provider, report_id, session_seq
        """
    )
    return int(con.execute("SELECT count(*) FROM aligned_payments").fetchall()[0][0])


def _login_matches(con: duckdb.DuckDBPyConnection, settings: ReferralSettings) -> None:
    window_s = round(float(settings.login_window_days) * 86400)
    tol = int(settings.login_hour_tolerance)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _ref_login AS
        WITH ev AS (
          SELECT l.subject_id, e.at_utc
          FROM _ref_linked_subjects l
          JOIN referral_ip_events e ON e.provider = l.referral_provider
           AND e.record_id = l.referral_record_id
          WHERE e.at_utc IS NOT NULL
        ),
        m AS (
          SELECT p.provider, p.record_id, p.local_hour,
                 ((hour(e.at_utc) + p.local_hour - hour(p.ts_utc)) % 24 + 24) % 24 AS login_hour
          FROM _ref_pay p
          JOIN ev e ON e.subject_id = p.from_subject
          WHERE p.local_hour IS NOT NULL AND p.ts_utc IS NOT NULL
            AND p.ts_utc BETWEEN e.at_utc - INTERVAL ({window_s}) SECOND
                             AND e.at_utc + INTERVAL ({window_s}) SECOND
        )
        SELECT DISTINCT provider, record_id FROM m
        WHERE least(abs(login_hour - local_hour), 24 - abs(login_hour - local_hour)) <= {tol}
        """
    )


def alignment_features(
    con: duckdb.DuckDBPyConnection, settings: ReferralSettings | None = None
) -> int:
    """Rebuild ``referral_txn_features`` (and ``aligned_payments``); returns its row count.

    One row per transaction with at least one indicator at 1; a transaction
    not in the table has all four at 0. Needs ``referral_links`` (see
    :func:`moneytrail.referrals.linking.link_referrals`); an empty table when
    there is none.
    """
    settings = settings or ReferralSettings()
    from moneytrail.referrals.linking import ensure_subject_records

    ensure_subject_records(con)
    con.execute(T.REFERRAL_LINKS.ddl())
    _payees(con, _window_seconds(settings))
    _align(con, settings)
    if settings.session_links and session_links(con, settings):
        _align(con, settings)  # the newly linked payers' payments align as linked ones
    _login_matches(con, settings)
    con.execute(T.REFERRAL_TXN_FEATURES.ddl())
    con.execute("DELETE FROM referral_txn_features")
    con.execute(
        """
        INSERT INTO referral_txn_features
        WITH k AS (
          SELECT provider, record_id FROM _ref_pay
          UNION SELECT provider, record_id FROM aligned_payments
          UNION SELECT provider, record_id FROM _ref_login
        ),
        linked AS (
          SELECT provider, record_id,
                 max(CASE WHEN from_subject IS NOT NULL THEN 1 ELSE 0 END) AS s,
                 max(CASE WHEN to_subject IS NOT NULL THEN 1 ELSE 0 END) AS r
          FROM _ref_pay GROUP BY ALL
        )
        SELECT k.provider, k.record_id,
               CASE WHEN EXISTS (SELECT 1 FROM aligned_payments a WHERE a.provider = k.provider
                                 AND a.record_id = k.record_id) THEN 1 ELSE 0 END,
               CASE WHEN EXISTS (SELECT 1 FROM _ref_login g WHERE g.provider = k.provider
                                 AND g.record_id = k.record_id) THEN 1 ELSE 0 END,
               coalesce(l.s, 0), coalesce(l.r, 0)
        FROM k LEFT JOIN linked l USING (provider, record_id)
        ORDER BY k.provider, k.record_id
        """
    )
    for name in ("_ref_pay", "_ref_login", "_ref_linked_subjects", "_ref_payee", "_ref_payer",
                 "_ref_end_tokens", "_ref_win", "_ref_to", "_ref_to_tok"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return int(con.execute("SELECT count(*) FROM referral_txn_features").fetchall()[0][0])
