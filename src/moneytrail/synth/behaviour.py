"""Who pays whom, when, how much and through which provider: every flow of the world.

Each function creates its people in the population and appends its
transactions to the ledger, vectorised over all of them at once. Figures come
from `domain/indicators.md` (cited inline); where no published figure exists
the parameter is a documented guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from moneytrail.synth import ledger as L
from moneytrail.synth import names as N
from moneytrail.synth import places as P
from moneytrail.synth import timing as T
from moneytrail.synth.ledger import CH, PO, PROV, TT, TYP
from moneytrail.synth.population import Org, Population, weighted_countries

MEMO_POOLS: dict[str, tuple[str, ...]] = {
    "abuse": N.ABUSE_MEMOS, "family": N.FAMILY_MEMOS, "student": N.STUDENT_MEMOS, "romance": N.ROMANCE_MEMOS,
    "charity": N.CHARITY_MEMOS, "supplier": N.SUPPLIER_MEMOS, "legit": N.LEGIT_MEMOS,
}
MEMOS: tuple[str, ...] = tuple(m for pool in MEMO_POOLS.values() for m in pool)
_MEMO_OFFSET: dict[str, int] = {}
_o = 0
for _k, _pool in MEMO_POOLS.items():
    _MEMO_OFFSET[_k] = _o
    _o += len(_pool)

CCY = P.CURRENCY_INDEX
COUNTRY_CCY = np.array([CCY[c.currency] for c in P.COUNTRIES], dtype=np.int16)
PH, TH, CO = P.INDEX["PH"], P.INDEX["TH"], P.INDEX["CO"]
REMIT = np.array([PROV["remitco"], PROV["globesend"]])


def memo(rng: np.random.Generator, pool: str, n: int, p: float = 1.0) -> np.ndarray:
    size = len(MEMO_POOLS[pool])
    m = (_MEMO_OFFSET[pool] + rng.integers(0, size, n)).astype(np.int16)
    if p < 1.0:
        m[rng.random(n) >= p] = -1
    return m


def rounding(rng: np.random.Generator, n: int, nice: float, integer: float) -> np.ndarray:
    u = rng.random(n)
    return np.where(u < nice, L.ROUND_NICE, np.where(u < nice + integer, L.ROUND_INT, L.ROUND_CENTS)).astype(np.int8)


def pick(rng: np.random.Generator, options: dict[str, float], n: int) -> np.ndarray:
    keys = list(options)
    w = np.array([options[k] for k in keys])
    return np.array([PROV[k] for k in keys], dtype=np.int8)[rng.choice(len(keys), size=n, p=w / w.sum())]


@dataclass
class World:
    """Shared state of the flows: the population, the ledger, the merchant catalogue."""

    rng: np.random.Generator
    scale: float
    pop: Population
    ledger: L.Ledger = field(default_factory=L.Ledger)
    merchants: dict[str, np.ndarray] = field(default_factory=dict)  # category -> person indices
    normal_by_country: dict[int, np.ndarray] = field(default_factory=dict)
    mcc_median: dict[int, float] = field(default_factory=dict)
    networks: list[dict[str, np.ndarray]] = field(default_factory=list)
    consumers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def count(self, base: float, minimum: int = 1) -> int:
        return max(minimum, round(base * self.scale))

    def send(self, frm: np.ndarray, to: np.ndarray, ts: np.ndarray, usd: np.ndarray, typ: str, prov: np.ndarray,
             memo_pool: str | None, *, memo_p: float = 0.8, rnd: np.ndarray | None = None, legit_payout: bool = True,
             via: np.ndarray | None = None) -> None:
        """Person-to-person transfers through any provider, with each provider's own details."""
        rng = self.rng
        n = len(frm)
        if n == 0:
            return
        pop = self.pop
        fc = pop["country"][frm]
        tc = pop["country"][to]
        tt = np.full(n, TT["transfer"], np.int8)
        tt[prov == PROV["paywave"]] = TT["send_money"]
        tt[prov == PROV["pesopay"]] = TT["send_money"]
        tt[prov == PROV["northbank"]] = TT["card_transfer"]
        tt[prov == PROV["atlasbank"]] = TT["credit_transfer"]
        remit = np.isin(prov, REMIT)
        ch = np.zeros(n, np.int8)
        abusive = typ in L.ABUSE_TYPOLOGIES
        u = rng.random(n)
        web_share = 0.35 if abusive else 0.25
        ch[remit] = np.where(u[remit] < 0.35, CH["agent"], np.where(u[remit] < 0.35 + web_share, CH["web"], CH["app"]))
        ch[prov == PROV["paywave"]] = np.where(rng.random(int((prov == PROV["paywave"]).sum())) < .5, CH["web"], CH["app"])
        card = prov == PROV["northbank"]
        ch[card] = CH["ecom"]
        ipm = np.where(np.isin(ch, [CH["web"], CH["app"]]), np.where(rng.random(n) < 0.75, 1, 2), 0).astype(np.int8)
        pmeth = np.zeros(n, np.int8)
        pdelay = np.full(n, -1, np.int32)
        if remit.any():
            k = int(remit.sum())
            pu = rng.random(k)
            if abusive:
                pm = np.where(pu < .55, PO["cash"], np.where(pu < .9, PO["wallet"], PO["bank"]))
                d = np.where(pm == PO["cash"], T.delay(rng, k, 45 * 60, 0.9), T.delay(rng, k, 90, 0.5))
            else:
                pm = np.where(pu < .45, PO["cash"], np.where(pu < .75, PO["bank"], PO["wallet"]))
                d = np.where(pm == PO["cash"], T.delay(rng, k, 20 * 3600, 1.0), T.delay(rng, k, 3 * 3600, 1.2))
            d = np.where(rng.random(k) < 0.04, -1, d)  # never collected
            pmeth[remit] = pm
            pdelay[remit] = np.minimum(d, 2**31 - 1)
        ccy = COUNTRY_CCY[fc]
        # The PH e-wallet works in pesos; the card is billed in the merchant's currency (USD for processors).
        ccy = np.where(prov == PROV["pesopay"], CCY["PHP"], ccy)
        ccy = np.where(card, CCY["USD"], ccy)
        if rnd is None:
            rnd = rounding(rng, n, 0.3, 0.3)
        if via is None:
            via = np.full(n, -1, np.int32)
            if card.any():
                proc = self.merchants["processor"]
                via[card] = proc[rng.integers(0, len(proc), int(card.sum()))]
        self.ledger.add(
            frm=frm, to=to, ts=ts, usd=usd, typ=TYP[typ], prov=prov, tt=tt, ch=ch, ipm=ipm, pmeth=pmeth, pdelay=pdelay,
            ccy=ccy, pccy=COUNTRY_CCY[tc], rnd=rnd, via=via,
            memo=memo(rng, memo_pool, n, memo_p) if memo_pool else -1,
        )
        _ = legit_payout

    def purchase(self, frm: np.ndarray, merchant: np.ndarray, ts: np.ndarray, usd: np.ndarray, typ: str,
                 prov: int = PROV["northbank"], rnd: np.ndarray | None = None) -> None:
        n = len(frm)
        if n == 0:
            return
        pop = self.pop
        mccy = np.array([P.CURRENCY_INDEX.get(o.currency, CCY["USD"]) for o in pop.orgs], dtype=np.int16)
        ccy = mccy[pop["org"][merchant]]
        online = np.isin(merchant, np.concatenate([self.merchants[k] for k in ("vpn", "webcam", "voip")]))
        ch = np.where(online | (self.rng.random(n) < 0.3), CH["ecom"], CH["pos"]).astype(np.int8)
        tt = TT["purchase"] if prov == PROV["northbank"] else TT["payment"]
        if prov != PROV["northbank"]:
            ch = np.where(self.rng.random(n) < .5, CH["web"], CH["app"]).astype(np.int8)
        self.ledger.add(frm=frm, to=merchant, ts=ts, usd=usd, typ=TYP[typ], prov=prov, tt=tt, ch=ch, ccy=ccy,
                        rnd=np.zeros(n, np.int8) if rnd is None else rnd,
                        ipm=np.where(ch == CH["pos"], 0, np.where(self.rng.random(n) < .8, 1, 2)).astype(np.int8))

    def withdraw(self, who: np.ndarray, ts: np.ndarray, usd: np.ndarray, typ: str) -> None:
        w = self
        rng, pop = w.rng, w.pop
        n = len(who)
        if n == 0:
            return
        ph = pop["country"][who] == PH
        prov = np.where(ph, PROV["pesopay"], PROV["paywave"]).astype(np.int8)
        cash = w.merchants["cashout"]
        to_point = ph & (rng.random(n) < .6)
        to = np.where(to_point, cash[rng.integers(0, len(cash), n)], who)  # else the own linked bank account
        ccy = np.where(ph, CCY["PHP"], COUNTRY_CCY[pop["country"][who]])
        w.ledger.add(frm=who, to=to, ts=ts, usd=usd, typ=TYP[typ], prov=prov, tt=TT["withdrawal"],
                     ch=np.where(rng.random(n) < .7, CH["app"], CH["web"]).astype(np.int8),
                     ipm=np.where(rng.random(n) < .8, 1, 2).astype(np.int8), ccy=ccy, rnd=L.ROUND_NICE)


