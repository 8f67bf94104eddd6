"""One writer per format: the providers' exports, file by file, in chunks.

Each writer takes the finished ledger rows of its provider (in time order),
splits them into the provider's periodic files, renders every column the way
that provider does, injects the malformed records chosen in `malformed.py`,
and returns what the truth needs: record ids, file names and the defects'
locations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from moneytrail.synth import formatting as F
from moneytrail.synth import ledger as L
from moneytrail.synth import places as P
from moneytrail.synth.behaviour import MEMOS
from moneytrail.synth.identity import IBAN_BBAN, Profiles, bic, iban, typo
from moneytrail.synth.ledger import CH, PO, TT
from moneytrail.synth.malformed import (
    BAD_DATES,
    BAD_NUMBERS,
    DEFECTS,
    UNKNOWN_CURRENCIES,
)
from moneytrail.synth.population import Population, ip_str

CHUNK = 100_000
DEF = {d: i for i, d in enumerate(DEFECTS)}


@dataclass
class Written:
    """What a provider's writer produced, for sources.csv and the truth."""

    record_id: np.ndarray  # object, aligned with the provider's ledger slice
    file: np.ndarray  # object
    files: list[tuple[str, str, str, str]] = field(default_factory=list)  # path, format, provider, timezone
    malformed: list[tuple[str, str, str, str, str]] = field(default_factory=list)  # provider, file, record_id, location, defect


@dataclass
class Ctx:
    bundle: Path
    pop: Population
    ledger: L.Ledger
    seed: int
    fx: np.ndarray
    progress: Callable[[int], None] = lambda n: None


def period_keys(ts: np.ndarray, kind: str) -> np.ndarray:
    d = ts.astype("datetime64[s]")
    if kind == "month":
        return d.astype("datetime64[M]").astype(np.int64)
    if kind == "quarter":
        return d.astype("datetime64[M]").astype(np.int64) // 3
    return (ts - L.T0) // (7 * 86400)


def period_name(key: int, kind: str) -> str:
    if kind == "month":
        return str(np.datetime64(int(key), "M"))
    if kind == "quarter":
        y = 1970 + key // 4
        return f"{y}Q{key % 4 + 1}"
    day = np.datetime64("2024-01-01") + np.timedelta64(int(key) * 7, "D")
    return f"{day}"


def split_files(ts: np.ndarray, kind: str) -> list[tuple[int, int, int]]:
    keys = period_keys(ts, kind)
    bounds = np.flatnonzero(np.diff(keys)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(keys)]])
    return [(int(keys[s]), int(s), int(e)) for s, e in zip(starts, ends, strict=True) if e > s]


def _rng(ctx: Ctx, provider: str, part: int) -> np.random.Generator:
    return np.random.default_rng([ctx.seed, 5000 + L.PROV[provider], part])


def _profiles(ctx: Ctx, provider: str, persons: np.ndarray) -> Profiles:
    return Profiles(ctx.pop, np.unique(persons), provider, L.PROV[provider], ctx.seed)


def _typos(rng: np.random.Generator, names: np.ndarray, p: float = 0.02) -> np.ndarray:
    hit = np.flatnonzero(rng.random(len(names)) < p)
    if len(hit):
        names = names.copy()
        for i in hit:
            if names[i]:
                names[i] = typo(names[i], rng)
    return names


def _memo_text(memo: np.ndarray, frm: np.ndarray, seq: np.ndarray) -> np.ndarray:
    out = np.full(len(memo), None, dtype=object)
    has = memo >= 0
    texts = np.array(MEMOS, dtype=object)[memo[has]]
    n_ref = (frm[has].astype(np.int64) * 7919) % 90000 + 10000
    yr = 2024 + (seq[has] % 2)
    for k, t in enumerate(texts):
        if "{" in t:
            texts[k] = t.format(n=int(n_ref[k] + seq[has][k] % 97), y=int(yr[k]))
    out[has] = texts
    return out


