"""Evaluate the catalogue in the warehouse: fires per transaction and per subject.

Tables written (all derived, rebuilt on each run):

``mt_txi``                 mt_tx plus one ``f_<ID>`` column (0/1) per transaction-level indicator
                           (a temporary table: read only by this stage, never written to the store)
``mt_subj``                subject aggregates (features.py)
``mt_subi``                one ``f_<ID>`` column per sender- and receiver-level indicator, per subject
``mt_subg``                payment-graph features per subject (features.build_graph)
``mt_subgi``               one ``f_<ID>`` column per network-level indicator, per subject
``transaction_indicators`` long: each transaction-level indicator that fired, value and threshold
``subject_indicators``     long: each sender/receiver/network-level indicator that fired for a subject
"""

from __future__ import annotations

import re

import duckdb

from moneytrail.indicators import features
from moneytrail.indicators.catalogue import Catalogue, Indicator, load_catalogue
from moneytrail.indicators.config import ScoringConfig, build_config
from moneytrail.indicators.lexicon import install_lexicon
from moneytrail.schema import Column, Table, register
from moneytrail.store import scalar, table_exists

TRANSACTION_INDICATORS = register(
    Table(
        "transaction_indicators",
        "Transaction-level indicators that fired, with the value and threshold (for explanations).",
        (
            Column("provider", "VARCHAR"),
            Column("record_id", "VARCHAR"),
            Column("indicator_id", "VARCHAR"),
            Column("value", "VARCHAR", "the tested value"),
            Column("threshold", "VARCHAR", "the threshold it met, parameters applied"),
        ),
        key=("provider", "record_id", "indicator_id"),
        derived=True,
    )
)
SUBJECT_INDICATORS = register(
    Table(
        "subject_indicators",
        "Sender- and receiver-level indicators that fired for a subject, with value and threshold.",
        (
            Column("subject_id", "VARCHAR"),
            Column("indicator_id", "VARCHAR"),
            Column("value", "VARCHAR"),
            Column("threshold", "VARCHAR"),
        ),
        key=("subject_id", "indicator_id"),
        derived=True,
    )
)

_PH = re.compile(r"\{([a-z_]+)\}")
# the alias of the paid side (``r.``) in a subject-level template; both aliases name one row of one table
_R_ALIAS = re.compile(r"(?<![\w.])r\.(?=[A-Za-z_])")


