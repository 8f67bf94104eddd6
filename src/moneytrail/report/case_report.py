"""The case report: one self-contained HTML file (and its PDF) an analyst can hand on.

It shows, for a case (`CaseContext`): the subjects' identifiers, the indicators that fired
with their values and published sources, the payments on a timeline beside the platform
sessions, the network around the subjects, the corridors on a map, the transactions, the
attachments, the comments and the audit trail. Every image is embedded (PNG as a data
URI) and the CSS is inline, so the file opens offline and nothing is fetched.

The facts come from `moneytrail.report.evidence` (subjects, identifiers, transactions,
indicators, platform accounts); the network neighbourhood is read here from
``network_edges`` (the evidence module has no query for it).
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, PackageLoader, select_autoescape

from moneytrail.errors import UserError
from moneytrail.report.context import AuditLine, CaseContext
from moneytrail.report.evidence import (
    NETWORK_SOURCE,
    Evidence,
    SubjectEvidence,
    TransactionEvidence,
    gather,
    open_warehouse,
)
from moneytrail.store import table_exists

MAX_NETWORK_NODES = 60
MAX_TIMELINE_PAYMENTS = 3000
MAX_TABLE_TRANSACTIONS = 40
MAX_ALIGNED_PANELS = 6


@dataclass(frozen=True)
class Reference:
    number: int
    agency: str
    document: str
    year: int | None
    tag: str

    def text(self) -> str:
        year = f" ({self.year})" if self.year else ""
        tag = f" [{self.tag}]" if self.tag else ""
        return f"{self.agency}{year}. {self.document}{tag}"


@dataclass
class IndicatorRow:
    subject_id: str  # one subject, or "N subjects" when rows are merged for a network case
    id: str
    title: str
    kind: str
    role: str
    value: str
    threshold: str
    n_transactions: int
    refs: list[int]
    cite: str


@dataclass
class References:
    """Numbered list of the published sources cited by the indicators, in order of first use."""

    items: list[Reference] = field(default_factory=list)

    def number(self, agency: str, document: str, year: int | None, tag: str) -> int:
        for r in self.items:
            if (r.agency, r.document, r.year) == (agency, document, year):
                return r.number
        ref = Reference(len(self.items) + 1, agency, document, year, tag)
        self.items.append(ref)
        return ref.number


def _fill(template: str, params: dict[str, object]) -> str:
    """The catalogue's threshold text with its {parameters} at their default values.

    Transaction-level indicators store no per-subject threshold, so the catalogue's text is
    shown; a run configured with other values would differ (the report says so).
    """
    def value(match: re.Match[str]) -> str:
        v = params.get(match.group(1))
        if v is None:
            return match.group(0)
        if isinstance(v, list):
            return ", ".join(map(str, v[:6])) + (" ..." if len(v) > 6 else "")
        return f"{v:g}" if isinstance(v, float) else str(v)

    return re.sub(r"\{([a-z_]+)\}", value, template)


def _value(text: str) -> str:
    """An indicator's value for reading: numbers to three decimals at most."""
    try:
        number = float(text)
    except ValueError:
        return text
    return f"{number:,.0f}" if number.is_integer() else f"{number:,.3f}".rstrip("0")


def _transaction_reasons(t: TransactionEvidence, levels: Mapping[str, str]) -> tuple[list[str], int]:
    """The reasons that are about this payment itself, and how many more are about its subjects.

    Scoring copies the subjects' indicators onto each of their payments; those are listed once,
    in the indicators table, not on every row.
    """
    own = [r for r in t.reasons if levels.get(r, "transaction" if r == "NW05" else "subject") == "transaction"]
    return own, len(t.reasons) - len(own)


