"""Risk propagation over the payment graph (SQL over ``network_edges``).

Three steps, each guarded against popular legitimate receivers:

1. **Facilitator evidence** (``NW02``): a subject paid by ``k`` distinct
   confident consumers gets ``(1 - 0.6**k) * min(1, share / SHARE_FULL)``, where
   ``share`` is the share of its payers that are confident consumers. A school,
   charity, remittance agent or big merchant has many payers, mostly unflagged:
   its share stays tiny and so does its evidence. ``k >= MIN_CONSUMERS`` is required.
2. **Consumer evidence** (``NW01``): a subject who pays a high-risk facilitator
   (facilitator risk >= ``HIGH_RISK``), even once, gets ``CONSUMER_GAIN`` times
   that risk, unless it also collects from confident consumers (then it is
   passing money on: intermediary evidence ``NW03``). Payments whose two ends
   share a surname are a family remittance and taint nobody (``nw_family``).
3. A second facilitator round counts as consumers also those who pay *another*
   high-risk facilitator (``NW04``): consumers shared between networks reveal
   facilitators the indicators missed, never by their own payment alone.
4. Collectors (``NW06``): a subject to whom several high-risk receivers pass
   money on repeatedly (two payments or more each: a family head, a syndicate
   controller; not the neighbour a facilitator paid once), share-guarded likewise;
   the receivers that pass money on become intermediaries (``NW03``).

Only person-to-person edges (``network_edges.n_p2p > 0``) carry risk.

Table written: ``network_risk(subject_id, p_consumer, p_facilitator,
p_intermediary, net_consumer, net_facilitator, net_intermediary, reasons)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from moneytrail.store import table_exists


@dataclass(frozen=True)
class PropagationParams:
    confident_consumer: float = 0.7  # consumer probability counted as a known consumer
    min_consumers: int = 2  # distinct confident consumers before a receiver gains facilitator risk
    share_full: float = 0.3  # share of such payers at which the evidence is full
    high_risk: float = 0.7  # facilitator risk that taints its payers
    consumer_gain: float = 0.95  # consumer evidence = gain * payee facilitator risk
    base_decay: float = 0.6  # (1 - decay**k)
    family_word: int = (
        4  # shortest shared name word that makes a payment a family remittance (NW01)
    )


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}


def base_risk(con: duckdb.DuckDBPyConnection) -> None:
    """``nw_base(subject_id, p_consumer, p_facilitator, p_intermediary, flagged, role, score, reasons)``.

    Works on whatever ``subject_scores`` scoring wrote: per-role scores when
    present, else the score counted for the subject's role only.
    """
    universe = "SELECT DISTINCT subject_id FROM subject_records WHERE subject_id IS NOT NULL"
    if not table_exists(con, "subject_scores"):
        con.execute(f"""CREATE OR REPLACE TEMP TABLE nw_base AS SELECT subject_id, 0.0 AS p_consumer,
            0.0 AS p_facilitator, 0.0 AS p_intermediary, 0 AS flagged, 'none' AS role, 0.0 AS score,
            '' AS reasons FROM ({universe})""")
        return
    cols = _columns(con, "subject_scores")

    def role_p(r: str) -> str:
        own = f"CASE WHEN s.role = '{r}' THEN coalesce(s.score, 0) ELSE 0 END"
        if f"score_{r}" in cols:
            return f"greatest(coalesce(s.score_{r}, 0), {own})"
        return own

    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE nw_base AS
        SELECT u.subject_id,
               coalesce({role_p("consumer")}, 0) AS p_consumer,
               coalesce({role_p("facilitator")}, 0) AS p_facilitator,
               coalesce({role_p("intermediary")}, 0) AS p_intermediary,
               coalesce(s.flagged, 0) AS flagged, coalesce(s.role, 'none') AS role,
               coalesce(s.score, 0) AS score, coalesce(s.reasons, '') AS reasons
        FROM ({universe}) u LEFT JOIN (
            SELECT * FROM subject_scores QUALIFY row_number() OVER (PARTITION BY subject_id ORDER BY score DESC) = 1
        ) s USING (subject_id)
    """)


def _consumer_is_confident(p: PropagationParams, alias: str = "b") -> str:
    return (
        f"({alias}.p_consumer >= {p.confident_consumer!r} OR "
        f"({alias}.flagged = 1 AND {alias}.role = 'consumer'))"
    )