def _literal(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _regex(words: list[str]) -> str:
    body = "|".join(re.escape(w.lower()) for w in sorted(set(words), key=len, reverse=True))
    return ("(^|[^a-z0-9])(" + body + ")([^a-z0-9]|$)").replace("'", "''")


def param_sql(ind: Indicator, name: str, cfg: ScoringConfig) -> str:
    """The SQL for one parameter: literal, list, regex, or a CASE by corridor/currency."""
    value = cfg.value(ind.id, name)
    if isinstance(value, list):
        if name.endswith("words"):
            return _regex(value)
        return ", ".join("'" + v.replace("'", "''") + "'" for v in value)
    overrides = cfg.overrides.get(ind.id, {}).get(name, [])
    if not overrides:
        return _literal(value)
    whens = []
    # most specific first: currency, exact corridor, one-sided corridor
    def rank(o: object) -> int:
        k = getattr(o, "key", "")
        return 0 if getattr(o, "kind", "") == "currency" else (1 if "*" not in k else 2)

    for o in sorted(overrides, key=rank):
        if o.kind == "currency":
            cond = f"t.currency = '{o.key}'"
        else:
            snd, rcv = o.key.split("-")
            parts = []
            if snd != "*":
                parts.append(f"t.sender_country = '{snd}'")
            if rcv != "*":
                parts.append(f"t.receiver_country = '{rcv}'")
            cond = " AND ".join(parts) or "TRUE"
        whens.append(f"WHEN {cond} THEN {_literal(o.value)}")
    return f"(CASE {' '.join(whens)} ELSE {_literal(value)} END)"


def render(ind: Indicator, cfg: ScoringConfig, expr: str) -> str:
    return _PH.sub(lambda m: param_sql(ind, m.group(1), cfg), expr)


def one_alias(expr: str) -> str:
    """A subject-level template with its ``r.`` columns read as ``s.``.

    The catalogue writes sender-level conditions over ``s.`` and receiver- and network-level
    ones over ``r.``; both name the same row of ``mt_subj`` (or ``mt_subg``), so one scan with
    one alias serves both, where a self-join on ``subject_id`` used to give the second alias.
    """
    return _R_ALIAS.sub("s.", expr)


def condition_sql(ind: Indicator, cfg: ScoringConfig, *, subject: bool = False) -> str:
    """The indicator's condition as a boolean that is never NULL (FALSE when disabled)."""
    if ind.id in cfg.disabled:
        return "FALSE"
    return f"coalesce(({render(ind, cfg, one_alias(ind.fires) if subject else ind.fires)}), FALSE)"


def fires_sql(ind: Indicator, cfg: ScoringConfig, *, subject: bool = False) -> str:
    if ind.id in cfg.disabled:
        return "0"
    return f"CASE WHEN {condition_sql(ind, cfg, subject=subject)} THEN 1 ELSE 0 END"


def threshold_sql(ind: Indicator, cfg: ScoringConfig) -> str:
    """The threshold text as a SQL string expression (per-corridor values included)."""
    parts: list[str] = []
    pos = 0
    for m in _PH.finditer(ind.threshold):
        parts.append("'" + ind.threshold[pos:m.start()].replace("'", "''") + "'")
        value = cfg.value(ind.id, m.group(1))
        if isinstance(value, list):
            parts.append("'" + ", ".join(value)[:60].replace("'", "''") + "'")
        else:
            parts.append(f"CAST({param_sql(ind, m.group(1), cfg)} AS VARCHAR)")
        pos = m.end()
    parts.append("'" + ind.threshold[pos:].replace("'", "''") + "'")
    return " || ".join(parts)


def drop_stored(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop every table or view of that name: a temporary one, then one kept in the store by an older version."""
    for _ in range(2):  # a temporary table hides a stored one of the same name
        if not table_exists(con, name):
            return
        kind = scalar(con, "SELECT table_type FROM information_schema.tables WHERE table_name = ? "
                           "ORDER BY table_catalog = 'temp' DESC LIMIT 1", [name])
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {name}")


def compute_indicators(
    con: duckdb.DuckDBPyConnection,
    cfg: ScoringConfig | None = None,
    *,
    catalogue: Catalogue | None = None,
    long_tables: bool = True,
) -> None:
    """Build the feature tables and evaluate every indicator of the catalogue."""
    cfg = cfg or build_config()
    cat = catalogue or load_catalogue()
    install_lexicon(con, high_risk=cfg.high_risk_countries)
    features.build_names(con)
    features.build_tx(con, cfg)
    tx_inds = cat.by_level("transaction")
    cols = ",\n".join(f"{fires_sql(i, cfg)} AS f_{i.id}" for i in tx_inds)
    drop_stored(con, "mt_txi")
    # temporary: the stage's scratch, read by the subject aggregates, the long table and mt_txf
    # within this connection; compressing it into the store cost more than computing it
    con.execute(f"CREATE OR REPLACE TEMP TABLE mt_txi AS SELECT t.*, {cols} FROM mt_tx t")
    features.build_subjects(con, cfg)
    subj_inds = cat.by_level("sender") + cat.by_level("receiver")
    scols = ",\n".join(f"{fires_sql(i, cfg, subject=True)} AS f_{i.id}" for i in subj_inds)
    con.execute(f"CREATE OR REPLACE TABLE mt_subi AS SELECT s.subject_id, {scols} FROM mt_subj s")
    features.build_graph(con)
    net_inds = cat.by_level("network")
    gcols = "".join(f",\n{fires_sql(i, cfg, subject=True)} AS f_{i.id}" for i in net_inds)
    con.execute(f"CREATE OR REPLACE TABLE mt_subgi AS SELECT s.subject_id{gcols} FROM mt_subg s")
    if long_tables:
        write_long_tables(con, cfg, cat)


def write_long_tables(con: duckdb.DuckDBPyConnection, cfg: ScoringConfig, cat: Catalogue) -> None:
    parts = [
        f"SELECT t.provider, t.record_id, '{i.id}' AS indicator_id, "
        f"CAST(({render(i, cfg, i.value)}) AS VARCHAR) AS value, {threshold_sql(i, cfg)} AS threshold "
        f"FROM mt_txi t WHERE t.f_{i.id} = 1"
        for i in cat.by_level("transaction")
    ]
    con.execute("DROP TABLE IF EXISTS transaction_indicators")
    con.execute(TRANSACTION_INDICATORS.ddl())
    con.execute(f"INSERT INTO transaction_indicators {' UNION ALL '.join(parts)}")
    # one filtered scan per indicator of the table its condition reads (no join): the condition
    # is the one mt_subi / mt_subgi evaluated, so the rows are those whose f_<ID> is 1
    sparts = [
        f"SELECT s.subject_id, '{i.id}' AS indicator_id, "
        f"CAST(({render(i, cfg, one_alias(i.value))}) AS VARCHAR) AS value, {threshold_sql(i, cfg)} AS threshold "
        f"FROM {table} s WHERE {condition_sql(i, cfg, subject=True)}"
        for table, levels in (("mt_subj", ("sender", "receiver")), ("mt_subg", ("network",)))
        for level in levels
        for i in cat.by_level(level)
        if i.id not in cfg.disabled
    ]
    con.execute("DROP TABLE IF EXISTS subject_indicators")
    con.execute(SUBJECT_INDICATORS.ddl())
    if sparts:
        con.execute(f"INSERT INTO subject_indicators {' UNION ALL '.join(sparts)}")
