"""The batch run's own SQL, recorded once and compiled for one payment at a time.

At start-up the batch scoring stage (:func:`moneytrail.scoring.score`) is run
against an empty in-memory DuckDB through a connection that records every
statement. From the recorded ``CREATE ... AS SELECT`` statements this module
takes, by relation and CTE name, the SELECT lists the real-time path needs and
compiles them (:mod:`moneytrail.realtime.sqlcompile`):

=================  =============================================================
``sides``          a party's subject id (resolved, or the batch's fallback id)
``pv``             the pivot of a payment's parties: names, birth date, subjects
``base``/``mt_tx`` the transaction's feature columns (``is_p2p``, ``hr``, ...)
``mt_txi``         every transaction-level indicator (``f_MT01`` ...)
``xb``             a cross-border transfer as the sender aggregates see it
``xb_agg`` ...     the aggregates of ``mt_subj``: arguments, FILTERs, results
``mt_subj``        the subject's feature row from those aggregates
``mt_subi``        every sender- and receiver-level indicator
``mt_txf``         the transaction model's features
``mt_tx_scored``   the calibrated score and the reasons
=================  =============================================================

Parameters per corridor and currency, disabled indicators and the model
weights are already inside that SQL, exactly as the batch run applies them.
What the SQL does across rows (the GROUP BYs, the window functions, the
joins between subjects) is carried out by :mod:`moneytrail.realtime.subjects`;
a count by a grouped CTE joined back on its keys (``mt_tx``'s ``pair_n``) is
read as the window it equals (:func:`grouped_counts`).
A change of shape in the batch SQL stops start-up with :class:`UnsupportedSql`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import duckdb
import sqlglot
from sqlglot import exp

from moneytrail.indicators import Catalogue, ScoringConfig, load_catalogue
from moneytrail.indicators.engine import render, threshold_sql
from moneytrail.indicators.lexicon import install_lexicon
from moneytrail.realtime.sqlcompile import (
    Compiled,
    Env,
    Scope,
    UnsupportedSql,
    compile_select,
    parse_expression,
)
from moneytrail.schema import TABLES
from moneytrail.scoring.model import ModelSet, load_models

_CREATE = re.compile(r"^\s*CREATE\s+OR\s+REPLACE\s+(?:TEMP\s+)?(?:TABLE|VIEW)\s+(\w+)\s+AS\s", re.I)
_AGGREGATES: dict[type[exp.Expression], str] = {
    exp.Count: "count",
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Max: "max",
    exp.Min: "min",
    exp.Corr: "corr",
    exp.StddevSamp: "stddev_samp",
    exp.AnyValue: "any_value",
}


class _Recorder:
    """A DuckDB connection that keeps the text of every statement it runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.selects: dict[str, str] = {}

    def execute(self, sql: str, params: object = None) -> duckdb.DuckDBPyConnection:
        m = _CREATE.match(sql)
        if m:
            self.selects[m.group(1)] = sql[m.end():]
        return self.con.execute(sql, params or [])


def record_batch_sql(cfg: ScoringConfig, models: ModelSet, weights: Path | None) -> dict[str, str]:
    """Run the batch scoring stage on empty tables; the SELECT of each relation it builds."""
    import moneytrail.referrals.tables
    import moneytrail.resolve.tables  # noqa: F401  (they register subject_records, referral_txn_features)
    from moneytrail.scoring import score

    con = duckdb.connect()
    try:
        for name in ("transactions", "parties", "subject_records", "referral_txn_features"):
            con.execute(TABLES[name].ddl())
        rec = _Recorder(con)
        score(cast(duckdb.DuckDBPyConnection, rec), cfg, weights=weights)
        return rec.selects
    finally:
        con.close()


