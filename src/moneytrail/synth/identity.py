"""How each provider writes a person down: names, phones, emails, dates of birth, accounts.

The same person looks different at every provider, as in real exports:
swapped name order, case, missing middle names, initials, transliterations,
"Ma." for Maria, double surnames, accents dropped, phone numbers in other
notations, emails known to some providers only, missing dates of birth, and
the odd typo in a single record. A provider's view of a person is stable
(one profile per person and provider); typos are per record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from unidecode import unidecode

from moneytrail.synth import names as N
from moneytrail.synth import places as P
from moneytrail.synth.population import Population, ip_str


@dataclass(frozen=True)
class Habits:
    """A provider's way of recording people."""

    name_styles: tuple[float, ...]  # weights of styles 0..5 (see render_name)
    case: tuple[float, float, float]  # as typed, UPPER, lower
    ascii_only: bool
    translit: float  # chance a transliterable name is spelt the other way here
    phone: float  # chance the phone is recorded
    phone_styles: tuple[float, ...]  # weights of notations 0..4 (see render_phone)
    email: float
    dob: float
    email_case: float = 0.1


HABITS: dict[str, Habits] = {
    "remitco": Habits((.4, .3, .05, .1, .05, .1), (.6, .3, .1), False, .2, .9, (.2, .3, .3, .1, .1), .55, .8),
    "globesend": Habits((.15, .25, .45, .05, .05, .05), (.2, .75, .05), True, .35, .8, (.1, .2, .4, .2, .1), .35, .6),
    "paywave": Habits((.2, .6, .0, .0, .05, .15), (.8, .05, .15), False, .1, .6, (.5, .3, .1, .1, 0), 1.0, .3),
    "pesopay": Habits((.35, .3, .05, .05, .05, .2), (.6, .3, .1), True, .2, 1.0, (.1, .2, .6, .1, 0), .4, .5),
    "northbank": Habits((.3, .4, .0, .0, .15, .15), (.05, .95, 0), True, .1, .5, (.4, .2, .2, .2, 0), .3, .4),
    "atlasbank": Habits((.35, .3, .2, .1, .0, .05), (.5, .5, 0), True, .25, .25, (.5, .4, 0, .1, 0), .2, .5),
    "vidchat": Habits((.1, .7, .0, .0, .0, .2), (.7, .05, .25), False, .2, 1.0, (.3, .5, .1, .1, 0), 1.0, 1.0),
    "linkup": Habits((.1, .7, .0, .0, .0, .2), (.7, .05, .25), False, .2, 1.0, (.3, .5, .1, .1, 0), 1.0, 1.0),
}

IBAN_BBAN: dict[str, str] = {  # L = letter, D = digit
    "GB": "LLLLDDDDDDDDDDDDDD", "DE": "DDDDDDDDDDDDDDDDDD", "NL": "LLLLDDDDDDDDDD", "FR": "DDDDDDDDDDDDDDDDDDDDDDD",
    "IE": "LLLLDDDDDDDDDDDDDD", "SE": "DDDDDDDDDDDDDDDDDDDD", "NO": "DDDDDDDDDDD", "SA": "DDDDDDDDDDDDDDDDDDDDDD",
    "AE": "DDDDDDDDDDDDDDDDDDD", "PL": "DDDDDDDDDDDDDDDDDDDDDDDD",
}
BANK_CODES = ("NOVA", "SUNR", "MERI", "PACF", "ISLA", "BAYB", "CRST", "HRBR")
LOCATION = {"US": "33", "GB": "2L", "AU": "2S", "CA": "T2", "DE": "FF", "PH": "MM", "TH": "BK", "CO": "BB"}


def iban(country: str, n: int) -> str:
    rnd = np.random.default_rng(n)
    pattern = IBAN_BBAN[country]
    bban = "".join(chr(65 + int(rnd.integers(0, 26))) if c == "L" else str(int(rnd.integers(0, 10))) for c in pattern)
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    check = 98 - int(digits) % 97
    return f"{country}{check:02d}{bban}"


def bic(country: str, k: int) -> str:
    return f"{BANK_CODES[k % len(BANK_CODES)]}{country}{LOCATION.get(country, '22')}XXX"


def _mix(idx: np.ndarray, salt: int, mod: int) -> np.ndarray:
    """A bijection of person indices onto [0, mod): ids that look random but never collide."""
    a = 2654435761 % mod
    while np.gcd(a, mod) != 1:
        a += 1
    return (idx.astype(object) * a + salt * 7919) % mod


