"""Explanations of a transaction's or a subject's score, for an analyst or a prosecutor."""

from __future__ import annotations

import duckdb
from rich.console import Console
from rich.table import Table as RichTable

from moneytrail.errors import UserError
from moneytrail.indicators import load_catalogue
from moneytrail.scoring.model import ModelSet
from moneytrail.store import table_exists


def _need(con: duckdb.DuckDBPyConnection) -> None:
    for t in ("transaction_scores", "transaction_indicators", "subject_indicators", "mt_txf", "mt_subf"):
        if not table_exists(con, t):
            raise UserError("the store has no scores yet: run `moneytrail run BUNDLE --out OUT --store STORE` first")


def explain_transaction(con: duckdb.DuckDBPyConnection, models: ModelSet, provider: str, record_id: str, console: Console) -> None:
    _need(con)
    row = con.execute(
        """SELECT s.score, s.flagged, s.reasons, t.ts_utc, t.amount, t.currency, t.amount_usd, t.txn_type,
                  t.sender_country, t.receiver_country, t.memo, f.sender_id, f.receiver_id
           FROM transaction_scores s JOIN transactions t USING (provider, record_id)
           JOIN mt_txf f USING (provider, record_id) WHERE provider = ? AND record_id = ?""",
        [provider, record_id],
    ).fetchone()
    if row is None:
        raise UserError(f"no scored transaction {provider} {record_id} in this store")
    score, flagged, _reasons, ts, amount, cur, usd, ttype, sc, rc, memo, sender, receiver = row
    console.print(f"[bold]{provider} {record_id}[/]  {ttype} {ts}  {amount} {cur} (USD {usd:.2f})  {sc} -> {rc}"
                  + (f"  memo: {memo!r}" if memo else ""))
    console.print(f"score [bold]{score:.3f}[/]  flagged: {'yes' if flagged else 'no'}  "
                  f"sender subject {sender}  receiver subject {receiver}")
    cat = load_catalogue()
    m = models.transaction
    table = RichTable(title="Contributing indicators")
    for c in ("id", "title", "level", "value", "threshold", "weight", "source"):
        table.add_column(c)
    tx_vals = {r[0]: (r[1], r[2]) for r in con.execute(
        "SELECT indicator_id, value, threshold FROM transaction_indicators WHERE provider = ? AND record_id = ?",
        [provider, record_id]).fetchall()}
    subj_vals: dict[tuple[str, str], tuple[str, str]] = {}
    for subj in (sender, receiver):
        for r in con.execute("SELECT indicator_id, value, threshold FROM subject_indicators WHERE subject_id = ?", [subj]).fetchall():
            subj_vals[(subj, r[0])] = (r[1], r[2])
    feats = con.execute("SELECT * FROM mt_txf WHERE provider = ? AND record_id = ?", [provider, record_id]).fetchdf().iloc[0]
    rows = []
    for ind in cat.indicators:
        for prefix, who in (("f_", sender if ind.level == "sender" else receiver), ("o_", sender)):
            col = prefix + ind.id
            if col not in feats or int(feats[col]) != 1:
                continue
            if ind.level == "transaction":
                value, thr = tx_vals.get(ind.id, ("", ""))
            else:
                value, thr = subj_vals.get((who, ind.id), ("", ""))
            w = m.weight_of(col)
            rows.append((w, ind.id, ind.title, ind.level + ("" if prefix == "f_" else " (payer)"), value, thr, ind.cite()))
    for w, *rest in sorted(rows, key=lambda r: -r[0]):
        table.add_row(rest[0], rest[1], rest[2], str(rest[3])[:40], rest[4], f"{w:+.2f}", rest[5])
    console.print(table)
    console.print(f"intercept {m.intercept:+.2f}; calibration p = sigmoid({m.platt_a:.3f} * logit + {m.platt_b:+.3f})")
    _related(con, sender, console, "Other transactions of the sender subject")


