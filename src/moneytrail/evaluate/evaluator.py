"""Score a run's output directory against a world's truth.

Reads the truth (`transactions.csv`, `parties.csv`, `persons.csv`,
`malformed.csv`, `referrals.csv`) and the run's contract files
(`transaction_scores.csv`, `subjects.csv`, `subject_records.csv`,
`quarantine.csv`; any may be missing) into an in-memory DuckDB, joins them
there, and pulls only small aggregates into numpy. See docs/evaluate.md for
every metric's definition.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from moneytrail.evaluate import metrics as M

ROLES = ("consumer", "facilitator", "intermediary")
ABUSE_TYPOLOGIES = ("consumer_payment", "lone_payer_payment", "syndicate_payment", "intermediary_transfer", "cash_out")
HARD_NEGATIVES = ("family_remittance", "student_support", "adult_webcam", "romance_scam", "charity_sponsorship",
                  "supplier_payment")
# The people behind each hard-negative typology.
HARD_NEGATIVE_KINDS = {
    "family_remittance": "ofw", "student_support": "student_supporter", "adult_webcam": "adult_webcam_user",
    "romance_scam": "romance_victim", "charity_sponsorship": "charity_sponsor", "supplier_payment": "small_business",
}
FROM_PARTIES = ("sender", "payer", "cardholder", "debtor")
TO_PARTIES = ("receiver", "payee", "creditor")
NOT_PEOPLE = ("merchant", "cashout_point")
KS = (50, 100)


def _read(con: duckdb.DuckDBPyConnection, name: str, path: Path, columns: dict[str, str]) -> bool:
    """Load a CSV as all-text columns; missing files become empty tables with the expected columns."""
    cols = ", ".join(f"{c} VARCHAR" for c in columns)
    if path.exists() and path.stat().st_size > 0:
        con.execute(
            f"CREATE TABLE {name}_raw AS SELECT * FROM read_csv(?, header=true, all_varchar=true, "
            "quote='\"', escape='\"', strict_mode=false, null_padding=true)", [str(path)])
        have = {r[0].lower(): r[0] for r in con.execute(f"DESCRIBE {name}_raw").fetchall()}
        sel = ", ".join(f'"{have[c]}" AS {c}' if c in have else f"NULL::VARCHAR AS {c}" for c in columns)
        con.execute(f"CREATE TABLE {name} AS SELECT {sel} FROM {name}_raw")
        con.execute(f"DROP TABLE {name}_raw")
        return True
    con.execute(f"CREATE TABLE {name} ({cols})")
    return False


def _num(expr: str) -> str:
    return f"coalesce(TRY_CAST({expr} AS DOUBLE), 0)"


def evaluate(truth: Path | str, out: Path | str) -> dict[str, Any]:
    truth, out = Path(truth), Path(out)
    if not (truth / "transactions.csv").exists():
        from moneytrail.errors import UserError

        raise UserError(f"{truth} has no transactions.csv: is it a truth directory written by `moneytrail synth`?")
    con = duckdb.connect()
    _read(con, "tt", truth / "transactions.csv", dict.fromkeys(
        ["provider", "record_id", "is_abuse", "typology", "person_from", "person_to", "malformed"], ""))
    _read(con, "tp", truth / "parties.csv", dict.fromkeys(["provider", "record_id", "party", "person_id"], ""))
    _read(con, "tpers", truth / "persons.csv", dict.fromkeys(["person_id", "role", "kind", "lone"], ""))
    _read(con, "tm", truth / "malformed.csv", dict.fromkeys(["provider", "file", "record_id", "location", "defect"], ""))
    _read(con, "tref", truth / "referrals.csv", dict.fromkeys(["provider", "record_id", "person_id"], ""))
    present = {
        "transaction_scores": _read(con, "rs", out / "transaction_scores.csv",
                                    dict.fromkeys(["provider", "record_id", "score", "flagged", "reasons"], "")),
        "subjects": _read(con, "rsub", out / "subjects.csv",
                          dict.fromkeys(["subject_id", "role", "score", "flagged", "reasons"], "")),
        "subject_records": _read(con, "rsr", out / "subject_records.csv",
                                 dict.fromkeys(["subject_id", "provider", "record_id", "party"], "")),
        "quarantine": _read(con, "rq", out / "quarantine.csv", dict.fromkeys(["provider", "file", "location", "reason"], "")),
    }
    result: dict[str, Any] = {"truth": str(truth), "out": str(out), "files_present": present}
    result["transactions"], result["typology_recall"], result["hard_negative_fpr"] = _transactions(con)
    result["subjects"] = _subjects(con)
    result["entity_resolution"] = _entity_resolution(con)
    result["quarantine"] = _quarantine(con)
    con.close()
    return result


def _transactions(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    con.execute(f"""
        CREATE TABLE tx AS
        SELECT t.typology, CAST(t.is_abuse = '1' AS INTEGER) AS y, s.record_id IS NOT NULL AS present,
               coalesce(s.score, 0) AS score, coalesce(s.flagged, 0) AS flagged
        FROM tt t LEFT JOIN (
            SELECT provider, record_id, max({_num('score')}) AS score,
                   max(CAST({_num('flagged')} >= 1 AS INTEGER)) AS flagged
            FROM rs GROUP BY provider, record_id) s
          ON s.provider = t.provider AND s.record_id = t.record_id
        WHERE coalesce(t.malformed, '0') <> '1'
    """)
    arr = con.execute("SELECT y, score, flagged, present FROM tx").fetchnumpy()
    y = np.asarray(arr["y"], dtype=np.int64)
    score = np.asarray(arr["score"], dtype=np.float64)
    flagged = np.asarray(arr["flagged"], dtype=np.int64)
    present = np.asarray(arr["present"], dtype=bool)
    prf = M.precision_recall_f1(y.astype(bool), flagged.astype(bool))
    unknown = con.execute(
        "SELECT count(*) FROM rs WHERE NOT EXISTS (SELECT 1 FROM tt WHERE tt.provider = rs.provider AND tt.record_id = rs.record_id)"
    ).fetchone()
    tx = {
        "n": len(y), "positives": int(y.sum()), "flagged": int(flagged.sum()),
        "average_precision": M.average_precision(y, score.astype(float)),
        "precision": prf["precision"], "recall": prf["recall"], "f1": prf["f1"],
        "coverage": M.ratio(int(present.sum()), len(y)),
        "unknown_records": int(unknown[0]) if unknown else 0,
    }
    rows = con.execute("SELECT typology, count(*), sum(flagged), sum(y) FROM tx GROUP BY typology").fetchall()
    by = {r[0]: (int(r[1]), int(r[2] or 0), int(r[3] or 0)) for r in rows}
    rec = {t: {"n": by[t][0], "recall": M.ratio(by[t][1], by[t][0])} for t in ABUSE_TYPOLOGIES if t in by}
    fpr = {t: {"n": by[t][0], "fpr": M.ratio(by[t][1], by[t][0], 0.0)} for t in HARD_NEGATIVES if t in by}
    return tx, rec, fpr


def _good_parties(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""
        CREATE TABLE tpg AS
        SELECT p.provider, p.record_id, p.party, p.person_id FROM tp p
        WHERE EXISTS (SELECT 1 FROM tt WHERE tt.provider = p.provider AND tt.record_id = p.record_id
                      AND coalesce(tt.malformed, '0') <> '1')
           OR EXISTS (SELECT 1 FROM tref r WHERE r.provider = p.provider AND r.record_id = p.record_id)
    """)
    con.execute("""
        CREATE TABLE occ AS
        SELECT g.*, r.subject_id FROM tpg g
        LEFT JOIN (SELECT provider, record_id, party, min(subject_id) AS subject_id FROM rsr GROUP BY ALL) r
          ON r.provider = g.provider AND r.record_id = g.record_id AND r.party = g.party
    """)