def lexicon_origins(cfg: ScoringConfig) -> dict[str, list[str]]:
    """Surname token -> origin classes, from the lexicon table the batch installs."""
    con = duckdb.connect()
    try:
        install_lexicon(con, high_risk=cfg.high_risk_countries)
        out: dict[str, list[str]] = {}
        for token, origin in con.execute("SELECT token, origin FROM mt_lex_surname ORDER BY token, origin").fetchall():
            out.setdefault(token, []).append(origin)
        return out
    finally:
        con.close()


# --- pieces of a parsed SELECT ---------------------------------------------------------


def _parse(sql: str) -> exp.Select:
    tree = sqlglot.parse_one(sql, read="duckdb")
    if not isinstance(tree, exp.Select):
        raise UnsupportedSql(f"expected a SELECT, got {type(tree).__name__}")
    return tree


def _ctes(select: exp.Select) -> dict[str, exp.Select]:
    with_ = select.args.get("with_") or select.args.get("with")
    out: dict[str, exp.Select] = {}
    for cte in with_.expressions if with_ else []:
        if isinstance(cte.this, exp.Select):
            out[cte.alias] = cte.this
    return out


def _need(ctes: dict[str, exp.Select], name: str, where: str) -> exp.Select:
    if name not in ctes:
        raise UnsupportedSql(f"{where}: the batch SQL has no CTE {name!r} any more; update moneytrail.realtime")
    return ctes[name]


def projections(select: exp.Select) -> list[tuple[str, exp.Expression]]:
    """(output name, expression) of a SELECT list; a star stays a star."""
    out: list[tuple[str, exp.Expression]] = []
    for e in select.expressions:
        if isinstance(e, exp.Alias):
            out.append((e.alias, e.this))
        elif isinstance(e, exp.Column) and isinstance(e.this, exp.Star):
            out.append(("*", e))
        elif isinstance(e, exp.Column):
            out.append((e.name, e))
        else:
            raise UnsupportedSql(f"unnamed column in SELECT list: {e.sql('duckdb')[:80]}")
    return out


def _where(select: exp.Select) -> exp.Expression | None:
    w = select.args.get("where")
    return w.this if w is not None else None


def _group_keys(select: exp.Select) -> list[str]:
    group = select.args.get("group")
    if group is None or not group.expressions or not all(isinstance(g, exp.Column) for g in group.expressions):
        raise UnsupportedSql(f"expected GROUP BY columns in: {select.sql('duckdb')[:80]}")
    return [str(g.name) for g in group.expressions]


def _from_name(select: exp.Select) -> str:
    source = select.args.get("from_") or select.args.get("from")
    table = source.this if source is not None else None
    if not isinstance(table, exp.Table):
        raise UnsupportedSql(f"expected FROM a table in: {select.sql('duckdb')[:80]}")
    return str(table.name)


# --- windows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowDef:
    """A window function of the batch SQL, as the real-time state computes it.

    ``kind``: ``count`` (whole partition), ``lag`` (previous value in order),
    ``range_count`` (rows within ``preceding`` before the current one, peers included).
    The first partition column is the subject whose state holds the window.
    """

    key: str  # the window's SQL text
    slot: str  # its short name in the state and in the compiled code
    kind: str
    partition: tuple[str, ...]
    order: str | None = None
    arg: str | None = None
    preceding: float | None = None


def window_def(node: exp.Window, slot: str) -> WindowDef:
    func = node.this
    parts = tuple(str(c.name) for c in node.args.get("partition_by") or [])
    if not parts or not all(isinstance(c, exp.Column) for c in node.args.get("partition_by") or []):
        raise UnsupportedSql(f"window without a column partition: {node.sql('duckdb')}")
    order_node = node.args.get("order")
    order = None
    if order_node is not None:
        if len(order_node.expressions) != 1 or order_node.expressions[0].args.get("desc"):
            raise UnsupportedSql(f"window order must be one ascending column: {node.sql('duckdb')}")
        order = str(order_node.expressions[0].this.name)
    spec = node.args.get("spec")
    key = node.sql("duckdb")
    if isinstance(func, exp.Count) and isinstance(func.this, exp.Star):
        if order is None and spec is None:
            return WindowDef(key, slot, "count", parts)
        if (order is not None and spec is not None and spec.args.get("kind") == "RANGE"
                and spec.args.get("start_side") == "PRECEDING" and spec.args.get("end") == "CURRENT ROW"):
            return WindowDef(key, slot, "range_count", parts, order, preceding=float(spec.args["start"].name))
    if isinstance(func, exp.Lag) and isinstance(func.this, exp.Column) and order is not None and spec is None \
            and func.args.get("offset") is None:
        return WindowDef(key, slot, "lag", parts, order, arg=str(func.this.name))
    raise UnsupportedSql(f"window function not supported in real time: {key}")