# --------------------------------------------------------------------------- organisations


def build_merchants(w: World) -> None:
    rng, pop = w.rng, w.pop
    risk: dict[str, list[Org]] = {}
    for name, mcc, country, cat in N.RISK_MERCHANTS:
        cur = "PHP" if country == "PH" else "THB" if country == "TH" else "COP" if country == "CO" else (
            "EUR" if country in {"CY", "MT", "EE", "NL", "RO"} else "USD")
        risk.setdefault(cat, []).append(Org(name, mcc, country, cur, cat))
    for cat, orgs in risk.items():
        w.merchants[cat] = pop.add("merchant", len(orgs), "US", org_names=orgs)
    procs = [Org(n, m, c, "USD", cat) for n, m, c, cat in N.PROCESSOR_MERCHANTS]
    w.merchants["processor"] = pop.add("merchant", len(procs), "US", org_names=procs)
    # Ordinary merchants in every country, in proportion to its people.
    mccs = [(mcc, stems.split("|"), wt) for mcc, stems, wt in N.NORMAL_MERCHANT_TYPES]
    wts = np.array([m[2] for m in mccs])
    medians = {"5411": 45, "5812": 35, "5814": 12, "5541": 50, "5912": 20, "5311": 80, "5999": 40, "5732": 250,
               "4121": 18, "4814": 50, "4899": 13, "5942": 20, "5651": 60, "4816": 60, "8398": 40}
    for ci, ctry in enumerate(P.COUNTRIES):
        k = max(3, round(w.scale * (60 if ctry.code in ("US",) else 25 if ctry.code in P.RESIDENT_COUNTRIES or ctry.code == "PH" else 6)))
        kinds = rng.choice(len(mccs), size=k, p=wts / wts.sum())
        orgs = []
        for j, t in enumerate(kinds):
            mcc, stems, _ = mccs[t]
            stem = stems[rng.integers(0, len(stems))]
            city = ctry.cities[rng.integers(0, len(ctry.cities))]
            orgs.append(Org(f"{stem} {city}" if j % 3 else f"{stem} #{100 + j}", mcc, ctry.code, ctry.currency, "normal"))
        idx = pop.add("merchant", k, ctry.code, org_names=orgs)
        w.normal_by_country[ci] = idx
    w.mcc_median = {i: float(medians.get(o.mcc, 30)) for i, o in enumerate(pop.orgs)}
    # Cash-out points in the Philippines (pawnshops, remittance centres).
    k = w.count(40, 6)
    orgs = [Org(f"{N.CASHOUT_NAMES[j % len(N.CASHOUT_NAMES)]} {P.BY_CODE['PH'].cities[j % 18]} #{j + 1}", "6010", "PH", "PHP", "cashout")
            for j in range(k)]
    w.merchants["cashout"] = pop.add("cashout_point", k, "PH", org_names=orgs)


