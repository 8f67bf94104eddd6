"""Where the facilitator queue goes wrong on development worlds (issue 4), against their truth.

For each seed: the world and its resolved store as ``bench/scoring.py --quality``
builds them (``WORK/wSEED``, kept and reused), then on a copy the score and
network stages, the contract files and ``moneytrail evaluate``; then, in the
same connection, the subjects behind the errors:

* false facilitators, with their true kind (relative, syndicate receiver,
  local resident...), scores, reasons and the role scoring gave them before
  the network stage;
* the facilitator people no flagged facilitator subject stands for, in four
  groups: ``called intermediary`` (a subject of theirs is flagged in the
  receiving queue, under the other role), ``unflagged`` (on the receiving
  side but under the flag line), ``no evidence`` (subjects, nothing scores)
  and ``no subject`` (no record of theirs survives resolution as a subject);
* flagged subjects whose person is one of the hard negatives.

    python bench/facilitator_errors.py --seeds 107,108,112 [--work /tmp/scoring] [--weights FILE]
                                       [--output errors.json] [--dump DIR]

``--dump DIR`` also writes, per seed, ``DIR/wSEED/subjects.parquet`` (every
subject's model features, scores, graph features, its role and flag before the
network stage, and its true person, kind and network) and
``DIR/wSEED/receipts.parquet`` (every transaction with both subjects, names,
receiving city, payout agent, device and score): enough to screen a candidate
feature offline (refit the split model on training dumps, apply it to
development dumps) before writing it into the catalogue.

Development seeds only: the evaluation seeds (202, 2, 3) are refused, since
looking at their errors is tuning on them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

EVALUATION_SEEDS = (202, 2, 3)  # the held-out worlds of issue 4: figures only, never their errors
FEATURES = ("log_in", "log_senders", "log_in_group", "log_coll_risky", "log_coll_quick", "log_fwd_risky")


def _truth(con: duckdb.DuckDBPyConnection, truth: Path) -> None:
    """Each subject stands for the true person holding most of its records (as the evaluator maps them)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE e_parties AS SELECT * FROM read_csv('{truth / 'parties.csv'}', all_varchar = true)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE e_persons AS SELECT * FROM read_csv('{truth / 'persons.csv'}', all_varchar = true)")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE e_map AS
        SELECT subject_id, arg_max(person_id, n ORDER BY person_id DESC) AS person_id FROM (
            SELECT s.subject_id, p.person_id, count(*) AS n
            FROM subject_records s JOIN e_parties p USING (provider, record_id, party) GROUP BY ALL)
        GROUP BY subject_id""")


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def errors(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The error lists of a scored store holding ``pre_network`` (subject_scores before the network stage)."""
    feats = ", ".join(f"round(f.{x}, 2) AS {x}" for x in FEATURES)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE e_sub AS
        SELECT s.subject_id, s.role, round(s.score, 3) AS score, s.flagged,
               round(s.score_facilitator, 2) AS p_fac, round(s.score_intermediary, 2) AS p_int,
               n.role AS role_before_network, m.person_id, coalesce(p.role, 'none') AS true_role, p.kind,
               s.reasons, {feats}
        FROM subject_scores s LEFT JOIN e_map m USING (subject_id) LEFT JOIN e_persons p USING (person_id)
        LEFT JOIN mt_subf f USING (subject_id) LEFT JOIN pre_network n USING (subject_id)""")
    false_fac = _rows(con, """SELECT * EXCLUDE (person_id) FROM e_sub
                             WHERE role = 'facilitator' AND flagged = 1 AND true_role <> 'facilitator'
                             ORDER BY kind, subject_id""")
    missed = _rows(con, """
        WITH people AS (
            SELECT person_id, kind FROM e_persons WHERE role = 'facilitator'
              AND person_id IN (SELECT person_id FROM e_parties)
              AND person_id NOT IN (SELECT person_id FROM e_sub WHERE role = 'facilitator' AND flagged = 1
                                    AND person_id IS NOT NULL)
        ), best AS (
            SELECT person_id, arg_max(subject_id, score) AS subject_id, max(score) AS score,
                   bool_or(flagged = 1 AND role = 'intermediary') AS as_intermediary,
                   bool_or(role IN ('facilitator', 'intermediary')) AS receiving, count(*) AS subjects
            FROM e_sub WHERE person_id IS NOT NULL GROUP BY person_id
        )
        SELECT p.person_id, p.kind, b.subject_id, b.score, coalesce(b.subjects, 0) AS subjects,
               CASE WHEN b.person_id IS NULL THEN 'no subject'
                    WHEN b.as_intermediary THEN 'called intermediary'
                    WHEN b.receiving THEN 'unflagged'
                    ELSE 'no evidence' END AS why,
               s.reasons, s.p_fac, s.p_int, s.log_in, s.log_senders
        FROM people p LEFT JOIN best b USING (person_id) LEFT JOIN e_sub s ON s.subject_id = b.subject_id
        ORDER BY why, p.kind, p.person_id""")
    hard_neg = _rows(con, """SELECT * EXCLUDE (person_id) FROM e_sub
                            WHERE flagged = 1 AND true_role = 'none' AND role <> 'facilitator'
                            ORDER BY kind, subject_id""")
    return {"false_facilitators": false_fac, "missed_facilitators": missed, "flagged_hard_negatives": hard_neg}


def dump(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """The tables behind the errors, for offline analysis (see ``--dump``)."""
    out.mkdir(parents=True, exist_ok=True)
    con.execute(f"""
        COPY (SELECT f.*, s.role, s.score, s.flagged, s.reasons, s.score_consumer, s.score_facilitator,
                     s.score_intermediary, n.role AS role_before_network, n.flagged AS flagged_before_network,
                     g.* EXCLUDE (subject_id), m.person_id, coalesce(p.role, 'none') AS true_role, p.kind, p.network_id
              FROM mt_subf f LEFT JOIN subject_scores s USING (subject_id) LEFT JOIN pre_network n USING (subject_id)
              LEFT JOIN mt_subg g USING (subject_id) LEFT JOIN e_map m USING (subject_id)
              LEFT JOIN e_persons p USING (person_id))
        TO '{out / "subjects.parquet"}' (FORMAT parquet)""")
    con.execute(f"""
        COPY (SELECT t.provider, t.record_id, t.format, t.txn_type, t.ts_s, t.amount_usd, t.sender_id, t.receiver_id,
                     t.is_p2p, t.cross_border, t.s_name, t.r_name, t.r_city, t.payout_agent_id, t.device_id,
                     t.payout_minutes, t.sender_country, t.receiver_country, sc.score
              FROM e_txi t LEFT JOIN transaction_scores sc USING (provider, record_id))
        TO '{out / "receipts.parquet"}' (FORMAT parquet)""")


def run_seed(seed: int, work: Path, scale: float, weights: Path | None, dump_dir: Path | None = None) -> dict[str, Any]:
    from moneytrail.evaluate.evaluator import evaluate
    from moneytrail.network import run_network
    from moneytrail.pipeline.outputs import write_outputs
    from moneytrail.scoring import score
    from moneytrail.store import Warehouse
    from scoring import prepare_world

    world, store = prepare_world(seed, scale, work, False)
    out = world / "run-errors"
    out.mkdir(parents=True, exist_ok=True)
    db = out / "warehouse.duckdb"
    shutil.copyfile(store, db)
    with Warehouse(db) as wh:
        score(wh.con, weights=weights)
        wh.con.execute("CREATE OR REPLACE TEMP TABLE pre_network AS SELECT subject_id, role, flagged FROM subject_scores")
        # the scoring stage's transactions (mt_txi, a temporary table), as --dump reads them
        if dump_dir is not None:
            wh.con.execute("CREATE OR REPLACE TEMP TABLE e_txi AS SELECT * FROM mt_txi")
        run_network(wh.con)
        write_outputs(wh.con, out)
        _truth(wh.con, world / "truth")
        found = errors(wh.con)
        if dump_dir is not None:
            dump(wh.con, dump_dir / f"w{seed}")
    db.unlink()
    s = evaluate(world / "truth", out)["subjects"]["facilitator"]
    return {"precision": s["precision"], "recall": s["recall"], "true": s["true"], "predicted": s["predicted"]} | found


def _print(seed: int, r: dict[str, Any]) -> None:
    print(f"== seed {seed}: facilitators P {r['precision']:.3f} R {r['recall']:.3f} "
          f"({r['true']} people, {r['predicted']} flagged)")
    for key, cols in (("false_facilitators", ("subject_id", "kind", "score", "p_fac", "p_int", "role_before_network", "reasons")),
                      ("missed_facilitators", ("why", "kind", "person_id", "subject_id", "score", "p_fac", "p_int", "log_in", "reasons")),
                      ("flagged_hard_negatives", ("subject_id", "kind", "role", "score", "reasons"))):
        print(f"  {key.replace('_', ' ')}: {len(r[key])}")
        for row in r[key]:
            print("    " + "  ".join(f"{c}={row[c]}" for c in cols))


def main() -> None:
    from moneytrail.errors import UserError

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", required=True, help="comma-separated development seeds")
    ap.add_argument("--work", default="/tmp/scoring", help="where worlds and resolved stores are kept")
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--weights", help="a weights file (default: the shipped weights.json)")
    ap.add_argument("--output", help="also write the lists as JSON here")
    ap.add_argument("--dump", help="also write each seed's subject features and transactions as parquet here")
    args = ap.parse_args()
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    bad = sorted(set(seeds) & set(EVALUATION_SEEDS))
    if bad:
        raise UserError(f"seed(s) {bad} are evaluation seeds: look at the errors of development seeds only")
    results = {}
    for seed in seeds:
        results[seed] = run_seed(seed, Path(args.work), args.scale, Path(args.weights) if args.weights else None,
                                 Path(args.dump) if args.dump else None)
        _print(seed, results[seed])
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
