"""Compile the batch run's SQL expressions into Python, once, for one-row evaluation.

The real-time path must not re-implement any indicator. It takes the very SQL
text the batch stages generate (catalogue conditions with parameters applied,
feature expressions, model scores) and turns each SELECT list into one Python
function over rows held as dicts. DuckDB takes tens of milliseconds to *plan*
those statements, far too long per payment; the compiled functions run in
microseconds.

Only the scalar part of DuckDB's dialect the stages use is supported, with
SQL's NULL semantics (``None``): three-valued AND/OR/NOT, NULL-propagating
operators and comparisons, CASE, COALESCE, NULLIF, IN, BETWEEN, IS NULL,
casts, ``||``, regexp_matches, lower, string_split, list_has_any, epoch,
date_diff (minute, year: boundaries crossed, as DuckDB counts),
greatest/least (NULLs ignored), exp, isnan, concat_ws. Division follows
DuckDB: always fractional, x/0 is +-inf and 0/0 is NaN. Anything else raises
:class:`UnsupportedSql` at start-up, naming the construct, never later.
Aggregates and window functions are left to the caller through a hook.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlglot
from sqlglot import exp

Row = dict[str, Any]
Env = Mapping[str, Row | None]
Hook = Callable[[exp.Expression], str | None]

_EPOCH = datetime(1970, 1, 1)


class UnsupportedSql(Exception):
    """A construct of the batch SQL the compiler does not know (raised at start-up)."""


# --- the runtime helpers generated code calls ------------------------------------


def _div(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if b == 0:
        if a == 0 or (isinstance(a, float) and math.isnan(a)):
            return math.nan
        return math.inf if a > 0 else -math.inf
    return a / b


def _mod(a: Any, b: Any) -> Any:
    if a is None or b is None or b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a - b * int(a / b)  # the sign of the dividend, as C and DuckDB
    return math.fmod(float(a), float(b))


def _text(v: Any) -> str:
    """A value as DuckDB writes it in a VARCHAR cast."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return f"{v:.1f}"
        return repr(v)
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    return str(v)