def _family_payments(con: duckdb.DuckDBPyConnection, hi: str, min_word: int) -> None:
    """``nw_family(src, dst)``: payer and high-risk payee pairs whose cross-border payments name
    both ends with a shared word of ``min_word`` letters or more (a surname): a migrant worker
    sending money home to a sister who happens to run a facilitator family is remitting to family,
    and paying her is no consumer evidence (seeds 303 and 606: an OFW each was flagged by NW01)."""
    if not (table_exists(con, "network_payments") and table_exists(con, "parties")):
        con.execute("CREATE OR REPLACE TEMP TABLE nw_family (src VARCHAR, dst VARCHAR)")
        return
    # a shared given name ("michael smith" paying "michael reyes") is no family tie: when both
    # names have a known surname origin (the indicators' lexicon), the origins must agree
    has_names = table_exists(con, "mt_names")
    origin = "nm.origin" if has_names else "CAST(NULL AS VARCHAR)"
    names_join = "LEFT JOIN mt_names nm ON nm.name_norm = p.name_norm" if has_names else ""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE nw_family AS
        WITH pay AS (
            SELECT np.provider, np.record_id, np.src, np.dst FROM network_payments np
            JOIN nw_r4 r ON r.subject_id = np.dst
            WHERE np.p2p AND np.cross_border AND r.fac >= {hi}
        ), w AS (
            SELECT DISTINCT pay.src, pay.dst, p.side, {origin} AS origin,
                   unnest(string_split(p.name_norm, ' ')) AS word
            FROM pay JOIN parties p ON p.provider = pay.provider AND p.record_id = pay.record_id
            {names_join}
            WHERE p.side IN ('from', 'to') AND p.name_norm IS NOT NULL
        )
        SELECT DISTINCT a.src, a.dst FROM w a
        JOIN w b ON a.src = b.src AND a.dst = b.dst AND a.word = b.word
        WHERE a.side = 'from' AND b.side = 'to' AND length(a.word) >= {min_word}
          AND coalesce(a.origin = b.origin, TRUE)
    """)


def _romance_courses(con: duckdb.DuckDBPyConnection) -> None:
    """``nw_romance(subject_id)``: payers whose every cross-border transfer goes to one payee in
    steeply rising sums (indicator MT35, the course of a romance scam): the victim of a scammer whom
    scoring takes for a facilitator is no consumer, so paying him is no consumer evidence (NW01)."""
    has = table_exists(con, "mt_subi") and "f_MT35" in _columns(con, "mt_subi")
    sql = "SELECT DISTINCT subject_id FROM mt_subi WHERE f_MT35 = 1" if has else "SELECT NULL AS subject_id LIMIT 0"
    con.execute(f"CREATE OR REPLACE TEMP TABLE nw_romance AS {sql}")


def propagate(con: duckdb.DuckDBPyConnection, params: PropagationParams | None = None) -> None:
    """Write ``network_risk`` from ``nw_base`` and the person-to-person edges of ``network_edges``."""
    p = params or PropagationParams()
    conf = _consumer_is_confident(p)
    hi = repr(p.high_risk)
    # only person-to-person money carries risk: card purchases at merchants, withdrawals at cash-out
    # points, top-ups and refunds do not make a shop or an agent a facilitator; consumer and facilitator
    # evidence travels on cross-border person-to-person payments only (I02: foreign senders, common
    # beneficiary), so a domestic friend of a consumer is not tainted; passing money on may be domestic
    con.execute(
        "CREATE OR REPLACE TEMP TABLE nw_pe AS SELECT src, dst, n_p2p AS n, n_xb FROM network_edges WHERE n_p2p > 0"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE nw_xb AS SELECT src, dst, n_xb AS n FROM network_edges WHERE n_xb > 0"
    )

    def guarded(k: str, payers: str, floor: int) -> str:
        return (
            f"CASE WHEN {k} >= {floor} THEN (1 - pow({p.base_decay!r}, {k})) * "
            f"least(1.0, (CAST({k} AS DOUBLE) / {payers}) / {p.share_full!r}) ELSE 0 END"
        )

    # 1. facilitator evidence (NW02): confident consumers paying in, guarded by their share of all payers
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE nw_r1 AS
        WITH f AS (
            SELECT e.dst AS subject_id, count(*) AS payers, count(*) FILTER (WHERE {conf}) AS known
            FROM nw_xb e JOIN nw_base b ON b.subject_id = e.src GROUP BY e.dst
        )
        SELECT b.*, coalesce(f.payers, 0) AS payers, coalesce(f.known, 0) AS known_payers,
               coalesce({guarded("f.known", "f.payers", p.min_consumers)}, 0) AS ev_fac1,
               greatest(b.p_facilitator, coalesce({guarded("f.known", "f.payers", p.min_consumers)}, 0)) AS fac1
        FROM nw_base b LEFT JOIN f USING (subject_id)
    """)
    # 2. (NW04) payers who also pay *another* high-risk facilitator count as consumers
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE nw_r2 AS
        WITH f AS (
            SELECT e.dst AS subject_id, count(*) AS payers,
                   count(*) FILTER (WHERE {conf} OR EXISTS (
                       SELECT 1 FROM nw_xb e2 JOIN nw_r1 r2 ON r2.subject_id = e2.dst
                       WHERE e2.src = e.src AND e2.dst <> e.dst AND r2.fac1 >= {hi})) AS known
            FROM nw_xb e JOIN nw_base b ON b.subject_id = e.src GROUP BY e.dst
        )
        SELECT r.*, coalesce({guarded("f.known", "f.payers", p.min_consumers)}, 0) AS ev_fac2,
               greatest(r.fac1, coalesce({guarded("f.known", "f.payers", p.min_consumers)}, 0)) AS fac2
        FROM nw_r1 r LEFT JOIN f USING (subject_id)
    """)
    # 3. (NW06) collectors: paid on by several high-risk receivers (a network head, a syndicate controller)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE nw_r3 AS
        WITH f AS (
            SELECT e.dst AS subject_id, count(*) AS payers,
                   count(*) FILTER (WHERE b.fac2 >= {hi} AND e.n >= 2) AS fwd,
                   sum(e.n) FILTER (WHERE b.fac2 >= {hi}) AS fwd_n,
                   max(b.fac2) FILTER (WHERE b.fac2 >= {hi}) AS fwd_best
            FROM nw_pe e JOIN nw_r2 b ON b.subject_id = e.src GROUP BY e.dst
        )
        SELECT r.*,
               CASE WHEN f.fwd >= 2 OR (f.fwd = 1 AND f.fwd_n >= 4)
                    THEN f.fwd_best * least(1.0, (CAST(f.fwd AS DOUBLE) / f.payers) / {p.share_full!r})
                    ELSE 0 END AS ev_col
        FROM nw_r2 r LEFT JOIN f USING (subject_id)
    """)
    con.execute("""CREATE OR REPLACE TEMP TABLE nw_r4 AS
                   SELECT *, greatest(fac2, coalesce(ev_col, 0)) AS fac FROM nw_r3""")
    _family_payments(con, hi, p.family_word)
    _romance_courses(con)
    # 4. (NW01) consumers: pay a high-risk facilitator, even once; (NW03) intermediaries: collect from
    #    consumers or are high-risk themselves, and pass money on to a high-risk facilitator
    con.execute(f"""
        CREATE OR REPLACE TABLE network_risk AS
        WITH cp AS (
            SELECT e.src AS subject_id, e.dst, r.fac
            FROM nw_pe e JOIN nw_r4 r ON r.subject_id = e.dst
            WHERE r.fac >= {hi}
        ), cm AS (
            SELECT subject_id, max(fac) AS best_fac FROM cp GROUP BY subject_id
        ), c AS (  -- the riskiest payee; of equals, the lowest id (arg_max would pick any)
            SELECT cm.subject_id, cm.best_fac, min(cp.dst) AS best_payee
            FROM cm JOIN cp ON cp.subject_id = cm.subject_id AND cp.fac = cm.best_fac
            GROUP BY cm.subject_id, cm.best_fac
        ), cx AS (
            SELECT e.src AS subject_id, max(r.fac) AS best_fac
            FROM nw_xb e JOIN nw_r4 r ON r.subject_id = e.dst
            LEFT JOIN nw_family fam ON fam.src = e.src AND fam.dst = e.dst
            LEFT JOIN nw_romance rom ON rom.subject_id = e.src
            WHERE r.fac >= {hi} AND fam.src IS NULL AND rom.subject_id IS NULL GROUP BY e.src
        ), ev AS (
            SELECT r.*, coalesce(c.best_fac, 0) AS best_fac, c.best_payee,
                   coalesce(r.ev_col, 0) AS ev_collect,
                   CASE WHEN r.known_payers = 0 AND r.fac2 < {hi} THEN {p.consumer_gain!r} * coalesce(cx.best_fac, 0)
                        ELSE 0 END AS ev_cons,
                   CASE WHEN (r.known_payers > 0 OR r.fac2 >= {hi}) AND c.best_fac IS NOT NULL
                             AND coalesce(c.best_fac, 0) >= r.fac2
                        THEN greatest(least(c.best_fac, r.fac2), 0.5 + 0.1 * least(r.known_payers, 5))
                        ELSE 0 END AS ev_int
            FROM nw_r4 r LEFT JOIN c USING (subject_id) LEFT JOIN cx USING (subject_id)
        ), net AS (
            SELECT *, CASE WHEN ev_int > 0 THEN 0 ELSE greatest(ev_fac1, ev_fac2, ev_collect) END AS ev_fac FROM ev
        )
        SELECT subject_id,
               greatest(p_consumer, ev_cons) AS p_consumer,
               greatest(p_facilitator, ev_fac) AS p_facilitator,
               greatest(p_intermediary, ev_int) AS p_intermediary,
               ev_cons AS net_consumer, ev_fac AS net_facilitator, ev_int AS net_intermediary,
               payers, known_payers, best_payee,
               concat_ws(';',
                   CASE WHEN ev_cons >= 0.5 THEN 'NW01' END,
                   CASE WHEN ev_fac1 >= 0.5 AND ev_int = 0 THEN 'NW02' END,
                   CASE WHEN ev_int >= 0.5 THEN 'NW03' END,
                   CASE WHEN ev_fac2 >= 0.5 AND ev_fac1 < 0.5 AND ev_int = 0 THEN 'NW04' END,
                   CASE WHEN ev_collect >= 0.5 AND ev_int = 0 THEN 'NW06' END) AS reasons
        FROM net
    """)
