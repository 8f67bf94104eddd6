"""A small synthetic population written straight into the canonical tables.

For the resolver's tests and benchmarks: people pay and are paid through
remittance, wallet, card and bank channels and appear in platform referrals,
written down the way forms really get filled in — swapped name order, upper
case surnames, initials, typos, "Ma." for Maria, double surnames, accents,
missing fields — with shared identifiers (payout agents' phones, cybercafé
devices, family phones) and different people sharing common names. Everything
is made up. The truth (record key -> person) comes back as a list.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import pyarrow as pa

from moneytrail.normalise import normalise_name
from moneytrail.schema import PARTIES, REFERRAL_IDENTIFIERS, REFERRAL_SUBJECTS, TRANSACTIONS

WEST_FIRST = ["john", "james", "robert", "michael", "william", "david", "richard", "joseph", "thomas", "charles", "christopher", "daniel", "matthew", "anthony", "mark", "donald", "steven", "paul", "andrew", "joshua", "kenneth", "kevin", "brian", "george", "timothy", "ronald", "edward", "jason", "jeffrey", "ryan", "jacob", "gary", "nicholas", "eric", "jonathan", "stephen", "larry", "justin", "scott", "brandon", "benjamin", "samuel", "gregory", "alexander", "frank", "patrick", "raymond", "jack", "dennis", "jerry", "tyler", "aaron", "jose", "adam", "nathan", "henry", "douglas", "zachary", "peter", "kyle", "noah", "ethan", "jeremy", "walter", "christian", "keith", "roger", "terry", "austin", "sean", "gerald", "carl", "harold", "dylan", "arthur", "lawrence", "jordan", "jesse", "bryan", "billy", "bruce", "gabriel", "joe", "logan", "alan", "juan", "albert", "willie", "elijah", "wayne", "randy", "vincent", "mason", "roy", "ralph", "bobby", "russell", "bradley", "philip", "eugene", "liam", "oliver", "lucas", "hans", "stefan", "jurgen", "klaus", "dieter", "francois", "pierre", "luc", "rene"]
WEST_LAST = ["smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez", "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor", "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "sanchez", "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen", "king", "wright", "scott", "torres", "nguyen", "hill", "flores", "green", "adams", "nelson", "baker", "hall", "rivera", "campbell", "mitchell", "carter", "roberts", "gomez", "phillips", "evans", "turner", "diaz", "parker", "cruz", "edwards", "collins", "reyes", "stewart", "morris", "morales", "murphy", "cook", "rogers", "gutierrez", "ortiz", "morgan", "cooper", "peterson", "bailey", "reed", "kelly", "howard", "ramos", "kim", "cox", "ward", "richardson", "watson", "brooks", "chavez", "wood", "james", "bennett", "gray", "mendoza", "ruiz", "hughes", "price", "alvarez", "castillo", "sanders", "patel", "myers", "long", "ross", "foster", "jimenez", "muller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz", "hoffmann", "dubois", "moreau", "laurent"]
PH_FIRST = ["maria", "jose", "juan", "ana", "rosa", "antonio", "elena", "carmen", "ricardo", "roberto", "josefina", "teresita", "marites", "jennifer", "michelle", "angelica", "kristine", "rowena", "jocelyn", "lorna", "analyn", "mary", "grace", "joy", "liza", "rodel", "reynaldo", "danilo", "ernesto", "rogelio", "romeo", "arnel", "jonathan", "mark", "christian", "john", "paul", "jayson", "marvin", "ronaldo", "edgardo", "virgilio", "cristina", "leonora", "nenita", "girlie", "baby", "jenny", "aileen", "rachelle", "shiela", "imelda", "corazon", "erlinda", "lourdes", "milagros"]
PH_LAST = ["santos", "reyes", "cruz", "bautista", "ocampo", "garcia", "mendoza", "torres", "tomas", "andrada", "castillo", "flores", "villanueva", "ramos", "castro", "rivera", "aquino", "navarro", "salazar", "mercado", "dela", "cruz", "gonzales", "lopez", "dizon", "pascual", "de", "leon", "fernandez", "soriano", "aguilar", "manalo", "valdez", "gutierrez", "francisco", "domingo", "marquez", "santiago", "rosales", "hernandez", "villegas", "tolentino", "cabrera", "lim", "tan", "sy", "go", "dimaculangan", "macaraeg", "pangilinan", "sison"]
WEST = {
    "US": ("new york", "chicago", "houston", "phoenix", "dallas", "seattle"),
    "AU": ("sydney", "melbourne", "brisbane", "perth"),
    "GB": ("london", "manchester", "leeds", "bristol"),
    "CA": ("toronto", "vancouver", "calgary"),
    "DE": ("berlin", "hamburg", "munchen"),
}
PH_CITIES = ("manila", "cebu city", "davao city", "angeles", "pasay", "taguig", "cagayan de oro", "iloilo city")
DIAL = {"US": "+1", "CA": "+1", "AU": "+61", "GB": "+44", "DE": "+49", "PH": "+63"}
ACCENTED = {"jose": "José", "rene": "René", "muller": "Müller", "jurgen": "Jürgen", "francois": "François"}


@dataclass
class Person:
    pid: int
    role: str
    country: str
    first: str
    middle: str | None
    last: str
    last2: str | None
    dob: date | None
    phone: str | None
    email: str | None
    city: str
    id_doc: tuple[str, str] | None
    device: str
    accounts: dict[str, str] = field(default_factory=dict)


def _zipf_choice(rng: random.Random, pool: list[str], skew: float = 1.1) -> str:
    weights = [1.0 / (i + 1) ** skew for i in range(len(pool))]
    return rng.choices(pool, weights)[0]


def _typo(rng: random.Random, s: str) -> str:
    if len(s) < 4:
        return s
    i = rng.randrange(1, len(s) - 1)
    op = rng.randrange(3)
    if op == 0:
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    if op == 1:
        return s[:i] + s[i + 1 :]
    return s[:i] + rng.choice("aeiourstnl") + s[i + 1 :]


def _cap(s: str) -> str:
    return " ".join(w.capitalize() for w in s.split())


def written_name(rng: random.Random, p: Person, noise: float = 1.0) -> str:
    first = ACCENTED.get(p.first, p.first) if rng.random() < 0.5 else p.first
    last = p.last if not p.last2 or rng.random() < 0.5 else f"{p.last}-{p.last2}"
    middle = p.middle if p.middle and rng.random() < 0.4 else None
    if rng.random() < 0.04 * noise:
        first = _typo(rng, first)
    if rng.random() < 0.04 * noise:
        last = _typo(rng, last)
    r = rng.random()
    if r < 0.12 * noise:  # initials
        parts = [first[0].upper()] + ([middle[0].upper()] if middle else []) + [_cap(last)]
        return " ".join(parts)
    if p.first == "maria" and rng.random() < 0.3:
        first = "Ma."
    if r < 0.35:
        return f"{last.upper()} {_cap(first)}" + (f" {_cap(middle)}" if middle else "")
    if r < 0.45:
        return f"{_cap(last)}, {_cap(first)}"
    if r < 0.55:
        return f"{first} {last}".lower()
    return " ".join(_cap(x) for x in (first, middle, last) if x)


def _people(rng: random.Random, n: int) -> list[Person]:
    people = []
    for pid in range(1, n + 1):
        consumer = rng.random() < 0.6
        if consumer:
            country = rng.choice(list(WEST))
            first, last = _zipf_choice(rng, WEST_FIRST), _zipf_choice(rng, WEST_LAST)
            middle = _zipf_choice(rng, WEST_FIRST) if rng.random() < 0.4 else None
            last2 = None
            city = rng.choice(WEST[country])
            dob = date(1950, 1, 1) + timedelta(days=rng.randrange(20000)) if rng.random() < 0.95 else None
            email = (
                f"{first[0]}{last}{rng.randrange(100, 9999)}@example.{rng.choice(['com', 'net', 'org'])}"
                if rng.random() < 0.85
                else None
            )
        else:
            country = "PH"
            first, last = _zipf_choice(rng, PH_FIRST, 0.9), _zipf_choice(rng, PH_LAST, 0.9)
            middle = _zipf_choice(rng, PH_LAST, 0.9) if rng.random() < 0.3 else None
            last2 = _zipf_choice(rng, PH_LAST, 0.9) if rng.random() < 0.25 else None
            city = rng.choice(PH_CITIES)
            dob = date(1960, 1, 1) + timedelta(days=rng.randrange(16000)) if rng.random() < 0.6 else None
            email = f"{first}.{last}{rng.randrange(10, 999)}@example.ph" if rng.random() < 0.4 else None
        phone = DIAL[country] + "".join(str(rng.randrange(10)) for _ in range(9 if country != "US" else 10))
        id_doc = (rng.choice(["PASSPORT", "DRIVING_LICENCE"]), f"{rng.randrange(10**7, 10**8)}")
        people.append(
            Person(pid, "consumer" if consumer else "facilitator", country, first, middle, last,
                   last2, dob, phone, email, city, id_doc, f"dev-{rng.getrandbits(48):012x}")
        )
    return people


@dataclass
class Population:
    people: list[Person]
    truth: list[tuple[str, str, str, int]]
    """(provider, record_id, party, person id)"""


def generate(con: duckdb.DuckDBPyConnection, *, transactions: int, people: int | None = None,
             seed: int = 1, referrals: int | None = None) -> Population:
    """Write a population's transactions, parties and referrals into ``con``."""
    rng = random.Random(seed)
    n_people = people or max(20, transactions // 12)
    pop = _people(rng, n_people)
    consumers = [p for p in pop if p.role == "consumer"]
    facilitators = [p for p in pop if p.role == "facilitator"]
    agent_phones = [DIAL["PH"] + str(rng.randrange(10**9)) for _ in range(max(1, n_people // 400))]
    cafe_devices = [f"cafe-{i}" for i in range(max(1, n_people // 500))]
    for p in consumers:  # a few households share a phone
        if rng.random() < 0.02:
            other = rng.choice(consumers)
            other.phone = p.phone
    tx: dict[str, list[object]] = {c.name: [] for c in TRANSACTIONS.columns}
    pa_rows: dict[str, list[object]] = {c.name: [] for c in PARTIES.columns}
    truth: list[tuple[str, str, str, int]] = []
    providers = {
        "remittance-csv": ("RemitCo", "SendFast"),
        "wallet-csv": ("PayWallet", "GCashy"),
        "card-csv": ("CardIssuerA",),
        "pacs008": ("BankA",),
    }
    weights = (0.45, 0.3, 0.15, 0.1)
    t0 = date(2026, 1, 1)

    def party(provider: str, rid: str, party_name: str, side: str, p: Person | None, **kw: object) -> None:
        row: dict[str, object] = dict.fromkeys(pa_rows)
        row.update(provider=provider, record_id=rid, party=party_name, side=side, **kw)
        name = row["name"]
        row["name_norm"] = normalise_name(name) if isinstance(name, str) else None
        for k, v in row.items():
            pa_rows[k].append(v)
        if p is not None:
            truth.append((provider, rid, party_name, p.pid))

    def maybe(v: object, prob: float) -> object:
        return v if rng.random() < prob else None

    def dob_of(p: Person, prob: float) -> date | None:
        if p.dob is None or rng.random() >= prob:
            return None
        if rng.random() < 0.03:
            return p.dob + timedelta(days=rng.choice([1, -1, 10, 31]))
        return p.dob

    def acct(p: Person, provider: str, prefix: str) -> str:
        key = f"{provider}:{prefix}"
        if key not in p.accounts:
            p.accounts[key] = f"{prefix}{rng.getrandbits(40):010x}"
        return p.accounts[key]

    # each consumer has a few favourite facilitators and channels
    fav = {c.pid: rng.sample(facilitators, k=min(len(facilitators), rng.randint(1, 3))) for c in consumers}
    activity = [1.0 / (i + 1) ** 0.6 for i in range(len(consumers))]
    for n in range(transactions):
        c = rng.choices(consumers, activity)[0]
        f = rng.choice(fav[c.pid])
        fmt = rng.choices(list(providers), weights)[0]
        provider = rng.choice(providers[fmt])
        rid = f"T{n:08d}"
        ts = t0 + timedelta(days=rng.randrange(120))
        device = (rng.choice(cafe_devices) if rng.random() < 0.05 else c.device) if rng.random() < 0.5 else None
        tx["provider"].append(provider)
        tx["record_id"].append(rid)
        tx["format"].append(fmt)
        tx["ts_utc"].append(ts)
        tx["device_id"].append(device)
        for k in tx:
            if k not in ("provider", "record_id", "format", "ts_utc", "device_id"):
                tx[k].append(None)
        if fmt == "remittance-csv":
            party(provider, rid, "sender", "from", c, name=written_name(rng, c), dob=dob_of(c, 0.9),
                  phone_e164=maybe(c.phone, 0.8), email=maybe(c.email, 0.4), city=maybe(c.city, 0.9),
                  country=c.country, account=maybe(acct(c, provider, "C"), 0.7), account_kind="customer",
                  id_type=c.id_doc[0] if c.id_doc and rng.random() < 0.5 else None,
                  id_number=c.id_doc[1] if c.id_doc else None)
            if pa_rows["id_type"][-1] is None:
                pa_rows["id_number"][-1] = None
            phone = rng.choice(agent_phones) if rng.random() < 0.08 else maybe(f.phone, 0.75)
            party(provider, rid, "receiver", "to", f, name=written_name(rng, f), phone_e164=phone,
                  city=maybe(f.city, 0.9), country=f.country)
        elif fmt == "wallet-csv":
            party(provider, rid, "payer", "from", c, name=maybe(written_name(rng, c, 0.5), 0.9),
                  email=maybe(c.email, 0.8), phone_e164=maybe(c.phone, 0.5), country=c.country,
                  account=acct(c, provider, "W"), account_kind="wallet")
            party(provider, rid, "payee", "to", f, name=maybe(written_name(rng, f, 0.5), 0.85),
                  email=maybe(f.email, 0.6), phone_e164=maybe(f.phone, 0.6), country=f.country,
                  account=acct(f, provider, "W"), account_kind="wallet")
        elif fmt == "card-csv":
            party(provider, rid, "cardholder", "from", c, name=maybe(written_name(rng, c), 0.6),
                  dob=dob_of(c, 0.2), email=maybe(c.email, 0.3), phone_e164=maybe(c.phone, 0.2),
                  country=c.country, account=acct(c, "card", "tok_"), account_kind="card")
            mid = f"M{rng.randrange(20):04d}"
            party(provider, rid, "merchant", "to", None, name=f"Webcam Site {mid}", country="CY",
                  account=mid, account_kind="merchant")
            truth.append((provider, rid, "merchant", -int(mid[1:]) - 1))
        else:
            party(provider, rid, "debtor", "from", c, name=written_name(rng, c, 0.5), city=maybe(c.city, 0.7),
                  country=c.country, account=acct(c, "iban", "DE89"), account_kind="iban")
            party(provider, rid, "creditor", "to", f, name=written_name(rng, f, 0.5), city=maybe(f.city, 0.7),
                  country=f.country, account=acct(f, "iban", "PH12"), account_kind="iban")
    con.register("_sample_tx", pa.table(tx))
    con.execute("INSERT INTO transactions BY NAME SELECT * FROM _sample_tx")
    con.unregister("_sample_tx")
    con.register("_sample_parties", pa.table(pa_rows))
    con.execute("INSERT INTO parties BY NAME SELECT * FROM _sample_parties")
    con.unregister("_sample_parties")

    # platform referrals naming some consumers and facilitators
    rs: dict[str, list[object]] = {c.name: [] for c in REFERRAL_SUBJECTS.columns}
    ri: dict[str, list[object]] = {c.name: [] for c in REFERRAL_IDENTIFIERS.columns}
    n_ref = referrals if referrals is not None else max(2, transactions // 50)
    for ref_no in range(n_ref):
        report_id = f"R-{ref_no:06d}"
        c = rng.choice(consumers)
        f = rng.choice(fav[c.pid])
        for ref, p, role in (("s1", c, "suspect_viewer"), ("s2", f, "suspect_facilitator")):
            rid = f"{report_id}#{ref}"
            name = maybe(written_name(rng, p, 0.5), 0.8)
            vals = dict(provider="VidChat", record_id=rid, report_id=report_id, subject_ref=ref,
                        platform="VidChat", role=role, account_id=f"u_{p.pid}",
                        screen_name=None, display_name=name,
                        name_norm=normalise_name(name) if isinstance(name, str) else None,
                        dob=maybe(p.dob, 0.3), country=maybe(p.country, 0.7))
            for key, v in vals.items():
                rs[key].append(v)
            truth.append(("VidChat", rid, ref, p.pid))
            for kind, v in (("email", p.email), ("phone", p.phone)):
                if v and rng.random() < 0.6:
                    for key, val in dict(provider="VidChat", record_id=rid, kind=kind, value=v,
                                         value_norm=v).items():
                        ri[key].append(val)
    con.register("_sample_rs", pa.table(rs))
    con.execute("INSERT INTO referral_subjects BY NAME SELECT * FROM _sample_rs")
    con.unregister("_sample_rs")
    if ri["provider"]:
        con.register("_sample_ri", pa.table(ri))
        con.execute("INSERT INTO referral_identifiers BY NAME SELECT * FROM _sample_ri")
        con.unregister("_sample_ri")
    return Population(pop, truth)