def _indicator_rows(evidence: Evidence) -> tuple[list[IndicatorRow], References]:
    from moneytrail.indicators import load_catalogue

    cat = load_catalogue()
    refs = References()
    rows = []
    for subject in evidence.subjects:
        for hit in subject.indicators:
            ind = cat.get(hit.id) if hit.kind == "indicator" else None
            threshold = hit.threshold
            if ind is not None:
                numbers = [refs.number(s.agency, s.document, s.year, s.tag) for s in ind.source_refs]
                threshold = _fill(threshold, {k: p.default for k, p in ind.params.items()})
            else:
                numbers = [refs.number("moneytrail", NETWORK_SOURCE, None, "")]
            rows.append(IndicatorRow(subject.subject_id, hit.id, hit.title, hit.kind, hit.role, _value(hit.value),
                                     threshold, hit.n_transactions, numbers, hit.sources))
    return (rows if len(evidence.subjects) == 1 else _merge_by_indicator(rows)), refs


def _merge_by_indicator(rows: list[IndicatorRow]) -> list[IndicatorRow]:
    """One row per indicator for a case of many subjects: which subjects, and how many payments."""
    merged: dict[str, IndicatorRow] = {}
    subjects: dict[str, list[str]] = {}
    for r in rows:
        subjects.setdefault(r.id, []).append(r.subject_id)
        if r.id in merged:
            merged[r.id].n_transactions += r.n_transactions
        else:
            merged[r.id] = IndicatorRow(**{**r.__dict__, "value": ""})
    for rid, row in merged.items():
        ids = subjects[rid]
        row.subject_id = ", ".join(ids[:4]) + (f" and {len(ids) - 4} more" if len(ids) > 4 else "")
    return sorted(merged.values(), key=lambda r: (-len(subjects[r.id]), r.id))


# --------------------------------------------------------------------------- network


def _neighbourhood(con: duckdb.DuckDBPyConnection, ids: Sequence[str], evidence: Evidence,
                   max_nodes: int = MAX_NETWORK_NODES) -> tuple[list[Any], list[Any], int]:
    """The case's subjects, their person-to-person counterparties, and the payments among them.

    Shops and cash-out agents (edges with no person-to-person payment) are left out. When
    there are more than `max_nodes` subjects, the flagged ones and the busiest links are kept.
    Returns nodes, edges and how many counterparties were left out.
    """
    from moneytrail.report.charts import NetEdge, NetNode

    case = set(ids)
    if table_exists(con, "network_edges"):
        rows = con.execute("""
            WITH ids AS (SELECT unnest(?::VARCHAR[]) AS s),
            near AS (SELECT src AS s FROM network_edges WHERE dst IN (SELECT s FROM ids) AND n_p2p > 0
                     UNION SELECT dst FROM network_edges WHERE src IN (SELECT s FROM ids) AND n_p2p > 0
                     UNION SELECT s FROM ids)
            SELECT src, dst, n_p2p, total_usd FROM network_edges
            WHERE n_p2p > 0 AND src IN (SELECT s FROM near) AND dst IN (SELECT s FROM near)""",
            [list(ids)]).fetchall()
        edges = [NetEdge(str(s), str(d), int(n), float(u or 0.0)) for s, d, n, u in rows]
    else:  # the network stage has not run: the case's own payments still make a picture
        agg: dict[tuple[str, str], list[float]] = {}
        for t in evidence.transactions:
            if t.payer and t.payee and t.payer.subject_id and t.payee.subject_id and not t.payee.is_merchant:
                a = agg.setdefault((t.payer.subject_id, t.payee.subject_id), [0, 0.0])
                a[0] += 1
                a[1] += t.amount_usd or 0.0
        edges = [NetEdge(s, d, int(v[0]), v[1]) for (s, d), v in agg.items()]
    names = sorted({x for e in edges for x in (e.src, e.dst)} | case)
    info: dict[str, tuple[str, bool]] = {}
    if table_exists(con, "subject_scores"):
        info = {sid: (str(role or "none"), bool(fl)) for sid, role, fl in con.execute(
            "SELECT subject_id, role, flagged FROM subject_scores WHERE subject_id IN (SELECT unnest(?::VARCHAR[]))",
            [names]).fetchall()}
    weight: Counter[str] = Counter()
    for e in edges:
        weight[e.src] += e.n
        weight[e.dst] += e.n
    others = [x for x in names if x not in case]
    others.sort(key=lambda x: (not info.get(x, ("none", False))[1], -weight[x], x))
    keep = set(case) | set(others[: max(max_nodes - len(case), 0)])
    dropped = len(others) - (len(keep) - len(case))
    edges = [e for e in edges if e.src in keep and e.dst in keep]
    nodes = [NetNode(x, *info.get(x, ("none", False)), in_case=x in case) for x in sorted(keep)]
    return nodes, edges, dropped