def _subjects(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    _good_parties(con)
    # each run subject stands for the true person holding most of its records
    con.execute("""
        CREATE TABLE smap AS
        SELECT subject_id, arg_max(person_id, n ORDER BY person_id DESC) AS person_id FROM (
            SELECT subject_id, person_id, count(*) AS n FROM occ WHERE subject_id IS NOT NULL GROUP BY ALL)
        GROUP BY subject_id
    """)
    con.execute(f"""
        CREATE TABLE sub AS
        SELECT s.subject_id, lower(coalesce(s.role, 'none')) AS role, {_num('s.score')} AS score,
               CAST({_num('s.flagged')} >= 1 AS INTEGER) AS flagged, m.person_id,
               coalesce(p.role, 'none') AS true_role, p.kind, coalesce(p.lone, '0') AS lone
        FROM rsub s LEFT JOIN smap m USING (subject_id) LEFT JOIN tpers p ON p.person_id = m.person_id
    """)
    con.execute("""
        CREATE TABLE universe AS
        SELECT p.person_id, p.role, p.kind, coalesce(p.lone, '0') AS lone FROM tpers p
        WHERE p.person_id IN (SELECT person_id FROM tpg)
    """)
    res: dict[str, Any] = {"subjects": int(con.execute("SELECT count(*) FROM sub").fetchone()[0])}  # type: ignore[index]
    for role in ROLES:
        pred, correct = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE true_role = ?) FROM sub WHERE role = ? AND flagged = 1",
            [role, role]).fetchone()  # type: ignore[misc]
        true_n, found = con.execute(
            """SELECT count(*), count(*) FILTER (WHERE person_id IN (
                   SELECT person_id FROM sub WHERE role = ? AND flagged = 1)) FROM universe WHERE role = ?""",
            [role, role]).fetchone()  # type: ignore[misc]
        p = M.ratio(correct, pred, 1.0 if true_n == 0 else 0.0)
        r = M.ratio(found, true_n)
        res[role] = {"predicted": int(pred), "true": int(true_n), "precision": p, "recall": r, "f1": M.f1(p, r)}
    lone_n, lone_found = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE person_id IN (SELECT person_id FROM sub WHERE role = 'consumer' AND flagged = 1))
           FROM universe WHERE role = 'consumer' AND lone = '1'""").fetchone()  # type: ignore[misc]
    res["lone_consumer_recall"] = M.ratio(lone_found, lone_n)
    n_rel = con.execute("SELECT count(*) FROM universe WHERE role <> 'none'").fetchone()[0]  # type: ignore[index]
    hits = np.array([r[0] for r in con.execute(
        "SELECT true_role <> 'none' FROM sub ORDER BY score DESC, flagged DESC, subject_id").fetchall()], dtype=bool)
    res["precision_at_k"] = {str(k): M.precision_at_k(hits, k, int(n_rel)) for k in KS}
    fpr = {}
    for kind in HARD_NEGATIVE_KINDS.values():
        n, flagged = con.execute(
            """SELECT count(*), count(*) FILTER (WHERE person_id IN (SELECT person_id FROM sub WHERE flagged = 1))
               FROM universe WHERE kind = ?""", [kind]).fetchone()  # type: ignore[misc]
        if n:
            fpr[kind] = {"n": int(n), "fpr": M.ratio(flagged, n, 0.0)}
    res["hard_negative_fpr"] = fpr
    return res


def _entity_resolution(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Pairwise and B-cubed scores over party occurrences of people (not merchants), overall and per side."""
    sides = {
        "all": "TRUE",
        "senders": "party IN ({})".format(", ".join(f"'{p}'" for p in FROM_PARTIES)),
        "receivers": "party IN ({})".format(", ".join(f"'{p}'" for p in TO_PARTIES)),
        "referral_subjects": "record_id LIKE '%#%'",
    }
    not_people = ", ".join(f"'{k}'" for k in NOT_PEOPLE)
    out: dict[str, Any] = {}
    for name, cond in sides.items():
        rows = con.execute(f"""
            SELECT coalesce(subject_id, '~single~' || provider || '|' || record_id || '|' || party) AS sid,
                   o.person_id, count(*) AS n
            FROM occ o JOIN tpers p ON p.person_id = o.person_id
            WHERE p.kind NOT IN ({not_people}) AND {cond}
            GROUP BY ALL
        """).fetchall()
        if not rows:
            out[name] = M.cluster_scores(np.zeros(0), np.zeros(0), np.zeros(0))
            continue
        sid, pid, n = zip(*rows, strict=True)
        out[name] = M.cluster_scores(np.array(sid, dtype=object), np.array(pid, dtype=object), np.array(n))
    return out


