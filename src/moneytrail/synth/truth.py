"""The ground truth of a world: `DIR/truth/*.csv` and `summary.json` (see docs/synth.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from moneytrail.synth import formatting as F
from moneytrail.synth import ledger as L
from moneytrail.synth import places as P
from moneytrail.synth.identity import render_name
from moneytrail.synth.ledger import TT, TYP
from moneytrail.synth.population import KINDS, ROLES, Population

TRANSACTION_COLUMNS = [
    "provider", "record_id", "is_abuse", "typology", "person_from", "person_to", "malformed", "file", "ts_utc",
    "amount_usd", "from_country", "to_country", "local_hour",
]
PARTY_COLUMNS = ["provider", "record_id", "party", "person_id"]
PERSON_COLUMNS = ["person_id", "role", "kind", "lone", "network_id", "country", "sex", "birth_date", "name",
                  "n_abuse_payments"]

FROM_PARTY = {"remittance-csv": "sender", "wallet-csv": "payer", "card-csv": "cardholder", "pacs008": "debtor"}
TO_PARTY = {"remittance-csv": "receiver", "wallet-csv": "payee", "card-csv": "merchant", "pacs008": "creditor"}


def person_ids(idx: np.ndarray) -> np.ndarray:
    return np.array([f"P{i:07d}" for i in idx.tolist()], dtype=object)


def write_transactions(truth: Path, ledger: L.Ledger, pop: Population, rid: np.ndarray, files: np.ndarray) -> None:
    c = ledger.c
    tw = F.CsvWriter(str(truth / "transactions.csv"), TRANSACTION_COLUMNS)
    pw = F.CsvWriter(str(truth / "parties.csv"), PARTY_COLUMNS)
    abuse_codes = np.array([TYP[t] for t in L.ABUSE_TYPOLOGIES])
    step = 200_000
    for s in range(0, ledger.n, step):
        e = min(ledger.n, s + step)
        prov = c["prov"][s:e]
        frm, to, via = c["frm"][s:e], c["to"][s:e], c["via"][s:e]
        pname = np.array(L.PROVIDERS, dtype=object)[prov]
        ids = rid[s:e]
        tw.write({
            "provider": pname, "record_id": ids,
            "is_abuse": np.where(np.isin(c["typ"][s:e], abuse_codes), "1", "0").astype(object),
            "typology": np.array(L.TYPOLOGIES, dtype=object)[c["typ"][s:e]],
            "person_from": person_ids(frm), "person_to": person_ids(to),
            "malformed": np.where(c["defect"][s:e] > 0, "1", "0").astype(object), "file": files[s:e],
            "ts_utc": F.iso(c["ts"][s:e], z=True), "amount_usd": np.array([f"{x:.2f}" for x in c["usd"][s:e].tolist()], dtype=object),
            "from_country": np.array(P.CODES, dtype=object)[pop["country"][frm]],
            "to_country": np.array(P.CODES, dtype=object)[pop["country"][to]],
            "local_hour": c["lhour"][s:e].astype(str).astype(object),
        })
        fmt = np.array([L.FORMATS[p] for p in L.PROVIDERS], dtype=object)[prov]
        from_party = np.array([FROM_PARTY[f] for f in fmt.tolist()], dtype=object)
        to_party = np.array([TO_PARTY[f] for f in fmt.tolist()], dtype=object)
        ct = c["tt"][s:e] == TT["card_transfer"]
        merchant = np.where(ct, via, to)
        parts = [
            (pname, ids, from_party, frm),
            (pname, ids, to_party, merchant),
            (pname[ct], ids[ct], np.full(int(ct.sum()), "receiver", dtype=object), to[ct]),
        ]
        pw.write({
            "provider": np.concatenate([p[0] for p in parts]), "record_id": np.concatenate([p[1] for p in parts]),
            "party": np.concatenate([p[2] for p in parts]),
            "person_id": person_ids(np.concatenate([p[3] for p in parts]).astype(np.int64)),
        })
    tw.close()
    pw.close()


def append_referral_parties(truth: Path, rows: list[tuple[str, str, str, int]]) -> None:
    with open(truth / "parties.csv", "a", encoding="utf-8") as f:
        for prov, rid, party, person in rows:
            f.write(f'"{prov}","{rid}","{party}","P{person:07d}"\n')
    with open(truth / "referrals.csv", "w", encoding="utf-8") as f:
        f.write("provider,record_id,person_id\n")
        for prov, rid, _party, person in rows:
            f.write(f"{prov},{rid},P{person:07d}\n")


def write_persons(truth: Path, pop: Population) -> None:
    n = pop.n
    w = F.CsvWriter(str(truth / "persons.csv"), PERSON_COLUMNS)
    step = 100_000
    for s in range(0, n, step):
        e = min(n, s + step)
        idx = np.arange(s, e)
        net = pop["network"][s:e]
        w.write({
            "person_id": person_ids(idx), "role": np.array(ROLES, dtype=object)[pop["role"][s:e]],
            "kind": np.array(KINDS, dtype=object)[pop["kind"][s:e]], "lone": pop["lone"][s:e].astype(str).astype(object),
            "network_id": np.array([f"N{x:05d}" if x >= 0 else None for x in net.tolist()], dtype=object),
            "country": np.array([pop.orgs[o].country if o >= 0 and pop.orgs[o].country else P.CODES[ci]
                                 for o, ci in zip(pop["org"][s:e].tolist(), pop["country"][s:e].tolist(), strict=True)], dtype=object),
            "sex": _blank_orgs(pop, s, e, np.where(pop["sex"][s:e] == 1, "M", "F").astype(object)),
            "birth_date": _blank_orgs(pop, s, e, np.datetime_as_string(pop["dob"][s:e].astype("datetime64[D]")).astype(object)),
            "name": np.array([render_name(pop, i, 0, 0, False, False, False, 0) for i in idx.tolist()], dtype=object),
            "n_abuse_payments": pop["n_abuse"][s:e].astype(str).astype(object),
        })
    w.close()


def _blank_orgs(pop: Population, s: int, e: int, values: np.ndarray) -> np.ndarray:
    values = values.copy()
    values[pop["org"][s:e] >= 0] = None
    return values


def write_small(truth: Path, malformed: list[tuple[str, str, str, str, str]],
                aligned: list[tuple[str, str, str, str, int]]) -> None:
    w = F.CsvWriter(str(truth / "malformed.csv"), ["provider", "file", "record_id", "location", "defect"])
    if malformed:
        cols = list(zip(*malformed, strict=True))
        w.write({k: np.array(v, dtype=object) for k, v in zip(w.header, cols, strict=True)})
    w.close()
    w = F.CsvWriter(str(truth / "aligned_pairs.csv"),
                    ["txn_provider", "txn_record_id", "referral_provider", "report_id", "session_seq"])
    if aligned:
        cols = list(zip(*aligned, strict=True))
        w.write({k: np.array([str(x) for x in v], dtype=object) for k, v in zip(w.header, cols, strict=True)})
    w.close()


def _q(x: np.ndarray, qs: tuple[float, ...]) -> dict[str, float]:
    if len(x) == 0:
        return {}
    return {f"p{int(q * 100)}": round(float(np.quantile(x, q)), 2) for q in qs}


def summary(ledger: L.Ledger, pop: Population, networks: list[dict[str, np.ndarray]], n_referrals: int,
            n_aligned: int, n_malformed: int, scale: float, seed: int) -> dict[str, Any]:
    c = ledger.c
    typ = c["typ"]
    pay = np.isin(typ, [TYP["consumer_payment"], TYP["lone_payer_payment"], TYP["syndicate_payment"]])
    abuse = np.isin(typ, [TYP[t] for t in L.ABUSE_TYPOLOGIES])
    legit_transfer = (~abuse) & (c["tt"] != TT["purchase"]) & (c["tt"] != TT["withdrawal"]) & (typ != TYP["offender_context"])
    sc = np.array(P.CODES)[pop["country"][c["frm"][pay]]]
    rc = np.array(P.CODES)[pop["country"][c["to"][pay]]]
    usd = c["usd"][pay]

    def shares(codes: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
        u, inv = np.unique(codes, return_inverse=True)
        tot = np.bincount(inv, weights=weights)
        tot = tot / tot.sum() if tot.sum() else tot
        order = np.argsort(-tot)
        return {str(u[i]): round(float(tot[i]), 4) for i in order}

    night = np.isin(c["lhour"], list(P.NIGHT_HOURS))
    amt = c["amt"]
    roundish = np.isclose(np.mod(amt, 5.0), 0) | np.isclose(np.mod(amt, 5.0), 5.0)
    roles = pop["role"]
    kinds = pop["kind"]
    cons = np.flatnonzero(pop["kind"] == KINDS.index("consumer"))
    counts = pop["n_abuse"][cons]
    srt = np.sort(counts)[::-1]
    top = max(1, round(0.03 * len(srt)))
    # fan-in / fan-out
    pf, pt = c["frm"][pay], c["to"][pay]
    pairs = np.unique(np.stack([pf, pt], 1), axis=0) if len(pf) else np.zeros((0, 2), np.int64)
    fan_in = np.unique(pairs[:, 1], return_counts=True)[1] if len(pairs) else np.zeros(0)
    fan_out = np.unique(pairs[:, 0], return_counts=True)[1] if len(pairs) else np.zeros(0)
    remit = np.isin(c["prov"], [L.PROV["remitco"], L.PROV["globesend"]]) & (c["pmeth"] == L.PO["cash"]) & (c["pdelay"] >= 0)
    modes = [int(nw["mode"][0]) for nw in networks]
    return {
        "seed": seed, "scale": scale,
        "transactions": int(ledger.n),
        "transactions_by_provider": {p: int((c["prov"] == i).sum()) for i, p in enumerate(L.PROVIDERS)},
        "transactions_by_typology": {t: int((typ == i).sum()) for i, t in enumerate(L.TYPOLOGIES)},
        "abuse_share": round(float(abuse.mean()), 4),
        "malformed": n_malformed, "malformed_share": round(n_malformed / max(1, ledger.n), 4),
        "persons": int(pop.n),
        "persons_by_role": {r: int((roles == i).sum()) for i, r in enumerate(ROLES)},
        "persons_by_kind": {k: int((kinds == i).sum()) for i, k in enumerate(KINDS) if (kinds == i).any()},
        "networks": {"family": modes.count(0), "one_to_one": modes.count(1), "syndicate": modes.count(2)},
        "consumer_flow_by_sender_country_count": shares(sc),
        "consumer_flow_by_sender_country_usd": shares(sc, usd),
        "consumer_flow_by_receiver_country_count": shares(rc),
        "abuse_payment_usd_quantiles": _q(usd, (.1, .25, .5, .75, .9, .99)),
        "abuse_payment_share_15_200_usd": round(float(((usd >= 15) & (usd <= 200)).mean()), 4) if len(usd) else 0.0,
        "round_amount_share": {"abuse_payments": round(float(roundish[pay].mean()), 4),
                               "legit_transfers": round(float(roundish[legit_transfer].mean()), 4)},
        "night_share_22_06_local": {"abuse_payments": round(float(night[pay].mean()), 4),
                                    "legit_transfers": round(float(night[legit_transfer].mean()), 4)},
        "consumers": len(cons),
        "lone_payer_share": round(float(pop["lone"][cons].mean()), 4) if len(cons) else 0.0,
        "payments_per_consumer": {"mean": round(float(counts.mean()), 2), "median": float(np.median(counts)),
                                  "max": int(counts.max()), "top3pct_share": round(float(srt[:top].sum() / max(1, srt.sum())), 4)},
        "distinct_payers_per_receiver_mean": round(float(fan_in.mean()), 2) if len(fan_in) else 0.0,
        "distinct_receivers_per_consumer_mean": round(float(fan_out.mean()), 2) if len(fan_out) else 0.0,
        "cash_pickup_minutes_median": {
            "abuse": round(float(np.median(c["pdelay"][remit & pay]) / 60), 1) if (remit & pay).any() else None,
            "legit": round(float(np.median(c["pdelay"][remit & ~abuse]) / 60), 1) if (remit & ~abuse).any() else None},
        "referrals": n_referrals, "aligned_pairs": n_aligned,
    }


def write_summary(truth: Path, s: dict[str, Any]) -> None:
    (truth / "summary.json").write_text(json.dumps(s, indent=2) + "\n", encoding="utf-8")