# --------------------------------------------------------------------------- timeline and map


def _timeline_inputs(evidence: Evidence, ids: set[str]) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    from moneytrail.report.charts import AlignedPair, LoginMark, PaymentPoint, SessionBar

    payments = [
        PaymentPoint(t.ts_utc, float(t.amount_usd or 0.0), t.flagged,
                     outgoing=bool(t.payer and t.payer.subject_id in ids), aligned=bool(t.aligned))
        for t in evidence.transactions if t.ts_utc is not None
    ][:MAX_TIMELINE_PAYMENTS]
    sessions, logins = [], []
    ends: dict[tuple[str, int], datetime | None] = {}
    for acc in evidence.platform_accounts:
        lane = f"{acc.platform}:{acc.user_name}"
        for s in acc.sessions:
            ends[(s.report_id, s.seq)] = s.end_utc
            if s.start_utc is not None:
                sessions.append(SessionBar(lane, s.start_utc, s.end_utc, s.kind))
        for ev in acc.ip_events:
            if ev.at_utc is not None and (ev.event or "login") == "login":
                logins.append(LoginMark(lane, ev.at_utc))
    pairs = []
    for t in evidence.transactions:
        for a in t.aligned:
            if t.ts_utc is not None and a.start_utc is not None:
                pairs.append(AlignedPair(t.ts_utc, float(t.amount_usd or 0.0), a.start_utc,
                                         ends.get((a.report_id, a.session_seq)), a.kind or "session",
                                         a.gap_minutes, t.key))
    return payments, sessions, logins, pairs[:MAX_ALIGNED_PANELS]


def _is_shop(t: TransactionEvidence) -> bool:
    return t.txn_type == "purchase" or bool(t.payee and t.payee.is_merchant)


def _corridors(evidence: Evidence) -> list[Any]:
    from moneytrail.report.charts import Corridor

    agg: dict[tuple[str, str], list[float]] = {}
    for t in evidence.transactions:
        if _is_shop(t) or not t.sender_country or not t.receiver_country:
            continue
        a = agg.setdefault((t.sender_country, t.receiver_country), [0, 0.0, 0])
        a[0] += 1
        a[1] += t.amount_usd or 0.0
        a[2] += int(t.flagged)
    return sorted((Corridor(s, r, int(v[0]), v[1], int(v[2])) for (s, r), v in agg.items()),
                  key=lambda c: (-c.n, c.sender, c.receiver))


# --------------------------------------------------------------------------- audit


def _change(line: AuditLine) -> str:
    """What an audit entry changed, in a line: 'state: new → in_review', or the comment text."""
    before, after = line.before or {}, line.after or {}
    parts = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b == a or key == "comment":
            continue
        if key not in before:
            parts.append(f"{key}: {_short(a)}")
        else:
            parts.append(f"{key}: {_short(b)} → {_short(a)}")
    return "; ".join(parts)


def _short(value: object, limit: int = 120) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else "—" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- rendering


def _uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _period(evidence: Evidence) -> tuple[datetime | None, datetime | None]:
    times = [t.ts_utc for t in evidence.transactions if t.ts_utc is not None]
    return (min(times), max(times)) if times else (None, None)


def _subject_view(s: SubjectEvidence) -> dict[str, Any]:
    return {
        "s": s,
        "rows": [(label, values) for label, values in (
            ("Names", list(s.names)),
            ("Dates of birth", [f"{d:%Y-%m-%d}" for d in s.dobs]),
            ("Phones", list(s.phones)),
            ("E-mails", list(s.emails)),
            ("Accounts", [f"{a.account} ({a.provider}{', ' + a.kind if a.kind else ''}{', ' + a.bic if a.bic else ''})"
                          for a in s.accounts]),
            ("Identity documents", [f"{d.id_type} {d.number}{' (' + d.country + ')' if d.country else ''}"
                                    for d in s.id_documents]),
            ("Addresses", [a.text() for a in s.addresses]),
            ("Countries", list(s.countries)),
            ("Providers", [f"{i.provider} ({i.records} records)" for i in s.identifiers]),
        ) if values],
    }