def typo(s: str, r: np.random.Generator) -> str:
    if len(s) < 4:
        return s
    i = int(r.integers(1, len(s) - 1))
    op = int(r.integers(0, 3))
    if op == 0 and s[i] != " " and s[i + 1] != " ":
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    if op == 1 and s[i] != " ":
        return s[:i] + s[i + 1 :]
    return s[:i] + s[i] + s[i:]


def render_name(pop: Population, i: int, style: int, case: int, ascii_only: bool, translit: bool,
                abbrev: bool, dbl: int) -> str:
    org = int(pop["org"][i])
    if org >= 0:
        s = pop.orgs[org].name
        s = unidecode(s) if ascii_only else s
        return s.upper() if case == 1 else s
    origin = N.ORIGINS[int(pop["origin"][i])]
    males, females, surnames = N.POOLS[origin]
    male = int(pop["sex"][i]) == 1
    given = (males if male else females)[int(pop["given"][i]) % len(males if male else females)]
    sur = surnames[int(pop["surname"][i]) % len(surnames)]
    mid_i = int(pop["middle"][i])
    middle = ""
    if mid_i >= 0:
        pool = surnames if origin in N.MIDDLE_NAME_IS_SURNAME else (males if male else females)
        middle = pool[mid_i % len(pool)]
        if middle == given:
            middle = ""
    s2 = int(pop["surname2"][i])
    if s2 >= 0:
        sur2 = surnames[s2 % len(surnames)]
        if origin in N.DOUBLE_SURNAME:
            sur = (f"{sur} {sur2}", f"{sur}-{sur2}", sur)[dbl]
        else:
            sur = (f"{sur}-{sur2}", f"{sur} {sur2}", sur2)[dbl]
    if translit:
        if given in N.TRANSLITERATIONS:
            given = N.TRANSLITERATIONS[given][i % len(N.TRANSLITERATIONS[given])]
        if sur in N.TRANSLITERATIONS:
            sur = N.TRANSLITERATIONS[sur][i % len(N.TRANSLITERATIONS[sur])]
    if abbrev and given in N.ABBREVIATIONS:
        given = N.ABBREVIATIONS[given][i % len(N.ABBREVIATIONS[given])]
    if origin in N.SURNAME_FIRST and style in (0, 1):
        style = 2 if style == 0 else 1
    if style == 0:
        s = " ".join(x for x in (given, middle, sur) if x)
    elif style == 1:
        s = f"{given} {sur}"
    elif style == 2:
        s = f"{sur.upper() if origin not in N.SURNAME_FIRST else sur} {given}"
    elif style == 3:
        s = f"{sur}, " + " ".join(x for x in (given, middle) if x)
    elif style == 4:
        inits = " ".join(x[0] for x in (given, middle) if x)
        s = f"{inits} {sur}"
    else:
        s = " ".join(x for x in (given, f"{middle[0]}." if middle else "", sur) if x)
    if ascii_only:
        s = unidecode(s)
    if case == 1:
        s = s.upper()
    elif case == 2:
        s = s.lower()
    return s


def render_phone(country: int, prefix: int, sub: int, notation: int) -> str:
    c = P.COUNTRIES[country]
    pre = c.mobile_prefixes[prefix % len(c.mobile_prefixes)]
    nat = f"{pre}{sub}"
    nat = nat[: c.national_digits].ljust(c.national_digits, "0")
    cc = c.calling_code
    if notation == 0:
        return f"+{cc}{nat}"
    if notation == 1:
        if cc == "1":
            return f"+1 {nat[:3]}-{nat[3:6]}-{nat[6:]}"
        return f"+{cc} {nat[:3]} {nat[3:6]} {nat[6:]}"
    if notation == 2:
        if cc == "1":
            return f"({nat[:3]}) {nat[3:6]}-{nat[6:]}"
        return f"{c.trunk}{nat}"
    if notation == 3:
        return f"{cc}{nat}"
    return f"00{cc} {nat}"