def _window_hook(found: dict[str, WindowDef], prefix: str) -> Callable[[exp.Expression], str | None]:
    def hook(node: exp.Expression) -> str | None:
        if isinstance(node, exp.Window):
            key = node.sql("duckdb")
            if key not in found:
                found[key] = window_def(node, f"{prefix}{len(found)}")
            return f"_a__win[{found[key].slot!r}]"
        return None

    return hook


def grouped_counts(select: exp.Select, ctes: dict[str, exp.Select]) -> dict[tuple[str, str], exp.Window]:
    """Counts by a grouped CTE joined back on its keys, as the window each one equals.

    ``pair AS (SELECT k1, k2, count(*) AS n FROM base GROUP BY k1, k2)`` joined as
    ``JOIN pair pn ON pn.k1 = b.k1 AND pn.k2 = b.k2`` gives every row of ``b`` the size of
    its partition: ``pn.n`` is ``count(*) OVER (PARTITION BY b.k1, b.k2)``, which the
    real-time state keeps. Returns (join alias, column) -> that window.
    """
    out: dict[tuple[str, str], exp.Window] = {}
    for join in select.args.get("joins") or []:
        table = join.this
        if not isinstance(table, exp.Table) or table.name not in ctes or ctes[table.name].args.get("group") is None:
            continue
        cte, alias = ctes[table.name], table.alias_or_name
        where = f"join of {table.name}"
        if join.side or (join.kind or "INNER").upper() != "INNER" or cte.args.get("where") is not None:
            raise UnsupportedSql(f"{where}: expected an inner join of an unfiltered GROUP BY")
        keys = _group_keys(cte)
        on = join.args.get("on")
        conds = list(on.flatten()) if isinstance(on, exp.And) else [on]
        sides: dict[str, exp.Column] = {}
        for c in conds:
            if not isinstance(c, exp.EQ) or not isinstance(c.this, exp.Column) or not isinstance(c.expression, exp.Column):
                raise UnsupportedSql(f"{where}: expected key = key conditions")
            mine, other = (c.this, c.expression) if c.this.table == alias else (c.expression, c.this)
            if mine.table != alias or mine.name != other.name:
                raise UnsupportedSql(f"{where}: expected {alias}.<key> = <row>.<same key>")
            sides[mine.name] = other
        if sorted(sides) != sorted(keys):
            raise UnsupportedSql(f"{where}: joined on {sorted(sides)}, grouped by {keys}")
        partition = ", ".join(sides[k].sql("duckdb") for k in keys)
        for name, e in projections(cte):
            if name in keys:
                continue
            if not (isinstance(e, exp.Count) and isinstance(e.this, exp.Star)):
                raise UnsupportedSql(f"{where}: only count(*) is kept per partition, not {e.sql('duckdb')}")
            win = sqlglot.parse_one(f"count(*) OVER (PARTITION BY {partition})", read="duckdb")
            assert isinstance(win, exp.Window)
            out[(alias, name)] = win
    return out


def _as_windows(expr: exp.Expression, counts: dict[tuple[str, str], exp.Window]) -> exp.Expression:
    """The expression with each grouped count (see :func:`grouped_counts`) read as its window."""
    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and (node.table, node.name) in counts:
            return counts[(node.table, node.name)].copy()
        return node

    return expr.copy().transform(swap)