def _ips(ctx: Ctx, rng: np.random.Generator, ipm: np.ndarray, frm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ip = np.full(len(ipm), None, dtype=object)
    dev = np.full(len(ipm), None, dtype=object)
    home = ipm == 1
    if home.any():
        hv = ctx.pop["home_ip"][frm[home]]
        ip[home] = [ip_str(int(v)) for v in hv]
        dev[home] = [f"dev-{(int(p) * 2654435761) % (1 << 40):010x}" for p in frm[home]]
    mob = ipm == 2
    if mob.any():
        k = int(mob.sum())
        vals = (rng.integers(11, 223, k) << 24) | rng.integers(1, 1 << 24, k)
        ip[mob] = [ip_str(int(v)) for v in vals]
        dev[mob] = [f"dev-{int(v):010x}" for v in rng.integers(0, 1 << 40, k)]
    return ip, dev


def _apply_value_defects(rng: np.random.Generator, defect: np.ndarray, cols: dict[str, np.ndarray], id_col: str,
                         date_col: str, amount_col: str, ccy_col: str) -> None:
    for code, col, pool in ((DEF["bad_date"], date_col, BAD_DATES), (DEF["non_numeric_amount"], amount_col, BAD_NUMBERS),
                            (DEF["unknown_currency"], ccy_col, UNKNOWN_CURRENCIES)):
        m = np.flatnonzero(defect == code)
        for i in m:
            cols[col][i] = pool[int(rng.integers(0, len(pool)))]
    for i in np.flatnonzero(defect == DEF["missing_id"]):
        cols[id_col][i] = None


def _line_defects(defect: np.ndarray, cols: dict[str, np.ndarray], header: list[str], name_col: str) -> dict[int, str]:
    """Raw lines for records with broken quoting (a name with a comma left unquoted) or a wrong column count."""
    out: dict[int, str] = {}
    for i in np.flatnonzero((defect == DEF["broken_quoting"]) | (defect == DEF["wrong_column_count"])).tolist():
        vals = [cols[h][i] for h in header]
        if defect[i] == DEF["broken_quoting"]:
            j = header.index(name_col)
            name = str(vals[j] or "X Y")
            parts = name.split(" ", 1)
            bad = f"{parts[-1].upper()}, {parts[0]}" if len(parts) > 1 else f"{name}, {name}"
            fields = [F.quote(v) for v in vals]
            fields[j] = bad  # unquoted comma: one column too many
            out[i] = ",".join(fields)
        else:
            out[i] = ",".join(F.quote(v) for v in vals[:-2])  # the line was cut short
    return out


def _write_csv_provider(ctx: Ctx, provider: str, period: str, path_of: Callable[[int], str], header: list[str],
                        render: Callable[[slice, np.ndarray], dict[str, np.ndarray]], ids: np.ndarray, *,
                        id_col: str, date_col: str, amount_col: str, ccy_col: str, name_col: str,
                        eol: str = "\n", bom: bool = False, timezone: str = "",
                        rename: dict[str, str] | None = None) -> Written:
    c = ctx.ledger.c
    sl = ctx.ledger.provider_slice(L.PROV[provider])
    fmt = L.FORMATS[provider]
    files = np.empty(sl.stop - sl.start, dtype=object)
    out = Written(ids, files)
    for part, (key, s, e) in enumerate(split_files(c["ts"][sl], period)):
        rel = path_of(key)
        p = ctx.bundle / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        out_header = [rename.get(h, h) for h in header] if rename else header
        w = F.CsvWriter(str(p), out_header, eol=eol, bom=bom)
        files[s:e] = rel
        out.files.append((rel, fmt, provider, timezone))
        rng = _rng(ctx, provider, part)
        for cs in range(s, e, CHUNK):
            ce = min(e, cs + CHUNK)
            rows = slice(sl.start + cs, sl.start + ce)
            cols = render(rows, ids[cs:ce])
            defect = c["defect"][rows]
            _apply_value_defects(rng, defect, cols, id_col, date_col, amount_col, ccy_col)
            repl = _line_defects(defect, cols, header, name_col)
            if rename:
                cols = {rename.get(h, h): v for h, v in cols.items()}
            w.write(cols, repl)
            for i in np.flatnonzero(defect):
                out.malformed.append((provider, rel, str(ids[cs + i]), f"line {cs - s + i + 2}", DEFECTS[defect[i]]))
            ctx.progress(ce - cs)
        w.close()
    return out


# --------------------------------------------------------------------------- remittance-csv

REMIT_HEADER = [
    "transfer_id", "created_at", "sender_id", "sender_name", "sender_dob", "sender_phone", "sender_email",
    "sender_address", "sender_city", "sender_country", "sender_id_type", "sender_id_number", "receiver_name",
    "receiver_phone", "receiver_city", "receiver_country", "send_amount", "send_currency", "fee", "payout_amount",
    "payout_currency", "payout_method", "payout_agent_id", "paid_out_at", "channel", "ip_address", "device_id",
    "purpose",
]


def write_remittance(ctx: Ctx, provider: str) -> Written:
    c, pop = ctx.ledger.c, ctx.pop
    sl = ctx.ledger.provider_slice(L.PROV[provider])
    seq = c["seq"][sl]
    remitco = provider == "remitco"
    if remitco:
        ids = np.array([f"RC{s + 1:09d}" for s in seq.tolist()], dtype=object)
    else:
        yr = c["ts"][sl].astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
        ids = np.array([f"GS-{y}-{s + 1:08d}" for y, s in zip(yr.tolist(), seq.tolist(), strict=True)], dtype=object)
    snd = _profiles(ctx, provider, c["frm"][sl])
    rcv = _profiles(ctx, provider, c["to"][sl])
    cust = snd.ids("C" if remitco else "GSC", 11 + L.PROV[provider], 8)
    docno = snd.ids("", 99, 9)
    tz_provider = "America/New_York"
    zone_ny = P.ZONE_INDEX[tz_provider]

    def render(rows: slice, rid: np.ndarray) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([ctx.seed, 7000 + L.PROV[provider], rows.start])
        frm, to, ts = c["frm"][rows], c["to"][rows], c["ts"][rows]
        si, ri = snd.lookup(frm), rcv.lookup(to)
        n = len(frm)
        szone = pop["zone"][frm]
        rzone = pop["zone"][to]
        if remitco:
            created = F.iso(ts, L.utc_offsets(ts, szone))
        else:
            created = F.naive(ts, L.utc_offsets(ts, np.full(n, zone_ny)))
        pd_ = c["pdelay"][rows].astype(np.int64)
        paid_ts = ts + pd_
        paid_ok = (pd_ >= 0) & (paid_ts < L.T_END)
        paid = np.full(n, None, dtype=object)
        if paid_ok.any():
            if remitco:
                paid[paid_ok] = F.iso(paid_ts[paid_ok], L.utc_offsets(paid_ts[paid_ok], rzone[paid_ok]))
            else:
                paid[paid_ok] = F.naive(paid_ts[paid_ok], L.utc_offsets(paid_ts[paid_ok], np.full(int(paid_ok.sum()), zone_ny)))
        ch = c["ch"][rows]
        agent = ch == CH["agent"]
        online = ~agent
        email = snd.email[si].copy()
        email[agent] = None
        ip, dev = _ips(ctx, rng, c["ipm"][rows], frm)
        pm = c["pmeth"][rows]
        rctry = pop["country"][to]
        agent_id = np.full(n, None, dtype=object)
        cash = pm == PO["cash"]
        if cash.any():
            code = (pop["city"][to][cash].astype(np.int64) * 37 + (to[cash] % 3)) % 1000
            agent_id[cash] = [f"AG-{P.CODES[ct]}-{k:04d}" for ct, k in zip(rctry[cash].tolist(), code.tolist(), strict=True)]
        pccy = c["pccy"][rows]
        rate_send = ctx.fx[c["month"][rows], c["ccy"][rows]]
        rate_pay = ctx.fx[c["month"][rows], pccy]
        payout = np.round(c["amt"][rows] * rate_send / rate_pay * 0.985, 2)
        fee = np.round(np.where(online, 1.99, 4.99) + c["amt"][rows] * 0.01, 2)
        idtype = np.where(rng.random(n) < .6, "passport", "drivers_license").astype(object)
        idtype[online] = None
        idnum = docno[si].copy()
        idnum[online] = None
        return {
            "transfer_id": rid.copy(), "created_at": created, "sender_id": cust[si],
            "sender_name": _typos(rng, snd.name[si]), "sender_dob": snd.dob[si], "sender_phone": snd.phone[si],
            "sender_email": email, "sender_address": snd.address[si], "sender_city": snd.city[si],
            "sender_country": snd.country[si], "sender_id_type": idtype, "sender_id_number": idnum,
            "receiver_name": _typos(rng, rcv.name[ri]), "receiver_phone": rcv.phone[ri], "receiver_city": rcv.city[ri],
            "receiver_country": rcv.country[ri], "send_amount": F.amounts(c["amt"][rows], c["ccy"][rows]),
            "send_currency": F.currency_codes(c["ccy"][rows]), "fee": F.amounts(fee, c["ccy"][rows]),
            "payout_amount": F.amounts(payout, pccy), "payout_currency": F.currency_codes(pccy),
            "payout_method": np.array(L.PAYOUTS, dtype=object)[pm], "payout_agent_id": agent_id, "paid_out_at": paid,
            "channel": np.array(L.CHANNELS, dtype=object)[ch], "ip_address": ip, "device_id": dev,
            "purpose": _memo_text(c["memo"][rows], frm, c["seq"][rows]),
        }

    if remitco:
        return _write_csv_provider(ctx, provider, "month", lambda k: f"remitco/{F_month(k)}.csv", REMIT_HEADER, render,
                                   ids, id_col="transfer_id", date_col="created_at", amount_col="send_amount",
                                   ccy_col="send_currency", name_col="sender_name")
    # globesend: quarterly exports in New York time without offsets, upper-case headers in another
    # order, Windows line ends, and a column of its own.
    header = [*REMIT_HEADER[:2], *reversed(REMIT_HEADER[2:16]), *REMIT_HEADER[16:]]
    header = [h for h in header if h not in ("fee", "sender_email")] + ["sender_email"]

    def render_gs(rows: slice, rid: np.ndarray) -> dict[str, np.ndarray]:
        cols = render(rows, rid)
        cols.pop("fee")
        return cols

    rename = {h: h.upper() for h in header}
    header_out = header
    return _write_csv_provider(ctx, provider, "quarter", lambda k: f"globesend/GS_{period_name(k, 'quarter')}.csv",
                               header_out, render_gs, ids, id_col="transfer_id", date_col="created_at",
                               amount_col="send_amount", ccy_col="send_currency", name_col="sender_name", eol="\r\n",
                               timezone=tz_provider, rename=rename)


def F_month(k: int) -> str:
    return period_name(k, "month")


# --------------------------------------------------------------------------- wallet-csv

WALLET_HEADER = [
    "txn_id", "timestamp", "type", "payer_account_id", "payer_name", "payer_email", "payer_phone", "payer_country",
    "payee_account_id", "payee_name", "payee_email", "payee_phone", "payee_country", "gross", "fee", "currency",
    "note", "ip_address", "device_id",
]
WALLET_TYPE = {TT["payment"]: "payment", TT["send_money"]: "send_money", TT["withdrawal"]: "withdrawal",
               TT["transfer"]: "send_money", TT["credit_transfer"]: "send_money", TT["purchase"]: "payment"}


def write_wallet(ctx: Ctx, provider: str) -> Written:
    c = ctx.ledger.c
    sl = ctx.ledger.provider_slice(L.PROV[provider])
    seq = c["seq"][sl]
    paywave = provider == "paywave"
    if paywave:
        ids = np.array([f"PW{(s * 2654435761 + 12345) % (1 << 48):012X}" for s in seq.tolist()], dtype=object)
    else:
        ids = np.array([f"PP{s + 1:010d}" for s in seq.tolist()], dtype=object)
    people = np.concatenate([c["frm"][sl], c["to"][sl]])
    prof = _profiles(ctx, provider, people)
    acct = prof.ids("PW-" if paywave else "09", 21 + L.PROV[provider], 9)
    bank_acct = prof.ids("BA-", 31 + L.PROV[provider], 10)
    zone_mnl = P.ZONE_INDEX["Asia/Manila"]

    def render(rows: slice, rid: np.ndarray) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([ctx.seed, 7000 + L.PROV[provider], rows.start])
        frm, to, ts = c["frm"][rows], c["to"][rows], c["ts"][rows]
        n = len(frm)
        fi, ti = prof.lookup(frm), prof.lookup(to)
        stamp = F.iso(ts, z=True) if paywave else F.naive(ts, L.utc_offsets(ts, np.full(n, zone_mnl)))
        tt = c["tt"][rows]
        wd = tt == TT["withdrawal"]
        self_wd = wd & (frm == to)
        payee_acct = acct[ti].copy()
        payee_acct[self_wd] = bank_acct[ti][self_wd]
        payee_email = prof.email[ti].copy()
        payee_email[wd] = None
        payee_phone = prof.phone[ti].copy()
        payee_phone[wd] = None
        amt = c["amt"][rows]
        fee = np.where(wd, 0.0, np.where(tt == TT["payment"], np.round(amt * 0.029 + 0.3, 2), 0.0))
        ip, dev = _ips(ctx, rng, c["ipm"][rows], frm)
        return {
            "txn_id": rid.copy(), "timestamp": stamp,
            "type": np.array([WALLET_TYPE.get(int(t), "payment") for t in tt.tolist()], dtype=object),
            "payer_account_id": acct[fi], "payer_name": _typos(rng, prof.name[fi]), "payer_email": prof.email[fi],
            "payer_phone": prof.phone[fi], "payer_country": prof.country[fi], "payee_account_id": payee_acct,
            "payee_name": _typos(rng, prof.name[ti]), "payee_email": payee_email, "payee_phone": payee_phone,
            "payee_country": prof.country[ti], "gross": F.amounts(amt, c["ccy"][rows]),
            "fee": F.amounts(fee, c["ccy"][rows]), "currency": F.currency_codes(c["ccy"][rows]),
            "note": _memo_text(c["memo"][rows], frm, c["seq"][rows]), "ip_address": ip, "device_id": dev,
        }

    if paywave:
        return _write_csv_provider(ctx, provider, "month", lambda k: f"paywave/paywave_{F_month(k)}.csv", WALLET_HEADER,
                                   render, ids, id_col="txn_id", date_col="timestamp", amount_col="gross",
                                   ccy_col="currency", name_col="payer_name")
    return _write_csv_provider(ctx, provider, "month", lambda k: f"pesopay/{F_month(k)[:4]}/{F_month(k)[5:]}.csv",
                               WALLET_HEADER, render, ids, id_col="txn_id", date_col="timestamp", amount_col="gross",
                               ccy_col="currency", name_col="payer_name", bom=True, timezone="Asia/Manila")


# --------------------------------------------------------------------------- card-csv

CARD_HEADER = [
    "txn_id", "timestamp", "card_token", "cardholder_name", "cardholder_dob", "cardholder_email", "cardholder_phone",
    "issuer_country", "merchant_id", "merchant_name", "mcc", "merchant_country", "amount", "currency",
    "billing_amount", "billing_currency", "channel", "beneficiary_name", "beneficiary_country", "beneficiary_account",
]


def write_card(ctx: Ctx, provider: str = "northbank") -> Written:
    c, pop = ctx.ledger.c, ctx.pop
    sl = ctx.ledger.provider_slice(L.PROV[provider])
    ids = np.array([f"NB{s + 1:010d}" for s in c["seq"][sl].tolist()], dtype=object)
    tt_all = c["tt"][sl]
    merchant_all = np.where(tt_all == TT["card_transfer"], c["via"][sl], c["to"][sl])
    holders = _profiles(ctx, provider, c["frm"][sl])
    merch = _profiles(ctx, provider, merchant_all)
    bene = _profiles(ctx, provider, c["to"][sl][tt_all == TT["card_transfer"]])
    tok = holders.ids("tok_", 41, 12)
    mid = merch.ids("MID", 43, 8)
    bacct = bene.ids("", 47, 10)
    from moneytrail.synth.behaviour import COUNTRY_CCY

    def render(rows: slice, rid: np.ndarray) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([ctx.seed, 7000 + L.PROV[provider], rows.start])
        frm, to, ts = c["frm"][rows], c["to"][rows], c["ts"][rows]
        n = len(frm)
        tt = c["tt"][rows]
        ct = tt == TT["card_transfer"]
        m = np.where(ct, c["via"][rows], to)
        hi, mi = holders.lookup(frm), merch.lookup(m)
        org = pop["org"][m]
        mcc = np.array([pop.orgs[o].mcc for o in org.tolist()], dtype=object)
        mctry = np.array([pop.orgs[o].country for o in org.tolist()], dtype=object)
        bccy = COUNTRY_CCY[pop["country"][frm]]
        rate = ctx.fx[c["month"][rows], c["ccy"][rows]]
        brate = ctx.fx[c["month"][rows], bccy]
        billing = np.round(c["amt"][rows] * rate / brate, 2)
        bname = np.full(n, None, dtype=object)
        bctry = np.full(n, None, dtype=object)
        bac = np.full(n, None, dtype=object)
        if ct.any():
            bi = bene.lookup(to[ct])
            bname[ct] = bene.name[bi]
            bctry[ct] = bene.country[bi]
            bac[ct] = np.array([f"{cc}{a}" for cc, a in zip(bene.country[bi].tolist(), bacct[bi].tolist(), strict=True)],
                               dtype=object)
        return {
            "txn_id": rid.copy(), "timestamp": F.iso(ts, L.utc_offsets(ts, pop["zone"][frm])), "card_token": tok[hi],
            "cardholder_name": holders.name[hi], "cardholder_dob": holders.dob[hi],
            "cardholder_email": holders.email[hi], "cardholder_phone": holders.phone[hi],
            "issuer_country": holders.country[hi], "merchant_id": mid[mi], "merchant_name": merch.name[mi], "mcc": mcc,
            "merchant_country": mctry, "amount": F.amounts(c["amt"][rows], c["ccy"][rows]),
            "currency": F.currency_codes(c["ccy"][rows]), "billing_amount": F.amounts(billing, bccy),
            "billing_currency": F.currency_codes(bccy), "channel": np.array(L.CHANNELS, dtype=object)[c["ch"][rows]],
            "beneficiary_name": _typos(rng, bname, 0.0), "beneficiary_country": bctry, "beneficiary_account": bac,
        }

    return _write_csv_provider(ctx, provider, "month", lambda k: f"northbank/cleared_{F_month(k)}.csv", CARD_HEADER,
                               render, ids, id_col="txn_id", date_col="timestamp", amount_col="amount",
                               ccy_col="currency", name_col="cardholder_name")


# --------------------------------------------------------------------------- pacs008

PURPOSE = {"supplier_payment": "SUPP", "student_support": "EDUC", "charity_sponsorship": "CHAR", "legit": "OTHR"}


def write_pacs008(ctx: Ctx, provider: str = "atlasbank") -> Written:
    c, pop = ctx.ledger.c, ctx.pop
    sl = ctx.ledger.provider_slice(L.PROV[provider])
    n_all = sl.stop - sl.start
    seq = c["seq"][sl]
    prof = _profiles(ctx, provider, np.concatenate([c["frm"][sl], c["to"][sl]]))
    acct = prof.ids("", 51, 10)
    fmt = L.FORMATS[provider]
    files = np.empty(n_all, dtype=object)
    ids = np.empty(n_all, dtype=object)
    out = Written(ids, files)
    r_uetr = np.random.default_rng([ctx.seed, 8800])
    rand = r_uetr.integers(0, 1 << 62, (n_all, 2))
    uetr = np.array([f"{a & 0xFFFFFFFF:08x}-{(a >> 32) & 0xFFFF:04x}-4{(a >> 48) & 0xFFF:03x}-{8 + (b & 3):x}{(b >> 2) & 0xFFF:03x}-{s:012x}"
                     for (a, b), s in zip(rand.tolist(), seq.tolist(), strict=True)], dtype=object)
    e2e = np.array([f"ATL-E2E-{s + 1:09d}" for s in seq.tolist()], dtype=object)
    ibans: dict[int, str] = {}

    def account(k: int, person: int, country: str) -> str:
        if country in IBAN_BBAN:
            if person not in ibans:
                ibans[person] = iban(country, ctx.seed * 1_000_003 + person)
            return f"<Id><IBAN>{ibans[person]}</IBAN></Id>"
        return f"<Id><Othr><Id>{acct[k]}</Id></Othr></Id>"

    def party(tag: str, k: int, person: int, dob_ok: bool) -> str:
        ctry = str(prof.country[k])
        parts = [f"<{tag}><Nm>{escape(str(prof.name[k]))}</Nm><PstlAdr>"
                 f"<StrtNm>{escape(str(prof.address[k]).split(' ', 1)[1])}</StrtNm>"
                 f"<BldgNb>{escape(str(prof.address[k]).split(' ', 1)[0])}</BldgNb>"
                 f"<TwnNm>{escape(str(prof.city[k]))}</TwnNm><Ctry>{ctry}</Ctry></PstlAdr>"]
        if dob_ok and prof.dob[k]:
            parts.append(f"<Id><PrvtId><DtAndPlcOfBirth><BirthDt>{prof.dob[k]}</BirthDt>"
                         f"<CityOfBirth>{escape(str(prof.city[k]))}</CityOfBirth><CtryOfBirth>{ctry}</CtryOfBirth>"
                         f"</DtAndPlcOfBirth></PrvtId></Id>")
        if prof.phone[k] or prof.email[k]:
            parts.append("<CtctDtls>" + (f"<MobNb>{escape(str(prof.phone[k]))}</MobNb>" if prof.phone[k] else "")
                         + (f"<EmailAdr>{escape(str(prof.email[k]))}</EmailAdr>" if prof.email[k] else "") + "</CtctDtls>")
        parts.append(f"</{tag}>")
        return "".join(parts)

    for part, (key, s, e) in enumerate(split_files(c["ts"][sl], "week")):
        rng = _rng(ctx, provider, part)
        u = rng.random()
        version = "pacs.008.001.10" if u < .15 else "pacs.008.001.08"
        envelope = not (.15 <= u < .3)
        day = period_name(key, "week")
        rel = f"atlasbank/{day[:4]}/pacs008_{day}.xml"
        files[s:e] = rel
        out.files.append((rel, fmt, provider, ""))
        ids[s:e] = uetr[s:e] if envelope else e2e[s:e]
        rows = slice(sl.start + s, sl.start + e)
        frm, to, ts = c["frm"][rows], c["to"][rows], c["ts"][rows]
        fi, ti = prof.lookup(frm), prof.lookup(to)
        offs = np.where(rng.random(e - s) < .5, L.utc_offsets(ts, pop["zone"][frm]), 0)
        stamps = F.iso(ts, offs)
        dates = np.datetime_as_string(ts.astype("datetime64[s]").astype("datetime64[D]")).astype(object)
        amts = F.amounts(c["amt"][rows], c["ccy"][rows])
        ccys = F.currency_codes(c["ccy"][rows])
        memos = _memo_text(c["memo"][rows], frm, c["seq"][rows])
        typs = c["typ"][rows]
        defect = c["defect"][rows]
        msg_id = f"ATLB{key:05d}{part:04d}"
        cre = F.iso(np.array([int(ts.max())]), np.zeros(1, np.int32))[0]
        txs = []
        base = ("/Envelope" if envelope else "") + "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf"
        for j in range(e - s):
            d = int(defect[j])
            amount_xml = f'<IntrBkSttlmAmt Ccy="{ccys[j]}">{amts[j]}</IntrBkSttlmAmt>'
            stamp = stamps[j]
            if d == DEF["non_numeric_amount"]:
                amount_xml = f'<IntrBkSttlmAmt Ccy="{ccys[j]}">{BAD_NUMBERS[j % len(BAD_NUMBERS)]}</IntrBkSttlmAmt>'
            elif d == DEF["unknown_currency"]:
                amount_xml = f'<IntrBkSttlmAmt Ccy="{UNKNOWN_CURRENCIES[j % 3]}">{amts[j]}</IntrBkSttlmAmt>'
            elif d == DEF["missing_amount"]:
                amount_xml = ""
            elif d == DEF["bad_date"]:
                stamp = BAD_DATES[j % len(BAD_DATES)]
            pmt = f"<PmtId><InstrId>I{seq[s + j]:09d}</InstrId>"
            if d != DEF["missing_id"]:
                pmt += f"<EndToEndId>{e2e[s + j]}</EndToEndId>"
                if envelope:
                    pmt += f"<UETR>{uetr[s + j]}</UETR>"
            pmt += "</PmtId>"
            fctry, tctry = str(prof.country[fi[j]]), str(prof.country[ti[j]])
            typ = L.TYPOLOGIES[typs[j]]
            purp = PURPOSE.get(typ)
            txs.append(
                "<CdtTrfTxInf>" + pmt + amount_xml + f"<IntrBkSttlmDt>{dates[j]}</IntrBkSttlmDt>"
                + f"<AccptncDtTm>{stamp}</AccptncDtTm>" + "<ChrgBr>SHAR</ChrgBr>"
                + party("Dbtr", int(fi[j]), int(frm[j]), True)
                + f"<DbtrAcct>{account(int(fi[j]), int(frm[j]), fctry)}</DbtrAcct>"
                + f"<DbtrAgt><FinInstnId><BICFI>{bic(fctry, int(frm[j]))}</BICFI></FinInstnId></DbtrAgt>"
                + f"<CdtrAgt><FinInstnId><BICFI>{bic(tctry, int(to[j]))}</BICFI></FinInstnId></CdtrAgt>"
                + party("Cdtr", int(ti[j]), int(to[j]), False)
                + f"<CdtrAcct>{account(int(ti[j]), int(to[j]), tctry)}</CdtrAcct>"
                + (f"<Purp><Cd>{purp}</Cd></Purp>" if purp and (j % 3 == 0) else "")
                + (f"<RmtInf><Ustrd>{escape(str(memos[j]))}</Ustrd></RmtInf>" if memos[j] else "")
                + "</CdtTrfTxInf>"
            )
            if d:
                rid = ids[s + j]
                out.malformed.append((provider, rel, str(rid), f"{base}[{j + 1}]", DEFECTS[d]))
        doc = (f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{version}"><FIToFICstmrCdtTrf>'
               f"<GrpHdr><MsgId>{msg_id}</MsgId><CreDtTm>{cre}</CreDtTm><NbOfTxs>{e - s}</NbOfTxs>"
               "<SttlmInf><SttlmMtd>INDA</SttlmMtd></SttlmInf></GrpHdr>\n" + "\n".join(txs)
               + "\n</FIToFICstmrCdtTrf></Document>")
        if envelope:
            doc = ('<Envelope><AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02">'
                   "<Fr><FIId><FinInstnId><BICFI>ATLBGB2LXXX</BICFI></FinInstnId></FIId></Fr>"
                   "<To><FIId><FinInstnId><BICFI>ATLBUS33XXX</BICFI></FinInstnId></FIId></To>"
                   f"<BizMsgIdr>{msg_id}</BizMsgIdr><MsgDefIdr>{version}</MsgDefIdr><CreDt>{cre}</CreDt></AppHdr>\n"
                   + doc + "</Envelope>")
        p = ctx.bundle / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + doc + "\n", encoding="utf-8")
        ctx.progress(e - s)
    return out
