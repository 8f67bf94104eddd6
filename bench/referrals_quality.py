"""Quality of referral linking and time alignment on a synthetic world.

    python bench/referrals_quality.py                      # synth --scale 1 --seed 7 into a temp dir
    python bench/referrals_quality.py --scale 0.3 --seed 11
    python bench/referrals_quality.py --world DIR          # an existing world (DIR/bundle, DIR/truth)
    python bench/referrals_quality.py --world DIR --store W.duckdb   # reuse an ingested + resolved store

Ingests the bundle, resolves, runs the referral stage, and compares with
`truth/referrals.csv`, `truth/parties.csv`, `truth/persons.csv` and
`truth/aligned_pairs.csv`:

- link precision: links (referral subject, payment subject) whose payment
  subject is mostly (by its party records) the referral subject's true person;
- link recall: referral subjects whose person has payment records in the store
  and that have at least one correct link;
- consumer recall: the same, for referral subjects who are consumers;
- aligned pairs: recall over the truth's aligned payment-session pairs whose
  payment was ingested, precision over all reported pairs (both orders).

Writes bench/results/referrals_quality.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(world: Path, store: Path, *, fresh: bool) -> dict[str, object]:
    from moneytrail.ingest import ingest_bundle
    from moneytrail.referrals import run_referrals
    from moneytrail.resolve import resolve
    from moneytrail.store import Warehouse

    timings: dict[str, float] = {}
    with Warehouse(store) as wh:
        con = wh.con
        if fresh:
            t0 = time.perf_counter()
            ingest_bundle(wh, world / "bundle")
            timings["ingest"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            resolve(con)
            timings["resolve"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = run_referrals(con)
        timings["referrals"] = time.perf_counter() - t0
        truth = world / "truth"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE t_ref AS SELECT * FROM read_csv('{truth / 'referrals.csv'}', "
            "all_varchar=true)"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE t_par AS SELECT * FROM read_csv('{truth / 'parties.csv'}', "
            "all_varchar=true) WHERE record_id NOT LIKE '%#%'"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE t_per AS SELECT person_id, role FROM "
            f"read_csv('{truth / 'persons.csv'}', all_varchar=true)"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE t_al AS SELECT * FROM read_csv('{truth / 'aligned_pairs.csv'}', "
            "all_varchar=true)"
        )
        # the person behind each payment subject: most of its party records
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE subj_person AS
            SELECT subject_id, arg_max(person_id, n) AS person_id FROM (
              SELECT sr.subject_id, t.person_id, count(*) AS n
              FROM subject_records sr JOIN t_par t USING (provider, record_id, party)
              GROUP BY ALL) GROUP BY subject_id
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE ref_eval AS
            SELECT s.provider, s.record_id, r.person_id,
                   r.person_id IN (SELECT t.person_id FROM t_par t JOIN parties p
                                   USING (provider, record_id, party)) AS has_payments,
                   coalesce(pe.role, '') AS role
            FROM referral_subjects s JOIN t_ref r USING (provider, record_id)
            LEFT JOIN t_per pe ON pe.person_id = r.person_id
            """
        )
        links = con.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE sp.person_id = e.person_id)
            FROM (SELECT DISTINCT referral_provider, referral_record_id, subject_id FROM referral_links) l
            JOIN ref_eval e ON e.provider = l.referral_provider AND e.record_id = l.referral_record_id
            LEFT JOIN subj_person sp ON sp.subject_id = l.subject_id
            """
        ).fetchall()[0]
        by_via = con.execute(
            """
            SELECT l.via, count(*), count(*) FILTER (WHERE sp.person_id = e.person_id)
            FROM referral_links l
            JOIN ref_eval e ON e.provider = l.referral_provider AND e.record_id = l.referral_record_id
            LEFT JOIN subj_person sp ON sp.subject_id = l.subject_id
            GROUP BY 1 ORDER BY 1
            """
        ).fetchall()
        rec = con.execute(
            """
            WITH ok AS (
              SELECT DISTINCT l.referral_provider AS provider, l.referral_record_id AS record_id
              FROM referral_links l JOIN ref_eval e ON e.provider = l.referral_provider
               AND e.record_id = l.referral_record_id
              JOIN subj_person sp ON sp.subject_id = l.subject_id AND sp.person_id = e.person_id
            )
            SELECT count(*) FILTER (WHERE has_payments),
                   count(*) FILTER (WHERE has_payments AND (provider, record_id) IN (SELECT (provider, record_id) FROM ok)),
                   count(*) FILTER (WHERE has_payments AND role = 'consumer'),
                   count(*) FILTER (WHERE has_payments AND role = 'consumer'
                                    AND (provider, record_id) IN (SELECT (provider, record_id) FROM ok)),
                   count(*)
            FROM ref_eval
            """
        ).fetchall()[0]
        al = con.execute(
            """
            WITH truth AS (
              SELECT t.* FROM t_al t
              WHERE (txn_provider, txn_record_id) IN (SELECT (provider, record_id) FROM transactions)
                AND (referral_provider, report_id) IN (SELECT (provider, record_id) FROM referrals)
            ),
            found AS (SELECT DISTINCT provider, record_id, referral_provider, report_id,
                             session_seq::VARCHAR AS session_seq, "order" FROM aligned_payments)
            SELECT (SELECT count(*) FROM t_al), (SELECT count(*) FROM truth), (SELECT count(*) FROM found),
                   (SELECT count(*) FROM truth t JOIN found f ON f.provider = t.txn_provider
                     AND f.record_id = t.txn_record_id AND f.referral_provider = t.referral_provider
                     AND f.report_id = t.report_id AND f.session_seq = t.session_seq),
                   (SELECT count(*) FROM found f WHERE f."order" = 'payment_first'),
                   (SELECT count(*) FROM found f JOIN t_al t ON f.provider = t.txn_provider
                     AND f.record_id = t.txn_record_id AND f.referral_provider = t.referral_provider
                     AND f.report_id = t.report_id AND f.session_seq = t.session_seq)
            """
        ).fetchall()[0]
    n_links, ok_links = int(links[0]), int(links[1])
    al_all, al_truth, al_found, al_hit, al_pf, al_found_true = (int(x) for x in al)
    return {
        "referral_subjects": int(rec[4]),
        "with_payments_in_store": int(rec[0]),
        "links": n_links,
        "link_precision": round(ok_links / n_links, 4) if n_links else None,
        "link_recall": round(int(rec[1]) / int(rec[0]), 4) if rec[0] else None,
        "consumer_recall": round(int(rec[3]) / int(rec[2]), 4) if rec[2] else None,
        "consumers_with_referral": int(rec[2]),
        "links_by_via": {str(v): {"links": int(n), "correct": int(c)} for v, n, c in by_via},
        "aligned_truth_pairs": al_all,
        "aligned_truth_pairs_ingested": al_truth,
        "aligned_found": al_found,
        "aligned_found_payment_first": al_pf,
        "aligned_recall": round(al_hit / al_truth, 4) if al_truth else None,
        "aligned_precision": round(al_found_true / al_found, 4) if al_found else None,
        "stage_report": report.to_dict(),
        "seconds": {k: round(v, 2) for k, v in timings.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", type=Path)
    ap.add_argument("--store", type=Path)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        world = args.world
        if world is None:
            world = Path(tmp) / "world"
            subprocess.run([sys.executable, "-m", "moneytrail", "synth", "--out", str(world),
                            "--scale", str(args.scale), "--seed", str(args.seed)], check=True)
        fresh = args.store is None or not args.store.exists()
        store = args.store or Path(tmp) / "w.duckdb"
        result = {"world": str(world) if args.world else f"synth --scale {args.scale} --seed {args.seed}",
                  **measure(world, store, fresh=fresh)}
    out = HERE / "results" / "referrals_quality.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
