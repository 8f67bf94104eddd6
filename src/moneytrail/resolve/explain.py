"""Why two records are (or are not) one subject.

``explain_link(con, "RemitCo:T001:sender", "PayWallet:W9:payer")`` scores the
two records with the saved model — each comparison's level and match weight,
the counterparty evidence and the total — lists the strong identifiers they
share, and, when they are in one subject without being compared directly, the
chain of links (identifiers and scored pairs) that joined them.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
from rich.console import Group
from rich.table import Table
from rich.text import Text

from moneytrail.errors import UserError
from moneytrail.resolve.run import PROFILES_FOR_MODEL_SQL, levels_json_sql, load_model
from moneytrail.resolve.splink_model import SplinkModel


def parse_key(key: str) -> tuple[str, str, str]:
    """``PROVIDER:RECORD_ID:PARTY``, split on the first and the last colon."""
    first, last = key.find(":"), key.rfind(":")
    if first < 0 or last == first:
        raise UserError(f"{key!r} is not PROVIDER:RECORD_ID:PARTY")
    return key[:first], key[first + 1 : last], key[last + 1 :]


@dataclass
class ChainStep:
    a: str
    b: str
    evidence: str


@dataclass
class LinkExplanation:
    a: str
    b: str
    subject_a: str | None
    subject_b: str | None
    comparisons: list[tuple[str, str, float]] = field(default_factory=list)
    """(comparison, level label, match weight)"""
    shared_identifiers: list[tuple[str, str]] = field(default_factory=list)
    transactions: list[tuple[str, str]] = field(default_factory=list)
    """(kind, PROVIDER:RECORD_ID) of transactions that tie the two records directly
    (a withdrawal to one's own account)."""
    match_weight: float | None = None
    match_probability: float | None = None
    chain: list[ChainStep] = field(default_factory=list)

    @property
    def same_subject(self) -> bool:
        return self.subject_a is not None and self.subject_a == self.subject_b

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "subject_a": self.subject_a,
            "subject_b": self.subject_b,
            "same_subject": self.same_subject,
            "comparisons": [
                {"comparison": c, "level": lvl, "match_weight": w} for c, lvl, w in self.comparisons
            ],
            "shared_identifiers": [{"kind": k, "value": v} for k, v in self.shared_identifiers],
            "transactions": [{"kind": k, "transaction": v} for k, v in self.transactions],
            "match_weight": self.match_weight,
            "match_probability": self.match_probability,
            "chain": [{"a": s.a, "b": s.b, "evidence": s.evidence} for s in self.chain],
        }


def _record(con: duckdb.DuckDBPyConnection, key: str) -> tuple[int, int | None, str | None]:
    provider, record_id, party = parse_key(key)
    rows = con.execute(
        """
        SELECT r.rid, r.pid, s.subject_id FROM resolve_records r
        LEFT JOIN subject_records s ON s.provider = r.provider AND s.record_id = r.record_id
          AND s.party = r.party
        WHERE r.provider = ? AND r.record_id = ? AND r.party = ?
        """,
        [provider, record_id, party],
    ).fetchall()
    if not rows:
        raise UserError(f"no resolved record {key}: run `moneytrail resolve` first")
    rid, pid, subject = rows[0]
    return int(rid), (int(pid) if pid is not None else None), subject


def _key(con: duckdb.DuckDBPyConnection, rid: int) -> str:
    p, r, q = con.execute(
        "SELECT provider, record_id, party FROM resolve_records WHERE rid = ?", [rid]
    ).fetchall()[0]
    return f"{p}:{r}:{q}"


def _score(con: duckdb.DuckDBPyConnection, pid_a: int, pid_b: int) -> dict[str, Any] | None:
    loaded = load_model(con)
    if loaded is None:
        return None
    model, _ = loaded
    cp_m, cp_u = model.pop("moneytrail_counterparty_m_u", [0.5, 0.5])
    profiles = con.sql(
        f"SELECT * FROM ({PROFILES_FOR_MODEL_SQL}) WHERE pid IN ({int(pid_a)}, {int(pid_b)})"
    ).to_arrow_table()
    tf = con.sql("SELECT name_sorted, city FROM resolve_profiles").to_arrow_table()
    sm = SplinkModel(profiles, model=model, tf_source=tf)
    pair = pa.table({"pid_l": pa.array([pid_a], pa.int64()), "pid_r": pa.array([pid_b], pa.int64())})
    scored = sm.predict(pair)
    labels = sm.levels()
    sm.close()
    con.register("_explain_scored_arrow", scored)
    try:
        row = con.execute(
            f"SELECT match_weight, {levels_json_sql(labels, 's')} FROM "
            "(SELECT *, NULL::DOUBLE AS w_counterparty, NULL::DOUBLE AS w_subject, NULL::DOUBLE AS w_receiver, NULL::DOUBLE AS w_account FROM _explain_scored_arrow) s"
        ).fetchall()[0]
    finally:
        con.unregister("_explain_scored_arrow")
    return {"match_weight": float(row[0]), "levels": json.loads(row[1]), "cp": (cp_m, cp_u)}