def render_email(pop: Population, i: int, second: bool = False) -> str:
    origin = N.ORIGINS[int(pop["origin"][i])]
    males, females, surnames = N.POOLS[origin]
    male = int(pop["sex"][i]) == 1
    given = (males if male else females)[int(pop["given"][i]) % len(males if male else females)]
    sur = surnames[int(pop["surname"][i]) % len(surnames)]
    g = unidecode(given).lower().replace(" ", "").replace(".", "").replace("'", "")
    s = unidecode(sur).lower().replace(" ", "").replace("-", "").replace("'", "")
    num = int(pop["email_num"][i])
    style = (int(pop["email_style"][i]) + (3 if second else 0)) % 6
    h = N.HANDLE_WORDS
    user = (f"{g}.{s}", f"{g}{s}{num}", f"{g[0]}{s}{num}", f"{s}.{g}{num}",
            f"{h[num % len(h)]}{h[(num * 7) % len(h)]}{num}", f"{g}_{num}")[style]
    dom = N.EMAIL_DOMAINS[(int(pop["email_domain"][i]) + (1 if second else 0)) % len(N.EMAIL_DOMAINS)]
    return f"{user}@{dom}"


def dob_str(days: int) -> str:
    return str(np.datetime64(int(days), "D"))


class Profiles:
    """One provider's view of a set of persons: object arrays aligned with `persons` (sorted, unique)."""

    def __init__(self, pop: Population, persons: np.ndarray, provider: str, pidx: int, seed: int) -> None:
        self.persons = persons
        h = HABITS[provider]
        r = np.random.default_rng([seed, 1000 + pidx])
        n = len(persons)
        styles = r.choice(len(h.name_styles), size=n, p=np.array(h.name_styles) / sum(h.name_styles))
        cases = r.choice(3, size=n, p=np.array(h.case) / sum(h.case))
        translit = r.random(n) < h.translit
        abbrev = r.random(n) < .4
        dbl = r.choice(3, size=n, p=[.5, .3, .2])
        notation = r.choice(len(h.phone_styles), size=n, p=np.array(h.phone_styles) / sum(h.phone_styles))
        has_phone = r.random(n) < h.phone
        has_email = r.random(n) < h.email
        second = r.random(n) < .5
        email_case = r.random(n) < h.email_case
        has_dob = r.random(n) < h.dob
        city_upper = r.random(n) < .3
        self.name = np.empty(n, object)
        self.phone = np.empty(n, object)
        self.email = np.empty(n, object)
        self.dob = np.empty(n, object)
        self.city = np.empty(n, object)
        self.address = np.empty(n, object)
        self.country = np.empty(n, object)
        org = pop["org"]
        ctry = pop["country"]
        for k, pi in enumerate(persons.tolist()):
            is_org = org[pi] >= 0
            self.name[k] = render_name(pop, pi, int(styles[k]), int(cases[k]), h.ascii_only, bool(translit[k]),
                                       bool(abbrev[k]), int(dbl[k]))
            c = int(ctry[pi])
            self.country[k] = pop.orgs[org[pi]].country if is_org and pop.orgs[org[pi]].country else P.CODES[c]
            self.phone[k] = render_phone(c, int(pop["phone_prefix"][pi]), int(pop["phone_sub"][pi]), int(notation[k])) \
                if has_phone[k] and not is_org else None
            if has_email[k] and not is_org:
                e = render_email(pop, pi, bool(pop["has_email2"][pi]) and bool(second[k]))
                self.email[k] = e.title() if email_case[k] else e
            else:
                self.email[k] = None
            self.dob[k] = dob_str(int(pop["dob"][pi])) if has_dob[k] and not is_org else None
            city = P.COUNTRIES[c].cities[int(pop["city"][pi]) % len(P.COUNTRIES[c].cities)]
            if h.ascii_only:
                city = unidecode(city)
            self.city[k] = city.upper() if city_upper[k] else city
            self.address[k] = f"{int(pop['house'][pi])} {N.STREETS[int(pop['street'][pi])]}"

    def ids(self, prefix: str, salt: int, width: int = 9) -> np.ndarray:
        """Stable ids per person at this provider, e.g. customer numbers or account ids."""
        v = _mix(self.persons, salt, 10**width)
        return np.array([f"{prefix}{x:0{width}d}" for x in v], dtype=object)

    def ips(self, pop: Population) -> np.ndarray:
        return np.array([ip_str(int(v)) for v in pop["home_ip"][self.persons]], dtype=object)

    def lookup(self, persons: np.ndarray) -> np.ndarray:
        """Positions in this profile of the given persons (which must all be in it)."""
        return np.searchsorted(self.persons, persons)