# --- aggregates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AggDef:
    """One aggregate call: its kind, and where its arguments and FILTER sit in the inputs row."""

    key: str
    kind: str
    args: tuple[str, ...]  # names in the group's inputs row
    filter: str | None


@dataclass
class GroupDef:
    """A GROUP BY of the batch SQL: source, key, WHERE, aggregates and result columns.

    ``inputs`` computes, from one source row, every aggregate argument and FILTER
    condition at once (``a<i>_<j>``, ``f<i>``) and the WHERE (``where``).
    """

    name: str
    source: str
    key: str
    inputs: Compiled
    aggs: list[AggDef]
    result: Compiled  # over alias _g: the aggregate values by position
    has_where: bool

    def result_row(self, values: list[Any]) -> dict[str, Any]:
        return self.result.fn({"_g": values})  # type: ignore[dict-item]


def _strip_agg(node: exp.Expression) -> tuple[exp.Expression, exp.Expression | None]:
    """(aggregate call, FILTER condition) of an aggregate node, or (node, None)."""
    if isinstance(node, exp.Filter):
        return node.this, node.expression.this
    return node, None


def _is_agg(node: exp.Expression) -> bool:
    inner, _ = _strip_agg(node)
    if isinstance(inner, exp.IgnoreNulls):
        inner = inner.this
    return type(inner) in _AGGREGATES


def _agg_parts(node: exp.Expression) -> tuple[str, list[exp.Expression], exp.Expression | None]:
    """(kind, argument expressions, FILTER condition) of an aggregate node."""
    call, cond = _strip_agg(node)
    if isinstance(call, exp.IgnoreNulls):
        call = call.this
    kind = _AGGREGATES[type(call)]
    if kind == "count":
        inner = call.this
        if isinstance(inner, exp.Star):
            return "count_star", [], cond
        if isinstance(inner, exp.Distinct):
            if len(inner.expressions) != 1:
                raise UnsupportedSql("count(DISTINCT ...) of one column only")
            return "count_distinct", [inner.expressions[0]], cond
        return "count", [inner], cond
    if kind == "corr":
        return kind, [call.this, call.expression], cond
    if isinstance(call.this, exp.Distinct):
        raise UnsupportedSql(f"{kind}(DISTINCT ...) is not supported")
    return kind, [call.this], cond


def group_def(name: str, select: exp.Select, source_scope: Scope, source: str) -> GroupDef:
    """Compile one aggregate SELECT (`SELECT key AS subject_id, aggs... FROM src [WHERE] GROUP BY key`)."""
    keys = _group_keys(select)
    aggs: dict[str, AggDef] = {}
    inputs: list[tuple[str, exp.Expression]] = []

    def hook(node: exp.Expression) -> str | None:
        if not _is_agg(node):
            return None
        key = node.sql("duckdb")
        if key not in aggs:
            i = len(aggs)
            kind, args, cond = _agg_parts(node)
            names = tuple(f"a{i}_{j}" for j in range(len(args)))
            inputs.extend(zip(names, args, strict=True))
            if cond is not None:
                inputs.append((f"f{i}", cond))
            aggs[key] = AggDef(key, kind, names, f"f{i}" if cond is not None else None)
        return f"_a__g[{list(aggs).index(key)}]"

    cols = [(n, e) for n, e in projections(select) if not (isinstance(e, exp.Column) and e.name in keys)]
    result = compile_select(cols, Scope({"_g": None}), hook=hook, name=f"group_{name}")
    where_node = _where(select)
    if where_node is not None:
        inputs.append(("where", where_node))
    compiled_inputs = compile_select(inputs, source_scope, name=f"inputs_{name}")
    return GroupDef(name, source, keys[0], compiled_inputs, list(aggs.values()), result, where_node is not None)