def _counterparty(con: duckdb.DuckDBPyConnection, rid_a: int, rid_b: int) -> bool | None:
    rows = con.execute(
        """
        SELECT r.rid, list(DISTINCT s.subject_id) FROM resolve_records r
        JOIN resolve_records o ON o.provider = r.provider AND o.record_id = r.record_id
          AND o.party <> r.party AND o.side <> r.side AND r.side IN ('from', 'to')
        JOIN subject_records s ON s.provider = o.provider AND s.record_id = o.record_id
          AND s.party = o.party
        WHERE r.pid IN (SELECT pid FROM resolve_records WHERE rid IN (?, ?))
        GROUP BY r.pid, r.rid
        """,
        [rid_a, rid_b],
    ).fetchall()
    pid_of = dict(
        con.execute("SELECT rid, pid FROM resolve_records WHERE rid IN (?, ?)", [rid_a, rid_b]).fetchall()
    )
    by_pid: dict[int, set[str]] = {}
    for rid, subjects in rows:
        p = con.execute("SELECT pid FROM resolve_records WHERE rid = ?", [rid]).fetchall()[0][0]
        by_pid.setdefault(p, set()).update(subjects)
    a, b = by_pid.get(pid_of.get(rid_a)), by_pid.get(pid_of.get(rid_b))  # type: ignore[arg-type]
    if not a or not b:
        return None
    return bool(a & b)


def _chain(con: duckdb.DuckDBPyConnection, rid_a: int, rid_b: int, subject: str) -> list[ChainStep]:
    edges = con.execute(
        """
        WITH members AS (
          SELECT r.rid FROM resolve_records r JOIN subject_records s
            ON s.provider = r.provider AND s.record_id = r.record_id AND s.party = r.party
          WHERE s.subject_id = ?
        )
        SELECT rid_l, rid_r, kind, value, match_probability FROM resolve_links
        WHERE merged AND rid_l IN (SELECT rid FROM members) AND rid_r IN (SELECT rid FROM members)
        """,
        [subject],
    ).fetchall()
    adj: dict[int, list[tuple[int, str]]] = {}
    for lft, r, kind, value, prob in edges:
        if kind == "identifier:merchant_name":
            ev = f"merchant paid under its name {value}"
        elif kind.startswith("identifier:"):
            ev = f"{kind.split(':', 1)[1]} {value}"
        elif kind.startswith("transaction:"):
            ev = f"{kind.split(':', 1)[1]} to own account {value}"
        else:
            ev = f"scored p={prob:.4f}"
        adj.setdefault(lft, []).append((r, ev))
        adj.setdefault(r, []).append((lft, ev))
    prev: dict[int, tuple[int, str]] = {}
    seen = {rid_a}
    queue = deque([rid_a])
    while queue:
        x = queue.popleft()
        if x == rid_b:
            break
        for y, ev in adj.get(x, []):
            if y not in seen:
                seen.add(y)
                prev[y] = (x, ev)
                queue.append(y)
    if rid_b not in prev:
        return []
    steps: list[ChainStep] = []
    x = rid_b
    while x != rid_a:
        y, ev = prev[x]
        steps.append(ChainStep(_key(con, y), _key(con, x), ev))
        x = y
    return steps[::-1]


def _recorded_evidence(con: duckdb.DuckDBPyConnection, pid_a: int, pid_b: int) -> list[tuple[str, str, float]]:
    """Subject-level evidence the run recorded for this pair of profiles (rare name;
    receiver paid by the same payer): it depends on the first-pass subjects, so it is
    read from ``resolve_links`` rather than recomputed."""
    rows = con.execute(
        """
        SELECT l.levels FROM resolve_links l
        JOIN resolve_records a ON a.rid = l.rid_l JOIN resolve_records b ON b.rid = l.rid_r
        WHERE l.kind = 'splink' AND l.levels IS NOT NULL
          AND ((a.pid = ? AND b.pid = ?) OR (a.pid = ? AND b.pid = ?))
        LIMIT 1
        """,
        [pid_a, pid_b, pid_b, pid_a],
    ).fetchall()
    if not rows:
        return []
    levels = json.loads(rows[0][0])
    out = []
    for comp in ("subject_evidence", "receiver_evidence", "account_evidence"):
        label, weight = levels.get(comp, ["n/a", 0.0])
        if weight:
            out.append((comp, str(label), float(weight)))
    return out


