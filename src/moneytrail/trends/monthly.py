"""Flagged activity per month, broken down by corridor, channel, amount band and typology.

Every flagged transaction (``transaction_scores.flagged = 1``) gets four labels, computed
in SQL so the aggregation stays in the warehouse however large it is:

- **corridor**: sender country -> receiver country (``transactions``; ``parties`` fills gaps);
- **channel**: the kind of provider and how the payment was made ("remittance · app",
  "e-wallet · withdrawal", "bank · credit transfer", "card · card transfer");
- **amount band**: USD bands that follow the published price points
  (docs/indicators.md: FATF EUR 10-200, HSI USD 20-60, AMLC up to USD 200);
- **typology**: what the payment looks like, from the flagged roles of the subjects on
  each side and the transaction's reasons (rules in :data:`TYPOLOGY_RULES`, first match wins).

Only a small month x dimension x category table leaves the database.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from moneytrail.errors import UserError
from moneytrail.store import table_exists

DIMENSIONS: tuple[str, ...] = ("corridor", "channel", "amount_band", "typology")
DIMENSION_TITLES: dict[str, str] = {
    "corridor": "Corridor",
    "channel": "Channel",
    "amount_band": "Amount band",
    "typology": "Typology",
}

# (label, lower bound inclusive, upper bound exclusive) in USD.
AMOUNT_BANDS: tuple[tuple[str, float | None, float | None], ...] = (
    ("USD <15", None, 15.0),
    ("USD 15-50", 15.0, 50.0),
    ("USD 50-100", 50.0, 100.0),
    ("USD 100-200", 100.0, 200.0),
    ("USD 200+", 200.0, None),
)
UNKNOWN = "unknown"

# First match wins. `s` and `r` are the flagged role of the paying and the paid side
# ('' when no flagged subject is on that side); `reasons` is transaction_scores.reasons.
TYPOLOGY_RULES: tuple[tuple[str, str, str], ...] = (
    ("platform-linked payment", "regexp_matches(coalesce(reasons, ''), 'MT5[12]')",
     "the payment lines up with a platform session or login (MT51, MT52)"),
    ("cash-out", "txn_type = 'withdrawal'",
     "a withdrawal: money leaving the payment system as cash"),
    ("consumer → facilitator", "s = 'consumer' AND r = 'facilitator'",
     "a flagged consumer pays a flagged facilitator"),
    ("consumer → intermediary", "s = 'consumer' AND r = 'intermediary'",
     "a flagged consumer pays a flagged intermediary (cash-out or pass-through account)"),
    ("consumer → unflagged receiver", "s = 'consumer'",
     "a flagged consumer pays someone not (yet) flagged"),
    ("collection between facilitators", "s IN ('facilitator', 'intermediary') AND r <> ''",
     "money moves between flagged facilitators and intermediaries (collection, pass-through)"),
    ("onward payment by facilitator side", "s IN ('facilitator', 'intermediary')",
     "a flagged facilitator or intermediary pays someone not flagged"),
    ("receipt by flagged receiver", "r <> ''",
     "only the receiving side is flagged"),
    ("flagged payment, no flagged subject", "TRUE",
     "the transaction is flagged on its own; neither side's subject is"),
)

_FAMILY = """CASE
    WHEN format LIKE 'remittance%' THEN 'remittance'
    WHEN format LIKE 'wallet%' THEN 'e-wallet'
    WHEN format LIKE 'card%' THEN 'card'
    WHEN format LIKE 'pacs%' THEN 'bank'
    ELSE coalesce(format, 'unknown') END"""


def _band_sql() -> str:
    arms = []
    for label, lo, hi in AMOUNT_BANDS:
        cond = " AND ".join(
            c for c in (f"amount_usd >= {lo}" if lo is not None else "",
                        f"amount_usd < {hi}" if hi is not None else "") if c)
        arms.append(f"WHEN {cond} THEN '{label}'")
    return f"CASE WHEN amount_usd IS NULL THEN '{UNKNOWN}' {' '.join(arms)} END"


def _typology_sql() -> str:
    arms = " ".join(f"WHEN {cond} THEN '{label}'" for label, cond, _ in TYPOLOGY_RULES)
    return f"CASE {arms} END"


def _roles_cte(con: duckdb.DuckDBPyConnection) -> str:
    """Per transaction side, the strongest flagged role of a subject on it ('' when none)."""
    if not all(table_exists(con, t) for t in ("subject_records", "subject_scores", "parties")):
        return "roles AS (SELECT NULL::VARCHAR AS provider, NULL::VARCHAR AS record_id, NULL::VARCHAR AS side, NULL::VARCHAR AS role WHERE FALSE)"
    return """roles AS (
        SELECT sr.provider, sr.record_id, p.side,
               arg_max(ss.role, CASE ss.role WHEN 'facilitator' THEN 3 WHEN 'intermediary' THEN 2
                                             WHEN 'consumer' THEN 1 ELSE 0 END) AS role
        FROM subject_records sr
        JOIN flagged f USING (provider, record_id)
        JOIN parties p ON p.provider = sr.provider AND p.record_id = sr.record_id AND p.party = sr.party
        JOIN subject_scores ss ON ss.subject_id = sr.subject_id AND ss.flagged = 1
        GROUP BY ALL)"""


def _countries_cte(con: duckdb.DuckDBPyConnection) -> str:
    if not table_exists(con, "parties"):
        return "countries AS (SELECT NULL::VARCHAR AS provider, NULL::VARCHAR AS record_id, NULL::VARCHAR AS from_c, NULL::VARCHAR AS to_c WHERE FALSE)"
    return """countries AS (
        SELECT p.provider, p.record_id,
               min(CASE WHEN side = 'from' THEN country END) AS from_c,
               min(CASE WHEN side = 'to' THEN country END) AS to_c
        FROM parties p JOIN flagged f USING (provider, record_id)
        GROUP BY ALL)"""


def flagged_labels_sql(con: duckdb.DuckDBPyConnection) -> str:
    """SELECT of every flagged transaction with its month and four labels."""
    return f"""
    WITH flagged AS (
        SELECT t.provider, t.record_id, t.format, t.txn_type, t.channel, t.ts_utc, t.amount_usd,
               t.sender_country, t.receiver_country, s.reasons
        FROM transactions t JOIN transaction_scores s USING (provider, record_id)
        WHERE s.flagged = 1 AND t.ts_utc IS NOT NULL),
    {_roles_cte(con)},
    {_countries_cte(con)},
    labelled AS (
        SELECT f.*, coalesce(a.role, '') AS s, coalesce(b.role, '') AS r,
               coalesce(f.sender_country, c.from_c, '??') AS from_country,
               coalesce(f.receiver_country, c.to_c, '??') AS to_country
        FROM flagged f
        LEFT JOIN roles a ON a.provider = f.provider AND a.record_id = f.record_id AND a.side = 'from'
        LEFT JOIN roles b ON b.provider = f.provider AND b.record_id = f.record_id AND b.side = 'to'
        LEFT JOIN countries c ON c.provider = f.provider AND c.record_id = f.record_id)
    SELECT provider, record_id, CAST(date_trunc('month', ts_utc) AS DATE) AS month, amount_usd,
           from_country || ' → ' || to_country AS corridor,
           {_FAMILY} || ' · ' || replace(coalesce(channel, txn_type, 'unknown'), '_', ' ') AS channel,
           {_band_sql()} AS amount_band,
           {_typology_sql()} AS typology
    FROM labelled"""


def check_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("transactions", "transaction_scores"):
        if not table_exists(con, table):
            raise UserError(f"the store has no {table} table: run `moneytrail run BUNDLE --out DIR` first "
                            "and point --store at DIR/warehouse.duckdb")


def month_range(first: date, last: date) -> list[date]:
    """Every first-of-month from `first` to `last`, both included."""
    months, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        months.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def monthly_breakdown(con: duckdb.DuckDBPyConnection, months: int | None = None) -> pd.DataFrame:
    """Long table: month, dimension, category, flagged (count), usd, share of the month's flagged.

    Covers the last `months` months up to the latest month with flagged activity (all when
    None); months inside the range without a category get a zero row for it, so a share
    series has one value per month.
    """
    check_tables(con)
    if months is not None and months < 1:
        raise UserError(f"--months must be at least 1, not {months}")
    parts = " UNION ALL ".join(
        f"SELECT month, '{d}' AS dimension, {d} AS category, count(*) AS flagged, "
        f"coalesce(sum(amount_usd), 0) AS usd FROM labels GROUP BY ALL"
        for d in DIMENSIONS)
    # no temporary view: the web workspace shares one read-only connection between requests
    df = con.execute(f"WITH labels AS ({flagged_labels_sql(con)}) {parts}").df()
    columns = ["month", "dimension", "category", "flagged", "usd", "share"]
    if df.empty:
        return pd.DataFrame(columns=columns)
    df["month"] = pd.to_datetime(df["month"]).dt.date
    all_months = month_range(min(df["month"]), max(df["month"]))
    if months is not None:
        all_months = all_months[-months:]
    df = df[df["month"].isin(all_months)]
    # complete the grid: every (month, dimension, category) seen in the window
    cats = df[["dimension", "category"]].drop_duplicates()
    grid = cats.merge(pd.DataFrame({"month": all_months}), how="cross")
    df = grid.merge(df, on=["month", "dimension", "category"], how="left")
    df["flagged"] = df["flagged"].fillna(0).astype(int)
    df["usd"] = df["usd"].fillna(0.0).astype(float)
    totals = df.groupby(["month", "dimension"])["flagged"].transform("sum")
    df["share"] = (df["flagged"] / totals.where(totals > 0)).astype(float)
    return df.sort_values(["dimension", "month", "flagged"], ascending=[True, True, False])[columns].reset_index(drop=True)


def monthly_totals(breakdown: pd.DataFrame) -> pd.DataFrame:
    """month, flagged, usd: the whole flagged activity of each month."""
    one = breakdown[breakdown["dimension"] == DIMENSIONS[0]]
    return one.groupby("month", as_index=False)[["flagged", "usd"]].sum().sort_values("month")


def category_order(breakdown: pd.DataFrame, dimension: str) -> list[str]:
    """Categories of a dimension, amount bands in band order, others largest first."""
    sub = breakdown[breakdown["dimension"] == dimension]
    if dimension == "amount_band":
        order = [b[0] for b in AMOUNT_BANDS] + [UNKNOWN]
        present = set(sub["category"])
        return [b for b in order if b in present]
    sizes = sub.groupby("category")["flagged"].sum().sort_values(ascending=False, kind="stable")
    return list(sizes.index)