def _related(con: duckdb.DuckDBPyConnection, subject: str, console: Console, title: str, limit: int = 15) -> None:
    rows = con.execute(
        """SELECT f.provider, f.record_id, t.ts_utc, t.txn_type, t.amount_usd, t.sender_country, t.receiver_country,
                  CASE WHEN f.sender_id = ? THEN 'out' ELSE 'in' END AS dir, s.score, s.reasons
           FROM mt_txf f JOIN transactions t USING (provider, record_id)
           JOIN transaction_scores s USING (provider, record_id)
           WHERE f.sender_id = ? OR f.receiver_id = ? ORDER BY t.ts_utc LIMIT ?""",
        [subject, subject, subject, limit],
    ).fetchall()
    table = RichTable(title=title)
    for c in ("provider", "record_id", "time", "type", "USD", "from", "to", "dir", "score", "reasons"):
        table.add_column(c)
    for r in rows:
        table.add_row(r[0], r[1], str(r[2]), r[3], f"{r[4]:.2f}", r[5] or "", r[6] or "", r[7], f"{r[8]:.3f}", r[9])
    console.print(table)


def explain_subject(con: duckdb.DuckDBPyConnection, models: ModelSet, subject_id: str, console: Console) -> None:
    _need(con)
    row = con.execute(
        "SELECT role, score, flagged, score_consumer, score_facilitator, score_intermediary FROM subject_scores WHERE subject_id = ?",
        [subject_id]).fetchone()
    if row is None:
        raise UserError(f"no scored subject {subject_id!r} in this store")
    role, score, flagged, pc, pf, pi = row
    console.print(f"[bold]subject {subject_id}[/]  role [bold]{role}[/]  score [bold]{score:.3f}[/]  "
                  f"flagged: {'yes' if flagged else 'no'}  (consumer {pc:.3f}, facilitator {pf:.3f}, intermediary {pi:.3f})")
    model = models.subject.get(role if role != "none" else "consumer") or models.subject["consumer"]
    cat = load_catalogue()
    feats = con.execute("SELECT * FROM mt_subf WHERE subject_id = ?", [subject_id]).fetchdf().iloc[0]
    vals = {r[0]: (r[1], r[2]) for r in con.execute(
        "SELECT indicator_id, value, threshold FROM subject_indicators WHERE subject_id = ?", [subject_id]).fetchall()}
    table = RichTable(title=f"Contributing indicators ({'consumer' if role == 'none' else role} model)")
    for c in ("id", "title", "value", "threshold", "weight", "source"):
        table.add_column(c)
    rows = []
    for ind in cat.indicators:
        if ind.level == "transaction":
            v = float(feats.get(f"share_{ind.id}", 0.0))
            if v <= 0:
                continue
            rows.append((model.weight_of(f"share_{ind.id}") * v, ind, f"{v:.0%} of its transactions", "fires on the transaction"))
        elif int(feats.get(f"f_{ind.id}", 0)) == 1:
            value, thr = vals.get(ind.id, ("", ""))
            rows.append((model.weight_of(f"f_{ind.id}"), ind, value, thr))
    for w, ind, value, thr in sorted(rows, key=lambda r: -r[0]):
        table.add_row(ind.id, ind.title, str(value)[:40], thr, f"{w:+.2f}", ind.cite())
    extras = {"tx_out": "max score of its payments", "tx_in": "mean score of its receipts",
              "log_in": "ln(1 + cross-border receipts)", "log_senders": "ln(1 + foreign senders)",
              "log_coll_risky": "ln(1 + transfers at home from receivers of abuse-like money)",
              "log_fwd_risky": "ln(1 + hand-overs at home to another such receiver)",
              "log_in_group": "ln(1 + cross-border receipts with its same-name co-paid fragments)"}
    for extra, title in extras.items():
        v = float(feats.get(extra, 0.0))
        if v > 0:
            table.add_row(extra, title, f"{v:.3f}", "", f"{model.weight_of(extra) * v:+.2f}", "model feature")
    console.print(table)
    _related(con, subject_id, console, "Transactions behind it")