def explain_link(con: duckdb.DuckDBPyConnection, a: str, b: str) -> LinkExplanation:
    """The evidence between two records, given as ``PROVIDER:RECORD_ID:PARTY``."""
    rid_a, pid_a, subj_a = _record(con, a)
    rid_b, pid_b, subj_b = _record(con, b)
    out = LinkExplanation(a, b, subj_a, subj_b)
    out.shared_identifiers = [
        (k, v)
        for k, v in con.execute(
            """
            SELECT a.kind, a.value FROM resolve_identifiers a
            JOIN resolve_identifiers b ON a.kind = b.kind AND a.value = b.value
            ANTI JOIN shared_identifiers s ON s.kind = a.kind AND s.value = a.value
            WHERE a.rid = ? AND b.rid = ? ORDER BY 1, 2
            """,
            [rid_a, rid_b],
        ).fetchall()
    ]
    out.transactions = [
        (kind.split(":", 1)[1], value)
        for kind, value in con.execute(
            """
            SELECT DISTINCT kind, value FROM resolve_links
            WHERE kind LIKE 'transaction:%' AND ((rid_l = ? AND rid_r = ?) OR (rid_l = ? AND rid_r = ?))
            ORDER BY 1, 2
            """,
            [rid_a, rid_b, rid_b, rid_a],
        ).fetchall()
    ]
    if pid_a is not None and pid_b is not None:
        scored = _score(con, pid_a, pid_b)
        if scored is not None:
            total = scored["match_weight"]
            for comp, (label, weight) in scored["levels"].items():
                if comp in ("counterparty", "subject_evidence", "receiver_evidence", "account_evidence"):
                    continue
                out.comparisons.append((comp, label, float(weight)))
            shares = _counterparty(con, rid_a, rid_b)
            cp_m, cp_u = scored["cp"]
            if shares is not None and (cp_m, cp_u) != (0.5, 0.5):
                import math

                w = math.log2(cp_m / cp_u) if shares else math.log2((1 - cp_m) / (1 - cp_u))
                label = "shares a counterparty" if shares else "no counterparty in common"
                out.comparisons.append(("counterparty", label, round(w, 3)))
                total += w
            for comp, label, w in _recorded_evidence(con, pid_a, pid_b):
                out.comparisons.append((comp, label, round(w, 3)))
                total += w
            out.match_weight = round(total, 3)
            out.match_probability = 1 / (1 + 2 ** (-total))
    if out.same_subject and subj_a is not None and rid_a != rid_b:
        out.chain = _chain(con, rid_a, rid_b, subj_a)
    return out


def render_link(expl: LinkExplanation) -> Group:
    """A Rich renderable of an explanation."""
    head = Text()
    head.append(f"{expl.a}  ↔  {expl.b}\n", style="bold")
    if expl.same_subject:
        head.append(f"same subject {expl.subject_a}", style="green")
    else:
        head.append(f"different subjects: {expl.subject_a} and {expl.subject_b}", style="yellow")
    parts: list[Any] = [head]
    if expl.shared_identifiers:
        ids = Table(title="Shared strong identifiers", show_header=True)
        ids.add_column("kind")
        ids.add_column("value")
        for k, v in expl.shared_identifiers:
            ids.add_row(k, v)
        parts.append(ids)
    if expl.transactions:
        tx = Table(title="Transactions joining them", show_header=True)
        tx.add_column("kind")
        tx.add_column("transaction")
        tx.add_column("evidence")
        for k, v in expl.transactions:
            tx.add_row(k, v, "money moved to the payer's own account: payer and payee are one person")
        parts.append(tx)
    if expl.comparisons:
        t = Table(title="Comparisons", show_header=True)
        t.add_column("comparison")
        t.add_column("level")
        t.add_column("match weight", justify="right")
        for comp, label, weight in expl.comparisons:
            style = "green" if weight > 0 else ("red" if weight < 0 else "dim")
            t.add_row(comp, label, Text(f"{weight:+.2f}", style=style))
        t.add_row("total (with prior)", "", f"{expl.match_weight:+.2f}", style="bold")
        t.add_row("match probability", "", f"{expl.match_probability:.6f}", style="bold")
        parts.append(t)
    if expl.chain:
        c = Table(title="Chain of links joining them", show_header=True)
        c.add_column("from")
        c.add_column("to")
        c.add_column("evidence")
        for step in expl.chain:
            c.add_row(step.a, step.b, step.evidence)
        parts.append(c)
    return Group(*parts)