def _min_unrel(select: exp.Select, where: str) -> int:
    """The N of `i.n_in_unrel >= N` in a join CTE of mt_subj (agent_recv, from_recv)."""
    for node in select.find_all(exp.GTE):
        if isinstance(node.this, exp.Column) and node.this.name == "n_in_unrel" and isinstance(node.expression, exp.Literal):
            return int(node.expression.this)
    raise UnsupportedSql(f"mt_subj.{where}: expected a condition n_in_unrel >= N")


# --- the whole set -------------------------------------------------------------------------------


@dataclass
class Definitions:
    """Every compiled piece of the batch SQL the real-time path evaluates."""

    cfg: ScoringConfig
    models: ModelSet
    catalogue: Catalogue
    sql: dict[str, str]
    origins: dict[str, list[str]]
    sides: Compiled  # env p (party row), sr (subject_records row or None)
    pv: GroupDef  # over side rows
    base: Compiled  # env t (transaction), pv, rf (referral_txn_features or None)
    tx: Compiled  # env b (base row), so, ro (mt_names rows or None), _win
    txi: Compiled  # env t (mt_tx row) -> fires
    xb_where: Callable[[Env], Any]
    xb: Compiled  # env mt_txi, _win
    xb_inputs: tuple[str, ...]  # the mt_txi columns xb reads
    groups: dict[str, GroupDef]
    agent_min_unrel: int  # agent_recv: receivers with n_in_unrel >= N
    from_min_unrel: int  # from_recv: senders with n_in_unrel >= N
    subj: Compiled  # env ids, o, x, i, h, d, fr
    subi: Compiled  # env s, r
    txf: Compiled  # env t, si, ri
    scored: Compiled  # env mt_txf
    tx_windows: list[WindowDef] = field(default_factory=list)  # of mt_tx (pair_n)
    xb_windows: list[WindowDef] = field(default_factory=list)  # of xb (gap, burst)
    explain: dict[str, Compiled] = field(default_factory=dict)  # indicator id -> value, threshold


def _columns(c: Compiled) -> frozenset[str]:
    return frozenset(c.columns)