_TX_INDEX = re.compile(r"CdtTrfTxInf\[(\d+)\]\s*$")
_LINE = re.compile(r"^\s*line\s+(\d+)\s*$", re.IGNORECASE)


def location_key(loc: str | None) -> str | None:
    """`line N` and `.../CdtTrfTxInf[N]` as comparable keys; anything else is unparseable (None)."""
    if not loc:
        return None
    m = _LINE.match(loc)
    if m:
        return f"line:{int(m.group(1))}"
    m = _TX_INDEX.search(loc)
    if m:
        return f"tx:{int(m.group(1))}"
    return None


def _norm_file(f: str | None) -> str:
    return (f or "").replace("\\", "/").lstrip("./")


def _quarantine(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    truth_rows = con.execute("SELECT provider, file, location, defect FROM tm").fetchall()
    run_rows = con.execute("SELECT provider, file, location FROM rq").fetchall()
    # quarantine entries per truth file: a run may write paths relative to somewhere else, so match on suffix
    truth_files = {_norm_file(f) for _, f, _, _ in truth_rows}
    pool: dict[tuple[str, str], dict[str | None, int]] = {}
    for prov, f, loc in run_rows:
        nf = _norm_file(f)
        match = nf if nf in truth_files else next((t for t in truth_files if nf.endswith("/" + t) or nf.endswith(t)), nf)
        d = pool.setdefault((prov or "", match), {})
        k = location_key(loc)
        d[k] = d.get(k, 0) + 1
    found = 0
    by_defect: dict[str, list[int]] = {}
    leftovers: list[tuple[tuple[str, str], str | None]] = []
    for prov, f, loc, defect in truth_rows:
        key = (prov or "", _norm_file(f))
        k = location_key(loc)
        d = pool.get(key, {})
        hit = 0
        if k is not None and d.get(k, 0) > 0:
            d[k] -= 1
            hit = 1
        else:
            leftovers.append((key, defect))
        found += hit
        by_defect.setdefault(defect or "", [0, 0])
        by_defect[defect or ""][0] += 1
        by_defect[defect or ""][1] += hit
    for key, defect in leftovers:  # entries without a readable location still count for their file
        d = pool.get(key, {})
        if d.get(None, 0) > 0:
            d[None] -= 1
            found += 1
            by_defect[defect or ""][1] += 1
    matched = found
    return {
        "malformed": len(truth_rows), "quarantined": len(run_rows), "found": found,
        "recall": M.ratio(found, len(truth_rows)),
        "precision": M.ratio(matched, len(run_rows)),
        "recall_by_defect": {k: M.ratio(v[1], v[0]) for k, v in sorted(by_defect.items())},
    }


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def headline(result: dict[str, Any]) -> list[tuple[str, float | int | None]]:
    """The figures of the printed table, in order."""
    t, s, er, q = result["transactions"], result["subjects"], result["entity_resolution"], result["quarantine"]
    rows: list[tuple[str, float | int | None]] = [
        ("transactions: average precision", t["average_precision"]),
        ("transactions: precision", t["precision"]),
        ("transactions: recall", t["recall"]),
        ("transactions: F1", t["f1"]),
        ("transactions: coverage", t["coverage"]),
    ]
    rows += [(f"recall: {k}", v["recall"]) for k, v in result["typology_recall"].items()]
    rows += [(f"false-positive rate: {k}", v["fpr"]) for k, v in result["hard_negative_fpr"].items()]
    for role in ROLES:
        rows += [(f"subjects: {role} precision", s[role]["precision"]), (f"subjects: {role} recall", s[role]["recall"])]
    rows.append(("subjects: lone consumer recall", s["lone_consumer_recall"]))
    rows += [(f"subjects: precision at {k}", v) for k, v in s["precision_at_k"].items()]
    rows += [(f"subject FPR: {k}", v["fpr"]) for k, v in s["hard_negative_fpr"].items()]
    for side, v in er.items():
        rows += [(f"ER {side}: pairwise P / R / F1", None), (f"  pairwise precision ({side})", v["pairwise_precision"]),
                 (f"  pairwise recall ({side})", v["pairwise_recall"]), (f"  pairwise F1 ({side})", v["pairwise_f1"]),
                 (f"  B-cubed F1 ({side})", v["bcubed_f1"])]
    rows += [("quarantine: recall", q["recall"]), ("quarantine: precision", q["precision"])]
    return [r for r in rows if r[1] is not None]