def render_case_report(ctx: CaseContext, *, now: datetime | None = None) -> str:
    """The report as one HTML string (images and CSS inline)."""
    from moneytrail.report.charts import (
        aligned_pairs_chart,
        corridor_map,
        network_chart,
        timeline_chart,
    )

    evidence = gather(ctx, transactions="all")
    ids = set(ctx.subject_ids)
    with open_warehouse(ctx.warehouse) as con:
        nodes, edges, dropped = _neighbourhood(con, ctx.subject_ids, evidence)
    payments, sessions, logins, pairs = _timeline_inputs(evidence, ids)
    corridors = _corridors(evidence)
    map_png, unplaced = corridor_map(corridors) if corridors else (None, [])
    indicators, refs = _indicator_rows(evidence)
    first, last = _period(evidence)
    flagged = [t for t in evidence.transactions if t.flagged]
    shown = sorted(evidence.transactions, key=lambda t: (not t.flagged, -(t.score or 0.0), t.ts_utc or datetime.min))
    shown = sorted(shown[:MAX_TABLE_TRANSACTIONS], key=lambda t: (t.ts_utc or datetime.min, t.key))
    from moneytrail.indicators import load_catalogue

    levels = {i.id: i.level for i in load_catalogue().indicators}
    rows = [(t, *_transaction_reasons(t, levels)) for t in shown]
    now = now or datetime.now(UTC)
    env = Environment(loader=PackageLoader("moneytrail.report", "templates"), autoescape=select_autoescape())
    css = resources.files("moneytrail.report").joinpath("templates/case_report.css").read_text("utf-8")
    return env.get_template("case_report.html").render(
        ctx=ctx, css=css, now=now, evidence=evidence,
        subjects=[_subject_view(s) for s in evidence.subjects],
        accounts=evidence.platform_accounts,
        indicators=indicators, references=refs.items, has_values=any(r.value for r in indicators),
        first=first, last=last, n_flagged=len(flagged),
        total_usd=sum(t.amount_usd or 0.0 for t in evidence.transactions),
        flagged_usd=sum(t.amount_usd or 0.0 for t in flagged),
        timeline=_uri(timeline_chart(payments, sessions, logins)) if payments or sessions else None,
        n_sessions=len(sessions), n_aligned=sum(1 for t in evidence.transactions if t.aligned),
        pairs=_uri(aligned_pairs_chart(pairs)) if pairs else None,
        network=_uri(network_chart(nodes, edges)) if len(nodes) > 1 else None,
        n_nodes=len(nodes), n_edges=len(edges), dropped=dropped,
        n_flagged_nodes=sum(1 for n in nodes if n.flagged and not n.in_case),
        corridor_map=_uri(map_png) if map_png else None, corridors=corridors[:15], unplaced=unplaced,
        transactions=rows, n_transactions=len(evidence.transactions), case_ids=ids,
        audit=[(a, _change(a)) for a in ctx.audit],
    )


def write_case_report(ctx: CaseContext, out: Path, pdf: bool = True) -> list[Path]:
    """Write the case report to `out` (a .html file, or a directory for CASE_ID.html) and,
    unless `pdf` is False, the same report as PDF beside it. Returns the files written."""
    out = Path(out)
    if out.suffix.lower() in (".html", ".htm"):
        html_path = out
    elif out.suffix:
        raise UserError(f"--out {out}: give a .html file or a directory for the case report")
    else:
        html_path = out / f"{ctx.case_id}.html"
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html = render_case_report(ctx)
    html_path.write_text(html, encoding="utf-8")
    written = [html_path]
    if pdf:
        import weasyprint

        pdf_path = html_path.with_suffix(".pdf")
        weasyprint.HTML(string=html, base_url=str(html_path.parent)).write_pdf(pdf_path)
        written.append(pdf_path)
    return written