def _cat(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    return _text(a) + _text(b)


def _to_int(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return round(v)  # half to even, as DuckDB casts a DOUBLE
    return round(float(str(v).strip()))


def _try_int(v: Any) -> Any:
    try:
        return _to_int(v)
    except (ValueError, OverflowError):
        return None


def _to_float(v: Any) -> Any:
    return None if v is None else float(v)


def _to_date(v: Any) -> Any:
    if v is None or (isinstance(v, date) and not isinstance(v, datetime)):
        return v
    if isinstance(v, datetime):
        return v.date()
    return date.fromisoformat(str(v).strip()[:10])


def _epoch(v: Any) -> Any:
    if v is None:
        return None
    if v.tzinfo is not None:
        v = v.astimezone(UTC).replace(tzinfo=None)
    return (v - _EPOCH) / timedelta(seconds=1)


def _diff_minute(start: Any, end: Any) -> Any:
    if start is None or end is None:
        return None
    floor = {"second": 0, "microsecond": 0}
    return (end.replace(**floor) - start.replace(**floor)) // timedelta(minutes=1)


def _diff_year(start: Any, end: Any) -> Any:
    if start is None or end is None:
        return None
    return end.year - start.year


def _nullif(a: Any, b: Any) -> Any:
    return None if a is not None and b is not None and a == b else a


def _greatest(*vs: Any) -> Any:
    present = [v for v in vs if v is not None]
    return max(present) if present else None


def _least(*vs: Any) -> Any:
    present = [v for v in vs if v is not None]
    return min(present) if present else None


def _concat_ws(sep: Any, *vs: Any) -> Any:
    if sep is None:
        return None
    return _text(sep).join(_text(v) for v in vs if v is not None)


def _overlaps(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    return not {x for x in a if x is not None}.isdisjoint(x for x in b if x is not None)


def _exp(v: Any) -> Any:
    return None if v is None else math.exp(v)


def _o(v: Any) -> Any:
    """DuckDB orders NaN above every number and equal to itself; Python's NaN compares false."""
    if isinstance(v, float) and v != v:
        return (1, 0.0)
    return (0, v)


_RUNTIME: dict[str, Any] = {
    name: obj for name, obj in globals().items()
    if name.startswith("_") and callable(obj) and not name.startswith("__")
} | {"math": math}


# --- the compiler ---------------------------------------------------------------


@dataclass
class Scope:
    """The rows an expression reads: alias -> known columns (None: any column).

    ``nullable`` aliases may be missing (a LEFT JOIN without a match): their
    columns then read as NULL. ``default`` takes unqualified columns that no
    alias declares.
    """

    aliases: dict[str, frozenset[str] | None]
    default: str | None = None
    nullable: frozenset[str] = frozenset()

    def resolve(self, table: str, name: str) -> str:
        if table:
            if table not in self.aliases:
                raise UnsupportedSql(f"unknown table alias {table!r} (column {name!r})")
            return table
        for alias, cols in self.aliases.items():
            if cols is not None and name in cols:
                return alias
        if self.default is None:
            raise UnsupportedSql(f"cannot tell which row column {name!r} belongs to")
        return self.default


@dataclass
class _Gen:
    scope: Scope
    hook: Hook | None
    consts: dict[str, Any] = field(default_factory=dict)
    n: int = 0

    def tmp(self) -> str:
        self.n += 1
        return f"_v{self.n}"

    def const(self, value: Any) -> str:
        for name, existing in self.consts.items():
            if type(existing) is type(value) and existing == value:
                return name
        name = f"_c{len(self.consts)}"
        self.consts[name] = value
        return name

    # NULL-propagating application of a Python operator template to operands
    def strict(self, template: str, *args: exp.Expression) -> str:
        names: list[str] = []
        binds: list[str] = []
        for a in args:
            if isinstance(a, exp.Literal | exp.Boolean):
                names.append(self.gen(a))  # never NULL: no test needed
            else:
                n = self.tmp()
                names.append(n)
                binds.append(f"({n} := {self.gen(a)}) is None")
        if not binds:
            return template.format(*names)
        return f"(None if {' or '.join(binds)} else {template.format(*names)})"

    def gen(self, node: exp.Expression) -> str:
        if self.hook is not None:
            hooked = self.hook(node)
            if hooked is not None:
                return hooked
        method = getattr(self, "g_" + type(node).__name__, None)
        if method is None:
            raise UnsupportedSql(f"SQL construct {type(node).__name__} is not supported: {node.sql('duckdb')[:120]}")
        out: str = method(node)
        return out

    # leaves
    def g_Column(self, node: exp.Column) -> str:
        alias = self.scope.resolve(node.table, node.name)
        var = f"_a_{alias}"
        if alias in self.scope.nullable:
            return f"(None if {var} is None else {var}[{node.name!r}])"
        return f"{var}[{node.name!r}]"

    def g_Literal(self, node: exp.Literal) -> str:
        if node.is_string:
            return repr(node.this)
        text = node.this
        return repr(int(text)) if re.fullmatch(r"-?\d+", text) else repr(float(text))

    def g_Boolean(self, node: exp.Boolean) -> str:
        return "True" if node.this else "False"

    def g_Null(self, node: exp.Null) -> str:
        return "None"

    def g_Paren(self, node: exp.Paren) -> str:
        return self.gen(node.this)

    # logic
    def g_And(self, node: exp.And) -> str:
        a, b = self.tmp(), self.tmp()
        return (f"(False if (({a} := {self.gen(node.this)}) is False) | (({b} := {self.gen(node.expression)}) is False) "
                f"else (None if {a} is None or {b} is None else True))")

    def g_Or(self, node: exp.Or) -> str:
        a, b = self.tmp(), self.tmp()
        return (f"(True if (({a} := {self.gen(node.this)}) is True) | (({b} := {self.gen(node.expression)}) is True) "
                f"else (None if {a} is None or {b} is None else False))")

    def g_Not(self, node: exp.Not) -> str:
        return self.strict("(not {0})", node.this)

    def g_Is(self, node: exp.Is) -> str:
        if not isinstance(node.expression, exp.Null):
            raise UnsupportedSql(f"IS only with NULL: {node.sql('duckdb')}")
        return f"({self.gen(node.this)} is None)"

    def _cmp(self, node: exp.Binary, op: str) -> str:
        """A comparison with DuckDB's NaN order, by `_o` only when an operand is NaN (x != x).

        Comparisons are most of what the indicators evaluate: the plain operator on
        ordinary values keeps a payment's hundreds of them from building tuples.
        """
        operands = (node.this, node.expression)
        checks = [f"{{{i}}} == {{{i}}}" for i, a in enumerate(operands) if not isinstance(a, exp.Literal | exp.Boolean)]
        plain, nan_aware = "({0} " + op + " {1})", "(_o({0}) " + op + " _o({1}))"
        if not checks:
            return self.strict(plain, *operands)
        return self.strict(f"({plain} if {' and '.join(checks)} else {nan_aware})", *operands)

    def g_EQ(self, node: exp.EQ) -> str:
        return self._cmp(node, "==")

    def g_NEQ(self, node: exp.NEQ) -> str:
        return self._cmp(node, "!=")

    def g_GT(self, node: exp.GT) -> str:
        return self._cmp(node, ">")

    def g_GTE(self, node: exp.GTE) -> str:
        return self._cmp(node, ">=")

    def g_LT(self, node: exp.LT) -> str:
        return self._cmp(node, "<")

    def g_LTE(self, node: exp.LTE) -> str:
        return self._cmp(node, "<=")

    def g_Between(self, node: exp.Between) -> str:
        # x >= lo AND x <= hi, with three-valued AND
        x, lo, hi = node.this, node.args["low"], node.args["high"]
        return self.g_And(exp.And(this=exp.GTE(this=x, expression=lo), expression=exp.LTE(this=x, expression=hi)))

    def g_In(self, node: exp.In) -> str:
        items = node.expressions
        if not items or not all(isinstance(i, exp.Literal | exp.Boolean) for i in items):
            raise UnsupportedSql(f"IN takes a list of constants here: {node.sql('duckdb')[:120]}")
        values = frozenset(eval(self.gen(i)) for i in items)  # literals only, see above
        return self.strict("({0} in " + self.const(values) + ")", node.this)

    # arithmetic and text
    def g_Add(self, node: exp.Add) -> str:
        return self.strict("({0} + {1})", node.this, node.expression)

    def g_Sub(self, node: exp.Sub) -> str:
        return self.strict("({0} - {1})", node.this, node.expression)

    def g_Mul(self, node: exp.Mul) -> str:
        return self.strict("({0} * {1})", node.this, node.expression)

    def g_Div(self, node: exp.Div) -> str:
        return f"_div({self.gen(node.this)}, {self.gen(node.expression)})"

    def g_Mod(self, node: exp.Mod) -> str:
        return f"_mod({self.gen(node.this)}, {self.gen(node.expression)})"

    def g_Neg(self, node: exp.Neg) -> str:
        return self.strict("(-{0})", node.this)

    def g_DPipe(self, node: exp.DPipe) -> str:
        return f"_cat({self.gen(node.this)}, {self.gen(node.expression)})"

    def g_Lower(self, node: exp.Lower) -> str:
        return self.strict("{0}.lower()", node.this)

    def g_Upper(self, node: exp.Upper) -> str:
        return self.strict("{0}.upper()", node.this)

    def g_Trim(self, node: exp.Trim) -> str:
        if node.expression is not None or node.args.get("position"):
            raise UnsupportedSql(f"only trim(x) is supported: {node.sql('duckdb')}")
        return self.strict("{0}.strip(' ')", node.this)

    def g_RegexpLike(self, node: exp.RegexpLike) -> str:
        pattern = node.expression
        if not isinstance(pattern, exp.Literal) or not pattern.is_string:
            raise UnsupportedSql("regexp_matches needs a constant pattern")
        rx = self.const(re.compile(pattern.this))
        return self.strict(f"({rx}.search({{0}}) is not None)", node.this)

    def g_Split(self, node: exp.Split) -> str:
        return self.strict("{0}.split({1})", node.this, node.expression)

    def g_ArrayOverlaps(self, node: exp.ArrayOverlaps) -> str:
        return f"_overlaps({self.gen(node.this)}, {self.gen(node.expression)})"

    def g_IsNan(self, node: exp.IsNan) -> str:
        return self.strict("math.isnan({0})", node.this)

    def g_Exp(self, node: exp.Exp) -> str:
        return f"_exp({self.gen(node.this)})"

    # functions over several arguments
    def _all(self, node: exp.Expression) -> list[str]:
        return [self.gen(node.this), *(self.gen(e) for e in node.expressions)]

    def g_Coalesce(self, node: exp.Coalesce) -> str:
        parts = [node.this, *node.expressions]
        out = self.gen(parts[-1])
        for part in reversed(parts[:-1]):
            t = self.tmp()
            out = f"({t} if ({t} := {self.gen(part)}) is not None else {out})"
        return out

    def g_Nullif(self, node: exp.Nullif) -> str:
        return f"_nullif({self.gen(node.this)}, {self.gen(node.expression)})"

    def g_Greatest(self, node: exp.Greatest) -> str:
        return f"_greatest({', '.join(self._all(node))})"

    def g_Least(self, node: exp.Least) -> str:
        return f"_least({', '.join(self._all(node))})"

    def g_ConcatWs(self, node: exp.ConcatWs) -> str:
        return f"_concat_ws({', '.join(self.gen(e) for e in node.expressions)})"

    def g_Case(self, node: exp.Case) -> str:
        if node.this is not None:
            raise UnsupportedSql("CASE x WHEN ... (simple CASE) is not supported")
        default = node.args.get("default")
        out = self.gen(default) if default is not None else "None"
        for branch in reversed(node.args["ifs"]):
            out = f"({self.gen(branch.args['true'])} if ({self.gen(branch.this)}) is True else {out})"
        return out

    def g_If(self, node: exp.If) -> str:
        false = node.args.get("false")
        return (f"({self.gen(node.args['true'])} if ({self.gen(node.this)}) is True "
                f"else {self.gen(false) if false is not None else 'None'})")

    # types and time
    def _cast(self, node: exp.Cast, safe: bool) -> str:
        to = node.to.this
        kind = to.name if hasattr(to, "name") else str(to)
        inner = self.gen(node.this)
        if kind in ("BIGINT", "INT", "SMALLINT", "TINYINT", "HUGEINT"):
            return f"{'_try_int' if safe else '_to_int'}({inner})"
        if kind in ("DOUBLE", "FLOAT", "DECIMAL"):
            return f"_to_float({inner})"
        if kind in ("VARCHAR", "TEXT"):
            t = self.tmp()
            return f"(None if ({t} := {inner}) is None else _text({t}))"
        if kind == "DATE":
            return f"_to_date({inner})"
        raise UnsupportedSql(f"CAST to {kind} is not supported")

    def g_Cast(self, node: exp.Cast) -> str:
        return self._cast(node, safe=False)

    def g_TryCast(self, node: exp.TryCast) -> str:
        return self._cast(node, safe=True)

    def g_TimeToUnix(self, node: exp.TimeToUnix) -> str:
        return f"_epoch({self.gen(node.this)})"

    def g_DateDiff(self, node: exp.DateDiff) -> str:
        unit = node.args["unit"].name.lower()
        if unit not in ("minute", "year"):
            raise UnsupportedSql(f"date_diff by {unit} is not supported")
        return f"_diff_{unit}({self.gen(node.expression)}, {self.gen(node.this)})"


@dataclass
class Compiled:
    """A compiled SELECT list: ``fn(env) -> {output column: value}``."""

    fn: Callable[[Env], Row]
    columns: list[str]
    source: str


def compile_select(
    projections: list[tuple[str, exp.Expression]],
    scope: Scope,
    *,
    hook: Hook | None = None,
    name: str = "select",
) -> Compiled:
    """One Python function computing every ``(output name, expression)`` of a SELECT list."""
    gen = _Gen(scope, hook)
    lines = [f"def {name}(env):"]
    lines += [f"    _a_{alias} = env.get({alias!r})" for alias in scope.aliases]
    body = ",\n        ".join(f"{col!r}: {gen.gen(e)}" for col, e in projections)
    lines.append(f"    return {{\n        {body}\n    }}")
    source = "\n".join(lines)
    namespace: dict[str, Any] = dict(_RUNTIME) | gen.consts
    exec(compile(source, f"<moneytrail.realtime:{name}>", "exec"), namespace)
    return Compiled(namespace[name], [c for c, _ in projections], source)


def parse_expression(sql: str) -> exp.Expression:
    """One DuckDB expression, parsed."""
    node = sqlglot.parse_one(sql, read="duckdb")
    if not isinstance(node, exp.Expression):
        raise UnsupportedSql(f"not an expression: {sql[:80]}")
    return node


def compile_expression(node: exp.Expression, scope: Scope, *, hook: Hook | None = None) -> Callable[[Env], Any]:
    """One expression as ``fn(env) -> value``."""
    compiled = compile_select([("value", node)], scope, hook=hook, name="expression")
    fn = compiled.fn
    return lambda env: fn(env)["value"]