# --------------------------------------------------------------------------- offenders


def payment_counts(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Heavy-tailed payments per consumer (AIC T&I 589): a quarter pay once or twice ("lone"),
    a few per cent make about half of all payments, the largest hundreds."""
    lone = np.zeros(n, bool)
    lone[rng.permutation(n)[: round(0.25 * n)]] = True
    counts = np.where(rng.random(n) < 0.7, 1, 2)
    heavy = 3 + np.floor(rng.pareto(1.05, n) * 2.6)
    counts = np.where(lone, counts, np.minimum(heavy, 900)).astype(np.int64)
    return counts, lone


def balanced_countries(counts: np.ndarray, shares: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Countries for consumers so each country's share of payments tracks its target even in a small world."""
    codes = list(shares)
    target = np.array([shares[c] for c in codes])
    target = target / target.sum()
    order = np.argsort(-counts, kind="stable")
    got = np.zeros(len(codes))
    out = np.zeros(len(counts), np.int16)
    jitter = rng.random(len(codes)) * 1e-6
    total = 0.0
    for i in order:
        total += counts[i]
        j = int(np.argmax(target * total - got + jitter))
        got[j] += counts[i]
        out[i] = P.INDEX[codes[j]]
    return out


def build_networks(w: World) -> None:
    """Facilitator networks: family operations, one-to-one receivers, syndicates (AMLC, I17)."""
    rng, pop = w.rng, w.pop
    n_net = w.count(110, 6)
    ctry = weighted_countries(rng, P.FACILITATOR_COUNTRIES, n_net)
    mode = rng.choice(3, size=n_net, p=[.75, .12, .13])  # family, one-to-one, syndicate
    mode[0], mode[min(1, n_net - 1)] = 0, 2  # every world has a family network and a syndicate
    fam, one, syn = mode == 0, mode == 1, mode == 2
    nets = np.arange(n_net)
    heads = np.zeros(n_net, np.int64)
    heads[fam] = pop.add("family_facilitator", int(fam.sum()), ctry[fam], role="facilitator", network=nets[fam],
                         sex=(rng.random(int(fam.sum())) < .2).astype(np.int8), age=(24, 58))
    heads[one] = pop.add("child_receiver", int(one.sum()), ctry[one], role="facilitator", network=nets[one],
                         age=(15, 18))
    heads[syn] = pop.add("syndicate_controller", int(syn.sum()), ctry[syn], role="facilitator", network=nets[syn],
                         sex=(rng.random(int(syn.sum())) < .6).astype(np.int8), age=(28, 55))
    # Family operations: relatives named as receivers, mostly sharing the surname.
    n_rel = np.where(fam, rng.choice(3, size=n_net, p=[.35, .4, .25]), 0)
    rel_net = np.repeat(nets, n_rel)
    same = rng.random(len(rel_net)) < .8
    sur = np.where(same, pop["surname"][heads[rel_net]], -1)
    rel = pop.add("relative_receiver", len(rel_net), ctry[rel_net], role="intermediary", network=rel_net, age=(18, 70))
    pop["surname"][rel] = np.where(sur >= 0, sur, pop["surname"][rel])
    pop["city"][rel] = pop["city"][heads[rel_net]]
    # Syndicates control several unrelated receivers, and some use a third-party processor.
    n_rec = np.where(syn, rng.integers(3, 8, n_net), 0)
    rec_net = np.repeat(nets, n_rec)
    rec = pop.add("syndicate_receiver", len(rec_net), ctry[rec_net], role="intermediary", network=rec_net, age=(18, 60))
    has_proc = syn & (rng.random(n_net) < .5)
    proc_net = nets[has_proc]
    orgs = [Org(f"{N.BUSINESS_WORDS[rng.integers(0, len(N.BUSINESS_WORDS))]} Digital Services", "7399",
                P.CODES[ctry[i]], P.COUNTRIES[ctry[i]].currency, "processor") for i in proc_net]
    proc = pop.add("third_party_processor", len(proc_net), ctry[proc_net], role="intermediary", network=proc_net,
                   org_names=orgs)
    for i in range(n_net):
        members = [int(heads[i])]
        if fam[i]:
            members += [int(x) for x in rel[rel_net == i]]
        elif syn[i]:
            members = [int(x) for x in rec[rec_net == i]] + [int(heads[i])]
        w.networks.append({
            "head": np.array([heads[i]]), "receivers": np.array(members),
            "processor": proc[proc_net == i], "mode": np.array([mode[i]]), "country": np.array([ctry[i]]),
        })


def consumer_payments(w: World) -> None:
    rng, pop = w.rng, w.pop
    n_c = w.count(450, 8)
    counts, lone = payment_counts(rng, n_c)
    country = balanced_countries(counts, P.CONSUMER_COUNTRIES, rng)
    ages = np.clip(rng.normal(52, 10, n_c), 27, 82)  # I13, I20: 40s to 60s
    origin = None
    cons = pop.add("consumer", n_c, country, role="consumer", sex=(rng.random(n_c) < .97).astype(np.int8),
                   age=ages, has_card=.72, origin=origin)
    pop["lone"][cons] = lone.astype(np.int8)
    w.consumers = cons
    n_net = len(w.networks)
    popularity = rng.pareto(1.5, n_net) + 1.0  # fan-in: a few facilitators have many buyers (I22)
    popularity = np.minimum(popularity, np.quantile(popularity, 0.95))  # but no single one takes most of the flow
    popularity /= popularity.sum()
    k = np.where(lone, 1, np.minimum(n_net, 1 + rng.poisson(0.7 * np.log1p(counts))))  # fan-out (I06, I15)
    kmax = int(k.max())
    links = np.full((n_c, kmax), -1, np.int64)
    for i in range(n_c):
        links[i, : k[i]] = rng.choice(n_net, size=int(k[i]), replace=False, p=popularity)
    # when: a span that grows with the count, later in the window on average (escalation, AMLC surge)
    span = np.where(lone, rng.integers(1, 20, n_c), np.clip(counts * rng.uniform(4, 16, n_c), 20, L.N_DAYS - 1))
    start = ((L.N_DAYS - span) * rng.beta(1.5, 1.0, n_c)).astype(np.int64)
    cid = np.repeat(np.arange(n_c), counts)
    n = len(cid)
    u = rng.random(n)
    frac = u ** 0.6  # payments crowd towards the end of the span: frequency escalates (I04)
    days = start[cid] + (frac * span[cid]).astype(np.int64)
    frm = cons[cid]
    ts = T.at_local(rng, days, T.NIGHT, pop["zone"][frm])
    # how much: 15-200 USD mostly (FATF I14, AMLC I16, HSI prices), rising with the span (I04)
    base = np.clip(rng.lognormal(np.log(42), 0.45, n_c), 12, 160)
    esc = rng.uniform(0, 1.2, n_c)
    usd = base[cid] * (1 + esc[cid] * frac) * rng.lognormal(0, 0.22, n)
    # to whom: the favourite network mostly, others now and then
    j = np.where(rng.random(n) < 0.6, 0, rng.integers(0, k[cid]))
    net = links[cid, j]
    recv = np.zeros(n, np.int64)
    syn = np.zeros(n, bool)
    for i, nw in enumerate(w.networks):
        m = net == i
        if not m.any():
            continue
        r = nw["receivers"]
        pmain = 0.65 if nw["mode"][0] == 0 else 1.0 / len(r)
        weights = np.full(len(r), (1 - pmain) / max(1, len(r) - 1)) if len(r) > 1 else np.ones(1)
        weights[0] = pmain if len(r) > 1 else 1.0
        recv[m] = r[rng.choice(len(r), size=int(m.sum()), p=weights / weights.sum())]
        syn[m] = nw["mode"][0] == 2
    # through which provider: a preferred one per consumer (I12: MSBs first, then P2P, bank, cards)
    pref = pick(rng, {"remitco": .38, "globesend": .2, "paywave": .22, "atlasbank": .08, "northbank": .12}, n_c)
    pop["has_card"][cons[pref == PROV["northbank"]]] = 1
    prov = np.where(rng.random(n) < .8, pref[cid],
                    pick(rng, {"remitco": .45, "globesend": .25, "paywave": .3}, n))
    # syndicates sometimes take wallet payments through a third-party processor (I12)
    for i, nw in enumerate(w.networks):
        if len(nw["processor"]):
            m = (net == i) & (prov == PROV["paywave"]) & (rng.random(n) < .5)
            recv[m] = nw["processor"][0]
    typ = np.where(lone[cid], TYP["lone_payer_payment"], np.where(syn, TYP["syndicate_payment"], TYP["consumer_payment"]))
    rnd = rounding(rng, n, 0.6, 0.25)  # rounder than usual (I14: even-denominated)
    for t in np.unique(typ):
        m = typ == t
        w.send(frm[m], recv[m], ts[m], usd[m], L.TYPOLOGIES[t], prov[m], "abuse", memo_p=.75, rnd=rnd[m])
    np.add.at(pop["n_abuse"], cons, 0)
    pop["n_abuse"][cons] = counts


def network_flows(w: World) -> None:
    """Pass-through to the network head and quick cash-out of what arrives in a wallet (I23)."""
    rng, pop = w.rng, w.pop
    c = _concat(w.ledger.blocks)
    abuse = np.isin(c["typ"], [TYP["consumer_payment"], TYP["lone_payer_payment"], TYP["syndicate_payment"]])
    c = {k: v[abuse] for k, v in c.items()}
    n = len(c["ts"])
    in_wallet = (c["prov"] == PROV["paywave"]) | (c["pmeth"] == PO["wallet"]) | (
        (c["prov"] == PROV["northbank"]) & (rng.random(n) < .5))
    kind = pop["kind"][c["to"]]
    from moneytrail.synth.population import KIND
    head_of = np.array([nw["head"][0] for nw in w.networks], dtype=np.int64)
    net = pop["network"][c["to"]]
    p_fwd = np.select([kind == KIND["relative_receiver"], kind == KIND["syndicate_receiver"],
                       kind == KIND["third_party_processor"]], [.6, .9, 1.0], 0.0)
    fwd = in_wallet & (rng.random(n) < p_fwd)
    ctry = pop["country"][c["to"]]
    wallet = np.where(ctry == PH, PROV["pesopay"], PROV["paywave"]).astype(np.int8)
    # forwards
    f_ts = c["ts"][fwd] + np.where(c["pmeth"][fwd] == PO["wallet"], np.maximum(c["pdelay"][fwd], 0), 0) + T.delay(rng, int(fwd.sum()), 3 * 3600)
    f_usd = c["usd"][fwd] * rng.uniform(.7, 1.0, int(fwd.sum()))
    f_from = c["to"][fwd]
    f_to = head_of[net[fwd]]
    w.send(f_from, f_to, f_ts, f_usd, "intermediary_transfer", wallet[fwd], None,
           rnd=np.full(int(fwd.sum()), L.ROUND_INT, np.int8))
    # cash-out of what stayed with the receiver, and of most of what reached the head
    stay = in_wallet & ~fwd & (rng.random(n) < .6)
    head_out = rng.random(len(f_to)) < .7
    o_from = np.concatenate([c["to"][stay], f_to[head_out]])
    base_ts = np.concatenate([c["ts"][stay] + np.maximum(c["pdelay"][stay], 0), f_ts[head_out]])
    base_usd = np.concatenate([c["usd"][stay], f_usd[head_out]])
    w.withdraw(o_from, base_ts + T.delay(rng, len(o_from), 90 * 60), base_usd * rng.uniform(.8, 1.0, len(o_from)),
               "cash_out")
    _ = kind


def _concat(blocks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}




def offender_context(w: World) -> None:
    """The consumers' own card spend at VPN, webcam, VoIP merchants and travel (I05, I08, I09, I11)."""
    rng, pop = w.rng, w.pop
    cons = w.consumers[pop["has_card"][w.consumers] == 1]
    if len(cons) == 0:
        return
    for cat, lam, med in (("vpn", 2.0, 9), ("webcam", 3.0, 30), ("voip", 1.5, 12)):
        k = rng.poisson(lam, len(cons)) * (rng.random(len(cons)) < .65)
        who = np.repeat(cons, k)
        days = rng.integers(0, L.N_DAYS, len(who))
        ts = T.at_local(rng, days, T.NIGHT, pop["zone"][who])
        m = w.merchants[cat][rng.integers(0, len(w.merchants[cat]), len(who))]
        w.purchase(who, m, ts, rng.lognormal(np.log(med), .4, len(who)), "offender_context",
                   rnd=np.where(rng.random(len(who)) < .5, L.ROUND_CENTS, L.ROUND_NICE).astype(np.int8))
    # travel to offend: flight, hotel nights, ATM cash and gifts in the facilitator's country (I04, I11)
    trav = cons[rng.random(len(cons)) < .15]
    if len(trav):
        day = rng.integers(200, L.N_DAYS - 20, len(trav))
        air = w.merchants["travel"][[i for i, o in enumerate(w.merchants["travel"]) if pop.orgs[pop["org"][o]].mcc == "4511"]]
        hot = w.merchants["travel"][[i for i, o in enumerate(w.merchants["travel"]) if pop.orgs[pop["org"][o]].mcc == "7011"]]
        w.purchase(trav, air[rng.integers(0, len(air), len(trav))], T.at_local(rng, day, T.NIGHT, pop["zone"][trav]),
                   rng.uniform(500, 1600, len(trav)), "offender_context")
        nh = rng.integers(1, 4, len(trav))
        who = np.repeat(trav, nh)
        d = np.repeat(day, nh) + 14 + np.arange(len(who)) % 4
        w.purchase(who, hot[rng.integers(0, len(hot), len(who))], T.at_local(rng, d, T.DAY, pop["zone"][who]),
                   rng.uniform(40, 220, len(who)), "offender_context")
        na = rng.integers(0, 4, len(trav))
        who = np.repeat(trav, na)
        d = np.repeat(day, na) + 14 + rng.integers(0, 10, len(who))
        atm = w.merchants["atm"]
        w.purchase(who, atm[rng.integers(0, len(atm), len(who))], T.at_local(rng, d, T.DAY, pop["zone"][who]),
                   rng.uniform(100, 300, len(who)), "offender_context",
                   rnd=np.full(len(who), L.ROUND_NICE, np.int8))
        g = trav[rng.random(len(trav)) < .4]
        w.purchase(g, np.full(len(g), w.merchants["gift"][0]), T.at_local(rng, rng.integers(0, L.N_DAYS, len(g)), T.DAY, pop["zone"][g]),
                   rng.uniform(80, 600, len(g)), "offender_context")


# --------------------------------------------------------------------------- legitimate population


def card_spend(w: World, who: np.ndarray, lam: float) -> None:
    """Everyday card purchases at ordinary merchants of the cardholder's country (and some travel)."""
    rng, pop = w.rng, w.pop
    who = who[pop["has_card"][who] == 1]
    k = rng.poisson(lam * rng.lognormal(0, .5, len(who)))
    p = np.repeat(who, k)
    n = len(p)
    if n == 0:
        return
    ctry = pop["country"][p]
    merch = np.zeros(n, np.int64)
    for c in np.unique(ctry):
        m = ctry == c
        pool = w.normal_by_country[int(c)]
        merch[m] = pool[rng.integers(0, len(pool), int(m.sum()))]
    # a little holiday travel, some of it to South-East Asia: legitimate (hard for I11)
    tr = rng.random(n) < .015
    merch[tr] = w.merchants["travel"][rng.integers(0, len(w.merchants["travel"]), int(tr.sum()))]
    med = np.array([w.mcc_median.get(int(o), 30.0) for o in range(len(pop.orgs))])[pop["org"][merch]]
    med[tr] = 250
    usd = rng.lognormal(np.log(med), .6)
    days = rng.integers(0, L.N_DAYS, n)
    w.purchase(p, merch, T.at_local(rng, days, T.DAY, pop["zone"][p]), usd, "legit",
               rnd=np.where(rng.random(n) < .9, L.ROUND_CENTS, L.ROUND_INT).astype(np.int8))


def general_population(w: World) -> np.ndarray:
    rng, pop = w.rng, w.pop
    n = w.count(3000, 30)
    gen = pop.add("general", n, weighted_countries(rng, P.RESIDENT_COUNTRIES, n), age=(19, 85), has_card=.92)
    card_spend(w, np.concatenate([gen, w.consumers]), 5.0)
    # wallet P2P inside a country: splitting bills, gifts, rent
    users = gen[rng.random(n) < .4]
    users = np.concatenate([users, w.consumers[rng.random(len(w.consumers)) < .5]])
    k = rng.poisson(3.0, len(users))
    frm = np.repeat(users, k)
    ctry = pop["country"][frm]
    to = np.zeros(len(frm), np.int64)
    for c in np.unique(ctry):
        m = ctry == c
        same = gen[pop["country"][gen] == c]
        to[m] = same[rng.integers(0, len(same), int(m.sum()))] if len(same) else gen[0]
    to = np.where(to == frm, gen[(np.searchsorted(gen, to) + 1) % len(gen)], to)
    days = rng.integers(0, L.N_DAYS, len(frm))
    ts = T.at_local(rng, days, T.EVENING, pop["zone"][frm])
    w.send(frm, to, ts, rng.lognormal(np.log(45), .8, len(frm)), "legit", np.full(len(frm), PROV["paywave"], np.int8),
           "legit", memo_p=.5, rnd=rounding(rng, len(frm), .5, .3))
    # wallet payments to online shops
    k = rng.poisson(1.5, len(users))
    frm = np.repeat(users, k)
    shops = np.concatenate([w.normal_by_country[P.INDEX["US"]], w.normal_by_country[P.INDEX["GB"]]])
    to = shops[rng.integers(0, len(shops), len(frm))]
    w.purchase(frm, to, T.at_local(rng, rng.integers(0, L.N_DAYS, len(frm)), T.DAY, pop["zone"][frm]),
               rng.lognormal(np.log(40), .7, len(frm)), "legit", prov=PROV["paywave"])
    # cross-border bank transfers between residents (rent, family, tuition in Europe)
    banked = gen[rng.random(n) < .15]
    k = rng.poisson(3.0, len(banked))
    frm = np.repeat(banked, k)
    to = gen[rng.integers(0, n, len(frm))]
    to = np.where(to == frm, gen[(np.searchsorted(gen, to) + 1) % n], to)
    ts = T.at_local(rng, rng.integers(0, L.N_DAYS, len(frm)), T.BUSINESS, pop["zone"][frm])
    w.send(frm, to, ts, rng.lognormal(np.log(600), .9, len(frm)), "legit", np.full(len(frm), PROV["atlasbank"], np.int8),
           "legit", memo_p=.7, rnd=rounding(rng, len(frm), .5, .3))
    # a few residents pay their own second-home bills in Asia: cross-border, small, legitimate
    return gen


def local_residents(w: World) -> np.ndarray:
    """People in the receiving countries using the Philippine e-wallet: the facilitators' neighbours."""
    rng, pop = w.rng, w.pop
    n = w.count(1000, 20)
    loc = pop.add("local_resident", n, "PH", age=(18, 70))
    fac = np.concatenate([nw["receivers"] for nw in w.networks])
    fac = fac[pop["country"][fac] == PH]
    users = np.concatenate([loc, fac])
    k = rng.poisson(4.0, len(users))
    frm = np.repeat(users, k)
    n_ev = len(frm)
    u = rng.random(n_ev)
    ts = T.at_local(rng, rng.integers(0, L.N_DAYS, n_ev), T.MANILA, pop["zone"][frm])
    usd = rng.lognormal(np.log(15), .8, n_ev)
    p2p = u < .5
    to = loc[rng.integers(0, n, n_ev)]
    to = np.where(to == frm, loc[(np.searchsorted(loc, to) + 1) % n], to)
    w.send(frm[p2p], to[p2p], ts[p2p], usd[p2p], "legit", np.full(int(p2p.sum()), PROV["pesopay"], np.int8), "legit",
           memo_p=.3, rnd=np.full(int(p2p.sum()), L.ROUND_INT, np.int8))
    shop = (u >= .5) & (u < .85)
    shops = w.normal_by_country[PH]
    w.purchase(frm[shop], shops[rng.integers(0, len(shops), int(shop.sum()))], ts[shop], usd[shop], "legit",
               prov=PROV["pesopay"])
    wd = u >= .85
    w.withdraw(frm[wd], ts[wd], usd[wd] * 3, "legit")
    return loc


def migrants(w: World) -> None:
    rng, pop = w.rng, w.pop
    corridors = list(P.MIGRANT_CORRIDORS)
    wts = np.array([P.MIGRANT_CORRIDORS[c] for c in corridors])
    n = w.count(500, 10)
    cor = rng.choice(len(corridors), size=n, p=wts / wts.sum())
    src = np.array([P.INDEX[corridors[i][0]] for i in cor], dtype=np.int16)
    dst = np.array([P.INDEX[corridors[i][1]] for i in cor], dtype=np.int16)
    origin = np.array([N.ORIGIN_INDEX[P.COUNTRIES[d].origin] for d in dst],
                      dtype=np.int8)
    snd = pop.add("migrant_sender", n, src, origin=origin, age=(22, 60), has_card=.7)
    fam_sur = np.where(rng.random(n) < .7, pop["surname"][snd], -1)
    fam = pop.add("migrant_family", n, dst, age=(18, 80))
    pop["surname"][fam] = np.where(fam_sur >= 0, fam_sur, pop["surname"][fam])
    card_spend(w, snd, 5.0)
    k = rng.poisson(6.0, n)
    i = np.repeat(np.arange(n), k)
    ts = T.at_local(rng, rng.integers(0, L.N_DAYS, len(i)), T.EVENING, pop["zone"][snd[i]])
    prov = pick(rng, {"remitco": .55, "globesend": .45}, len(i))
    w.send(snd[i], fam[i], ts, rng.lognormal(np.log(280), .6, len(i)), "legit", prov, "family", memo_p=.6,
           rnd=rounding(rng, len(i), .6, .3))


def ofw_remittances(w: World) -> None:
    """Overseas Filipino workers' monthly family remittances: payday, same surname, larger (I19)."""
    rng, pop = w.rng, w.pop
    n = w.count(260, 6)
    ofw = pop.add("ofw", n, weighted_countries(rng, P.OFW_COUNTRIES, n), origin=np.full(n, N.ORIGIN_INDEX["ph"], np.int8), age=(24, 58), has_card=.6)
    nf = rng.integers(1, 3, n)
    fi = np.repeat(np.arange(n), nf)
    fam = pop.add("ofw_family", len(fi), "PH", age=(18, 80))
    pop["surname"][fam] = np.where(rng.random(len(fi)) < .85, pop["surname"][ofw[fi]], pop["surname"][fam])
    card_spend(w, ofw, 4.0)
    months = rng.integers(6, 25, n)
    m0 = rng.integers(0, 25 - months)
    cnt = months
    oi = np.repeat(np.arange(n), cnt)
    month = np.repeat(m0, cnt) + (np.arange(len(oi)) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    payday = np.where(rng.random(len(oi)) < .5, 14, 29) + rng.integers(-2, 3, len(oi))
    first = (np.datetime64("2024-01", "M") + month.astype("timedelta64[M]")).astype("datetime64[D]")
    days = (first - np.datetime64("2024-01-01", "D")).astype(np.int64) + np.minimum(payday, 27)
    ts = T.at_local(rng, days, T.EVENING, pop["zone"][ofw[oi]])
    # which family member: the first mostly
    start = np.cumsum(nf) - nf
    to = fam[start[oi] + (rng.random(len(oi)) < .25) * (nf[oi] - 1)]
    amt = rng.lognormal(np.log(380), .45, n)[oi] * rng.lognormal(0, .12, len(oi))
    prov = pick(rng, {"remitco": .4, "globesend": .3, "atlasbank": .15, "paywave": .15}, n)[oi]
    w.send(ofw[oi], to, ts, amt, "family_remittance", prov, "family", memo_p=.7, rnd=rounding(rng, len(oi), .7, .25))
    # the family cash out and spend locally too
    recv = np.unique(to)
    k = rng.poisson(5, len(recv))
    who = np.repeat(recv, k)
    w.withdraw(who, T.at_local(rng, rng.integers(0, L.N_DAYS, len(who)), T.MANILA, pop["zone"][who]),
               rng.lognormal(np.log(120), .6, len(who)), "legit")


def students(w: World) -> None:
    rng, pop = w.rng, w.pop
    n = w.count(60, 4)
    dst = weighted_countries(rng, P.STUDENT_COUNTRIES, n)
    stu = pop.add("student", n, dst, age=(17, 24))
    src = weighted_countries(rng, {"US": .4, "AU": .2, "GB": .15, "CA": .15, "DE": .1}, n)
    diaspora = rng.random(n) < .5  # a parent abroad (same origin, same surname) or an unrelated godparent
    origin = np.where(diaspora, pop["origin"][stu], np.array([N.ORIGIN_INDEX[
        P.COUNTRIES[s].origin] for s in src], dtype=np.int8))
    sup = pop.add("student_supporter", n, src, origin=origin, age=(38, 70), has_card=.8)
    pop["surname"][sup] = np.where(diaspora, pop["surname"][stu], pop["surname"][sup])
    card_spend(w, sup, 6.0)
    k = rng.integers(6, 20, n)
    i = np.repeat(np.arange(n), k)
    ts = T.at_local(rng, rng.integers(0, L.N_DAYS, len(i)), T.DAY, pop["zone"][sup[i]])
    prov = pick(rng, {"atlasbank": .5, "remitco": .3, "paywave": .2}, n)[i]
    w.send(sup[i], stu[i], ts, rng.lognormal(np.log(220), .45, len(i)), "student_support", prov, "student",
           memo_p=.85, rnd=rounding(rng, len(i), .65, .25))


def adult_webcam(w: World) -> None:
    rng, pop = w.rng, w.pop
    n = w.count(160, 4)
    usr = pop.add("adult_webcam_user", n, weighted_countries(rng, P.RESIDENT_COUNTRIES, n),
                  sex=(rng.random(n) < .9).astype(np.int8), age=(21, 70), has_card=1.0)
    card_spend(w, usr, 7.0)
    k = rng.integers(2, 16, n)
    who = np.repeat(usr, k)
    ts = T.at_local(rng, rng.integers(0, L.N_DAYS, len(who)), T.NIGHT, pop["zone"][who])
    m = w.merchants["webcam"][rng.integers(0, len(w.merchants["webcam"]), len(who))]
    w.purchase(who, m, ts, rng.lognormal(np.log(30), .5, len(who)), "adult_webcam",
               rnd=np.where(rng.random(len(who)) < .5, L.ROUND_CENTS, L.ROUND_NICE).astype(np.int8))
    vpn = usr[rng.random(n) < .3]
    w.purchase(vpn, w.merchants["vpn"][rng.integers(0, len(w.merchants["vpn"]), len(vpn))],
               T.at_local(rng, rng.integers(0, L.N_DAYS, len(vpn)), T.DAY, pop["zone"][vpn]),
               rng.lognormal(np.log(9), .3, len(vpn)), "adult_webcam")


def romance(w: World) -> None:
    """Romance-scam victims: escalating payments to one unrelated person abroad."""
    rng, pop = w.rng, w.pop
    n = w.count(40, 3)
    vic = pop.add("romance_victim", n, weighted_countries(rng, P.RESIDENT_COUNTRIES, n),
                  sex=(rng.random(n) < .6).astype(np.int8), age=(45, 78), has_card=.9)
    sc = pop.add("romance_scammer", n, weighted_countries(rng, P.ROMANCE_SCAMMER_COUNTRIES, n),
                 sex=(rng.random(n) < .3).astype(np.int8), age=(20, 40))
    card_spend(w, vic, 6.0)
    k = rng.integers(5, 26, n)
    i = np.repeat(np.arange(n), k)
    pos = (np.arange(len(i)) - np.repeat(np.cumsum(k) - k, k)) / np.repeat(k, k)
    start = rng.integers(0, L.N_DAYS - 270, n)
    dur = rng.integers(60, 270, n)
    days = start[i] + (pos * dur[i]).astype(np.int64)
    ts = T.at_local(rng, days, T.EVENING, pop["zone"][vic[i]])
    usd = 50 * np.exp(pos * np.log(rng.uniform(8, 50, n))[i]) * rng.lognormal(0, .15, len(i))
    prov = pick(rng, {"remitco": .35, "globesend": .25, "paywave": .25, "northbank": .15}, n)[i]
    w.send(vic[i], sc[i], ts, usd, "romance_scam", prov, "romance", memo_p=.8, rnd=rounding(rng, len(i), .7, .2))


def charity(w: World) -> None:
    """Sponsors of a child through a charity: small, regular, to an organisation."""
    rng, pop = w.rng, w.pop
    names = list(N.CHARITY_NAMES)
    k = min(len(names), max(3, w.count(10)))
    orgs = [Org(names[j], "8398", "TH" if "Thai" in names[j] else "CO" if "Niños" in names[j] else "PH",
                "PHP", "charity") for j in range(k)]
    ctry = np.array([P.INDEX[o.country] for o in orgs], dtype=np.int16)
    ch = pop.add("charity", k, ctry, org_names=orgs)
    n = w.count(90, 4)
    sp = pop.add("charity_sponsor", n, weighted_countries(rng, P.RESIDENT_COUNTRIES, n), age=(30, 80), has_card=.9)
    card_spend(w, sp, 6.0)
    org = ch[rng.integers(0, k, n)]
    months = rng.integers(6, 25, n)
    m0 = rng.integers(0, 25 - months)
    i = np.repeat(np.arange(n), months)
    month = m0[i] + (np.arange(len(i)) - np.repeat(np.cumsum(months) - months, months))
    dom = rng.integers(1, 28, n)[i]
    first = (np.datetime64("2024-01", "M") + month.astype("timedelta64[M]")).astype("datetime64[D]")
    days = (first - np.datetime64("2024-01-01", "D")).astype(np.int64) + dom
    ts = T.at_local(rng, days, T.DAY, pop["zone"][sp[i]])
    usd = rng.choice([30.0, 35.0, 38.0, 40.0, 45.0, 50.0], n)[i]
    how = pick(rng, {"northbank": .5, "atlasbank": .3, "paywave": .2}, n)[i]
    card = how == PROV["northbank"]
    w.purchase(sp[i][card], org[i][card], ts[card], usd[card], "charity_sponsorship",
               rnd=np.full(int(card.sum()), L.ROUND_INT, np.int8))
    w.send(sp[i][~card], org[i][~card], ts[~card], usd[~card], "charity_sponsorship", how[~card], "charity",
           memo_p=.9, rnd=np.full(int((~card).sum()), L.ROUND_INT, np.int8))


def suppliers(w: World) -> None:
    """Small businesses paying suppliers in South-East Asia by bank transfer."""
    rng, pop = w.rng, w.pop
    n = w.count(50, 3)
    src = weighted_countries(rng, {"US": .35, "AU": .25, "GB": .2, "CA": .1, "DE": .1}, n)
    borgs = [Org(f"{N.BUSINESS_WORDS[rng.integers(0, len(N.BUSINESS_WORDS))]} {N.BUSINESS_TRADES[rng.integers(0, len(N.BUSINESS_TRADES))]} "
                 f"{N.BUSINESS_SUFFIX.get(P.CODES[c], 'Ltd')}", "", P.CODES[c], P.COUNTRIES[c].currency, "business") for c in src]
    biz = pop.add("small_business", n, src, org_names=borgs)
    m = w.count(60, 3)
    dst = weighted_countries(rng, P.SUPPLIER_COUNTRIES, m)
    sorgs = []
    for c in dst:
        code = P.CODES[c]
        stem = N.SUPPLIER_STEMS[code][rng.integers(0, 4)]
        sorgs.append(Org(f"{stem} {N.SUPPLIER_TRADES[rng.integers(0, len(N.SUPPLIER_TRADES))]} {N.SUPPLIER_SUFFIX[code]}",
                         "", code, P.COUNTRIES[c].currency, "supplier"))
    sup = pop.add("supplier", m, dst, org_names=sorgs)
    k = rng.integers(5, 30, n)
    i = np.repeat(np.arange(n), k)
    my = rng.integers(0, m, (n, 3))
    to = sup[my[i, rng.integers(0, 3, len(i))]]
    ts = T.at_local(rng, rng.integers(0, L.N_DAYS, len(i)), T.BUSINESS, pop["zone"][biz[i]])
    usd = rng.lognormal(np.log(3000), .9, len(i))
    prov = np.where(rng.random(len(i)) < .85, PROV["atlasbank"], PROV["paywave"]).astype(np.int8)
    w.send(biz[i], to, ts, usd, "supplier_payment", prov, "supplier", memo_p=.95,
           rnd=rounding(rng, len(i), .3, .2))