def load_definitions(cfg: ScoringConfig, weights: Path | None = None) -> Definitions:
    """Record and compile the batch SQL for this configuration and these weights."""
    cat = load_catalogue()
    models = load_models(weights or cfg.weights)
    sql = record_batch_sql(cfg, models, weights)
    for rel in ("mt_tx", "mt_txi", "mt_subj", "mt_subi", "mt_txf", "mt_tx_scored"):
        if rel not in sql:
            raise UnsupportedSql(f"the batch scoring stage no longer builds {rel}; update moneytrail.realtime")
    tx_windows: dict[str, WindowDef] = {}
    xb_windows: dict[str, WindowDef] = {}

    # mt_tx: sides -> pv -> base -> final SELECT
    tx_sel = _parse(sql["mt_tx"])
    ctes = _ctes(tx_sel)
    sides = compile_select(projections(_need(ctes, "sides", "mt_tx")), Scope({"p": None, "sr": None}, nullable=frozenset({"sr"})), name="sides")
    side_scope = Scope({"sides": _columns(sides)}, default="sides")
    pv = group_def("pv", _need(ctes, "pv", "mt_tx"), side_scope, "sides")
    base_sel = _need(ctes, "base", "mt_tx")
    base = compile_select(projections(base_sel), Scope({"t": None, "pv": None, "rf": None}, nullable=frozenset({"pv", "rf"})), name="base")
    counts = grouped_counts(tx_sel, ctes)
    tx_cols = [(n, _as_windows(e, counts)) for n, e in projections(tx_sel) if n != "*"]
    tx = compile_select(
        tx_cols,
        Scope({"b": _columns(base), "so": frozenset({"name_norm", "origin"}), "ro": frozenset({"name_norm", "origin"}), "_win": None},
              default="b", nullable=frozenset({"so", "ro"})),
        hook=_window_hook(tx_windows, "t"), name="mt_tx",
    )
    txi = compile_select([(n, e) for n, e in projections(_parse(sql["mt_txi"])) if n != "*"], Scope({"t": None}, default="t"), name="mt_txi")

    # mt_subj: xb with its windows, three GROUP BYs, the final SELECT
    subj_sel = _parse(sql["mt_subj"])
    sctes = _ctes(subj_sel)
    xb_sel = _need(sctes, "xb", "mt_subj")
    mt_txi_scope = Scope({"mt_txi": None}, default="mt_txi")
    xb_where_node = _where(xb_sel)
    if xb_where_node is None or _from_name(xb_sel) != "mt_txi":
        raise UnsupportedSql("mt_subj.xb: expected SELECT ... FROM mt_txi WHERE ...")
    xfn = compile_select([("w", xb_where_node)], mt_txi_scope, name="xb_where").fn
    xb = compile_select(projections(xb_sel), Scope({"mt_txi": None, "_win": None}, default="mt_txi"),
                        hook=_window_hook(xb_windows, "x"), name="xb")
    xb_inputs = tuple(sorted({c.name for c in xb_sel.find_all(exp.Column)}))
    if len({w.order for w in xb_windows.values() if w.order}) > 1:
        raise UnsupportedSql("mt_subj.xb: windows ordered by different columns")
    groups: dict[str, GroupDef] = {}
    for name in ("xb_agg", "out_agg", "in_agg"):
        g_sel = _need(sctes, name, "mt_subj")
        src = _from_name(g_sel)
        scope = Scope({"xb": _columns(xb)}, default="xb") if src == "xb" else mt_txi_scope
        groups[name] = group_def(name, g_sel, scope, src)
    aliases = {"ids": frozenset({"subject_id"}), "o": _columns(groups["out_agg"].result),
               "x": _columns(groups["xb_agg"].result), "i": _columns(groups["in_agg"].result),
               "h": frozenset({"agent_hub"}), "d": frozenset({"device_share"}), "fr": frozenset({"n_from_receivers"})}
    subj_scope = Scope(dict(aliases), default="ids", nullable=frozenset(aliases) - {"ids"})
    subj = compile_select(projections(subj_sel), subj_scope, name="mt_subj")
    subi = compile_select(projections(_parse(sql["mt_subi"])), Scope({"s": None, "r": None}), name="mt_subi")
    txf = compile_select(projections(_parse(sql["mt_txf"])), Scope({"t": None, "si": None, "ri": None}, nullable=frozenset({"si", "ri"})), name="mt_txf")
    scored = compile_select(projections(_parse(sql["mt_tx_scored"])), Scope({"mt_txf": None}, default="mt_txf"), name="mt_tx_scored")
    for w in [*tx_windows.values(), *xb_windows.values()]:
        if w.partition[0] != "sender_id":
            raise UnsupportedSql(f"window partitioned by {w.partition[0]}: real time keeps windows per sender only")

    explain: dict[str, Compiled] = {}
    for ind in cat.indicators:
        scope = Scope({"t": None}) if ind.level == "transaction" else Scope({"s": None, "r": None})
        nodes = [("value", parse_expression(f"CAST(({render(ind, cfg, ind.value)}) AS VARCHAR)")),
                 ("threshold", parse_expression(threshold_sql(ind, cfg)))]
        explain[ind.id] = compile_select(nodes, scope, name=f"explain_{ind.id}")
    return Definitions(
        cfg=cfg, models=models, catalogue=cat, sql=sql, origins=lexicon_origins(cfg),
        sides=sides, pv=pv, base=base, tx=tx, txi=txi, xb_where=lambda env: xfn(env)["w"], xb=xb,
        xb_inputs=xb_inputs, groups=groups,
        agent_min_unrel=_min_unrel(_need(sctes, "agent_recv", "mt_subj"), "agent_recv"),
        from_min_unrel=_min_unrel(_need(sctes, "from_recv", "mt_subj"), "from_recv"),
        subj=subj, subi=subi, txf=txf, scored=scored,
        tx_windows=list(tx_windows.values()), xb_windows=list(xb_windows.values()), explain=explain,
    )
