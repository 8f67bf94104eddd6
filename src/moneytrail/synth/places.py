"""Countries of the synthetic world: currency, time zones, towns, phone plans, name origin.

Reference rates (`USD_PER_UNIT`) are rounded 2024 levels; the world lets them
drift month by month and writes the rates it used to `fx_rates.csv`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Country:
    code: str
    currency: str
    zones: tuple[tuple[str, float], ...]
    origin: str  # name pool, see names.py
    cities: tuple[str, ...]
    calling_code: str
    trunk: str  # national trunk prefix ("0" or "")
    mobile_prefixes: tuple[str, ...]
    national_digits: int  # digits of the national (significant) number


def _c(code: str, cur: str, zones: tuple[tuple[str, float], ...], origin: str, cities: str,
       cc: str, trunk: str, prefixes: str, digits: int) -> Country:
    return Country(code, cur, zones, origin, tuple(cities.split("|")), cc, trunk,
                   tuple(prefixes.split()), digits)


COUNTRIES: tuple[Country, ...] = (
    # consumer-side and other sending countries
    _c("US", "USD", (("America/New_York", .45), ("America/Chicago", .30), ("America/Denver", .07), ("America/Los_Angeles", .18)),
       "en", "New York|Houston|Phoenix|Chicago|San Antonio|Columbus|Jacksonville|Denver|Seattle|Tampa|Las Vegas|Portland",
       "1", "", "201 212 213 305 312 404 415 512 602 614 702 713 718 904 206 303 813 503", 10),
    _c("AU", "AUD", (("Australia/Sydney", .55), ("Australia/Brisbane", .2), ("Australia/Perth", .15), ("Australia/Adelaide", .1)),
       "en", "Sydney|Melbourne|Brisbane|Perth|Adelaide|Gold Coast|Newcastle|Cairns",
       "61", "0", "412 413 414 418 421 423 431 438 447 450 466 477 481 491", 9),
    _c("GB", "GBP", (("Europe/London", 1.0),), "en", "London|Manchester|Birmingham|Leeds|Glasgow|Bristol|Liverpool|Leicester",
       "44", "0", "7400 7401 7500 7700 7701 7709 7711 7712 7800 7801 7900 7903", 10),
    _c("CA", "CAD", (("America/Toronto", .6), ("America/Vancouver", .25), ("America/Edmonton", .15)), "en",
       "Toronto|Vancouver|Calgary|Ottawa|Edmonton|Winnipeg|Mississauga",
       "1", "", "416 604 403 613 780 204 905 647", 10),
    _c("DE", "EUR", (("Europe/Berlin", 1.0),), "de", "Berlin|Hamburg|München|Köln|Frankfurt am Main|Stuttgart|Düsseldorf",
       "49", "0", "151 152 157 160 170 171 176 179", 11),
    _c("NL", "EUR", (("Europe/Amsterdam", 1.0),), "nl", "Amsterdam|Rotterdam|Den Haag|Utrecht|Eindhoven",
       "31", "0", "61 62 63 64 65", 9),
    _c("FR", "EUR", (("Europe/Paris", 1.0),), "fr", "Paris|Marseille|Lyon|Toulouse|Nice|Nantes",
       "33", "0", "61 62 63 66 67 68 77 78", 9),
    _c("SE", "SEK", (("Europe/Stockholm", 1.0),), "nordic", "Stockholm|Göteborg|Malmö|Uppsala",
       "46", "0", "70 72 73 76 79", 9),
    _c("NO", "NOK", (("Europe/Oslo", 1.0),), "nordic", "Oslo|Bergen|Trondheim|Stavanger",
       "47", "", "40 41 45 46 48 90 92 93 95 97 98", 8),
    _c("IE", "EUR", (("Europe/Dublin", 1.0),), "en", "Dublin|Cork|Galway|Limerick",
       "353", "0", "83 85 86 87 89", 9),
    _c("SA", "SAR", (("Asia/Riyadh", 1.0),), "ar", "Riyadh|Jeddah|Dammam|Mecca",
       "966", "0", "50 53 54 55 56 58 59", 9),
    _c("JP", "JPY", (("Asia/Tokyo", 1.0),), "jp", "Tokyo|Osaka|Yokohama|Nagoya|Sapporo",
       "81", "0", "90 80 70", 10),
    _c("SG", "SGD", (("Asia/Singapore", 1.0),), "cn", "Singapore",
       "65", "", "8123 8765 9123 9876 8456 9234", 8),
    _c("NZ", "NZD", (("Pacific/Auckland", 1.0),), "en", "Auckland|Wellington|Christchurch|Hamilton",
       "64", "0", "21 22 27", 9),
    _c("AE", "AED", (("Asia/Dubai", 1.0),), "ar", "Dubai|Abu Dhabi|Sharjah",
       "971", "0", "50 52 54 55 56 58", 9),
    _c("HK", "HKD", (("Asia/Hong_Kong", 1.0),), "cn", "Hong Kong|Kowloon|Tsuen Wan",
       "852", "", "51 61 62 63 64 90 91 92 93 94 97 98", 8),
    # receiving countries
    _c("PH", "PHP", (("Asia/Manila", 1.0),), "ph",
       "Quezon City|Manila|Caloocan|Davao City|Cebu City|Zamboanga City|Taguig|Antipolo|Pasig|Cagayan de Oro|Angeles City|Lapu-Lapu City|Bacolod|Iloilo City|General Santos|Taguig|Olongapo|Tacloban",
       "63", "0", "905 906 915 916 917 918 919 920 921 926 927 928 929 939 945 955 956 961 966 977 995 998", 10),
    _c("TH", "THB", (("Asia/Bangkok", 1.0),), "th", "Bangkok|Chiang Mai|Pattaya|Udon Thani|Khon Kaen|Nakhon Ratchasima|Hat Yai",
       "66", "0", "81 82 83 84 86 87 89 91 92 95 96", 9),
    _c("CO", "COP", (("America/Bogota", 1.0),), "es", "Bogotá|Medellín|Cali|Barranquilla|Cartagena|Pereira",
       "57", "", "300 301 310 311 312 313 314 315 316 320 321", 10),
    _c("DO", "DOP", (("America/Santo_Domingo", 1.0),), "es", "Santo Domingo|Santiago de los Caballeros|Puerto Plata|Sosúa",
       "1", "", "809 829 849", 10),
    _c("MX", "MXN", (("America/Mexico_City", 1.0),), "es", "Ciudad de México|Guadalajara|Monterrey|Puebla|Tijuana",
       "52", "", "222 33 55 81 664", 10),
    _c("GH", "GHS", (("Africa/Accra", 1.0),), "ng", "Accra|Kumasi|Tamale|Takoradi",
       "233", "0", "20 24 26 27 54 55", 9),
    _c("IN", "INR", (("Asia/Kolkata", 1.0),), "in", "Mumbai|Delhi|Bengaluru|Hyderabad|Chennai|Kochi|Ahmedabad",
       "91", "0", "98 97 96 94 93 91 81 88 70", 10),
    _c("NG", "NGN", (("Africa/Lagos", 1.0),), "ng", "Lagos|Abuja|Ibadan|Port Harcourt|Enugu",
       "234", "0", "802 803 805 806 807 813 816 703 706 803", 10),
    _c("VN", "VND", (("Asia/Ho_Chi_Minh", 1.0),), "vn", "Hà Nội|Hồ Chí Minh|Đà Nẵng|Hải Phòng|Cần Thơ",
       "84", "0", "90 91 93 94 97 98 96", 9),
    _c("PL", "PLN", (("Europe/Warsaw", 1.0),), "pl", "Warszawa|Kraków|Łódź|Wrocław|Poznań|Gdańsk",
       "48", "", "50 51 53 57 60 66 69 72 78 79 88", 9),
    _c("CN", "CNY", (("Asia/Shanghai", 1.0),), "cn", "Shanghai|Beijing|Guangzhou|Shenzhen|Xiamen",
       "86", "0", "131 135 138 139 150 186 189", 11),
    _c("ID", "IDR", (("Asia/Jakarta", 1.0),), "id", "Jakarta|Surabaya|Bandung|Medan|Semarang",
       "62", "0", "812 813 821 822 852 853 857 878", 10),
)

BY_CODE: dict[str, Country] = {c.code: c for c in COUNTRIES}
CODES: tuple[str, ...] = tuple(c.code for c in COUNTRIES)
INDEX: dict[str, int] = {c: i for i, c in enumerate(CODES)}

ZONES: tuple[str, ...] = tuple(dict.fromkeys(z for c in COUNTRIES for z, _ in c.zones))
ZONE_INDEX: dict[str, int] = {z: i for i, z in enumerate(ZONES)}

CURRENCIES: tuple[str, ...] = tuple(dict.fromkeys(["USD", *(c.currency for c in COUNTRIES)]))
CURRENCY_INDEX: dict[str, int] = {c: i for i, c in enumerate(CURRENCIES)}
ZERO_DECIMAL = frozenset({"JPY", "VND", "IDR"})

USD_PER_UNIT: dict[str, float] = {
    "USD": 1.0, "AUD": 0.66, "GBP": 1.27, "CAD": 0.74, "EUR": 1.08, "SEK": 0.095, "NOK": 0.093,
    "SAR": 0.2667, "JPY": 0.0067, "SGD": 0.74, "NZD": 0.61, "AED": 0.2723, "HKD": 0.128,
    "PHP": 0.0178, "THB": 0.028, "COP": 0.00025, "DOP": 0.017, "MXN": 0.055, "GHS": 0.075,
    "INR": 0.012, "NGN": 0.00075, "VND": 0.00004, "PLN": 0.25, "CNY": 0.138, "IDR": 0.000063,
}

# Where consumers live: the United States about half of the flow, then
# Australia, the United Kingdom, Canada and Europe (AMLC; FINTRAC; IJM).
CONSUMER_COUNTRIES: dict[str, float] = {
    "US": .50, "AU": .10, "GB": .09, "CA": .07, "DE": .05, "NL": .02, "FR": .02, "SE": .02,
    "NO": .01, "IE": .01, "SA": .03, "JP": .02, "SG": .02, "NZ": .02, "AE": .02,
}
# Where facilitator networks are: mostly the Philippines, then Thailand, Colombia...
FACILITATOR_COUNTRIES: dict[str, float] = {"PH": .78, "TH": .08, "CO": .07, "DO": .03, "MX": .02, "GH": .02}
# Sending countries of the legitimate population.
RESIDENT_COUNTRIES: dict[str, float] = {
    "US": .40, "AU": .10, "GB": .12, "CA": .08, "DE": .07, "NL": .03, "FR": .05, "SE": .02,
    "NO": .01, "IE": .02, "SA": .02, "JP": .02, "SG": .02, "NZ": .02, "AE": .02,
}
# Where overseas Filipino workers live.
OFW_COUNTRIES: dict[str, float] = {
    "US": .30, "SA": .15, "AE": .12, "SG": .08, "HK": .08, "CA": .08, "AU": .07, "GB": .06, "JP": .04, "NZ": .02,
}
# Migrants' legitimate remittance corridors: (from, to) with weights.
MIGRANT_CORRIDORS: dict[tuple[str, str], float] = {
    ("US", "MX"): .25, ("US", "IN"): .08, ("US", "CN"): .04, ("US", "VN"): .05, ("US", "NG"): .04,
    ("US", "CO"): .05, ("US", "DO"): .05, ("GB", "IN"): .06, ("GB", "PL"): .07, ("GB", "NG"): .05,
    ("CA", "IN"): .05, ("AU", "VN"): .04, ("AU", "IN"): .04, ("DE", "PL"): .05, ("FR", "VN"): .02,
    ("US", "TH"): .03, ("AU", "TH"): .03,
}
SUPPLIER_COUNTRIES: dict[str, float] = {"PH": .3, "TH": .25, "VN": .25, "ID": .15, "CN": .05}
ROMANCE_SCAMMER_COUNTRIES: dict[str, float] = {"PH": .35, "GH": .25, "NG": .3, "TH": .1}
STUDENT_COUNTRIES: dict[str, float] = {"PH": .6, "TH": .25, "CO": .15}

NIGHT_HOURS = frozenset({22, 23, 0, 1, 2, 3, 4, 5})
