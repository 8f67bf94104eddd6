"""Reference lists the indicators use: corridors and surname origins.

Every list is loaded into a small warehouse table by :func:`install_lexicon`,
so indicator definitions stay plain SQL joins (no Python in the hot path).
A user's configuration file may extend or replace the lists (see
``docs/indicators.md``).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

# Receiving jurisdictions named by FINTRAC 2020/2025 (I10, I13) and the AMLC studies.
HIGH_RISK_COUNTRIES: tuple[str, ...] = (
    "PH", "TH", "CO", "DO", "MX", "GH", "UA", "RO", "JM", "RU", "KH", "VN", "ID", "LA", "MM",
)
# Sending countries of consumers (IJM, AMLC next sources).
CONSUMER_COUNTRIES: tuple[str, ...] = (
    "US", "GB", "AU", "CA", "DE", "NL", "FR", "SE", "NO", "DK", "FI", "CH", "AT", "BE", "IE",
    "NZ", "JP", "SG", "SA", "IT", "ES",
)

# Keyword and merchant-code lists live with their indicators in catalogue.yaml.

# Surname origin classes: a small lexicon, enough to tell a Filipino, Hispanic or
# Thai beneficiary from an Anglo or northern-European sender (ACAMS V20N3 p. 97:
# "no name or ethnic link"). Hispanic surnames are common in the Philippines too,
# so the two share the class "hisp_ph".
SURNAMES: dict[str, str] = {}


def _add(origin: str, names: str) -> None:
    for n in names.split("|"):
        SURNAMES[n.strip().lower()] = origin


_add("anglo", "smith|johnson|williams|brown|jones|miller|davis|wilson|anderson|taylor|thomas|moore|"
     "martin|thompson|white|harris|clark|lewis|walker|hall|allen|young|king|wright|scott|green|baker|"
     "adams|nelson|hill|campbell|mitchell|roberts|carter|phillips|evans|turner|parker|collins|edwards|"
     "stewart|morris|murphy|cook|rogers|obrien|o brien|mcdonald|kelly|walsh|hughes|price|bennett|wood|"
     "barnes|fletcher|hayes|gallagher|sullivan|fraser|reid|jackson|harrison|cooper|ward|watson|"
     "robinson|wright|hughes|graham|russell|ellis|shaw|palmer|mills|lee")
_add("european", "muller|mueller|schmidt|schneider|fischer|weber|meyer|wagner|becker|schulz|hoffmann|"
     "schafer|schaefer|koch|bauer|richter|klein|wolf|schroder|schroeder|neumann|schwarz|zimmermann|"
     "kruger|krueger|hartmann|lange|kohler|koehler|vries|dijk|bakker|jansen|visser|smit|jong|berg|"
     "meijer|mulder|boer|vos|peters|hendriks|bernard|dubois|petit|durand|leroy|moreau|simon|laurent|"
     "lefevre|roux|fournier|girard|bonnet|dupont|lambert|fontaine|chevalier|andersson|johansson|"
     "karlsson|nilsson|eriksson|larsson|olsson|persson|larsen|hansen|olsen|johansen|haugen|lindqvist|"
     "bergstrom|nowak|kowalski|wisniewski|wojcik|kowalczyk|kaminski|lewandowski|zielinski|szymanski|"
     "wozniak|dabrowski|kozlowski")
_add("hisp_ph", "santos|reyes|cruz|bautista|ocampo|garcia|mendoza|torres|tomas|andrada|castillo|flores|"
     "villanueva|ramos|castro|rivera|aquino|navarro|salazar|mercado|dela|leon|rosario|gonzales|lopez|"
     "hernandez|perez|fernandez|domingo|soriano|pascual|manalo|dizon|valdez|aguilar|santiago|mariano|"
     "galang|macaraeg|pangilinan|dimaculangan|magbanua|tolentino|evangelista|sarmiento|lacson|"
     "villareal|cabrera|javier|buenaventura|rodriguez|gomez|gonzalez|martinez|sanchez|ramirez|diaz|"
     "munoz|rojas|moreno|jimenez|vargas|gutierrez|ortiz|pena|ospina|cardenas|restrepo|quintero|"
     "zapata|mejia|alvarez|rios|dela cruz|del rosario|de leon")
_add("thai", "saetang|srisuk|wongsawat|chaiyaporn|thongchai|kaewmanee|boonmee|sukprasert|rattanakorn|"
     "phromphan|suksawat|jaidee|srisawat|chantharat|inthasorn|sangthong|phetsri|kongkaew|thammasat|wongsa")
_add("african", "okafor|adeyemi|okonkwo|mensah|boateng|owusu|adebayo|nwosu|asante|eze|bello|oduya|"
     "appiah|obi|afolabi|danso")
_add("south_asian", "sharma|patel|singh|kumar|gupta|reddy|nair|iyer|das|mehta|shah|joshi|verma|rao|"
     "pillai|menon")
_add("east_asian", "nguyen|tran|le|pham|hoang|phan|vu|dang|bui|do|ho|ngo|wang|li|zhang|liu|chen|"
     "yang|huang|zhao|wu|zhou|tan|lim|ng|wong")


def _values(rows: Sequence[tuple[str, ...]]) -> str:
    return ", ".join("(" + ", ".join("'" + v.replace("'", "''") + "'" for v in r) + ")" for r in rows)


def install_lexicon(
    con: duckdb.DuckDBPyConnection,
    *,
    high_risk: tuple[str, ...] = HIGH_RISK_COUNTRIES,
    extra_surnames: dict[str, str] | None = None,
) -> None:
    """(Re)create the lexicon tables ``mt_lex_surname``, ``mt_lex_country``."""
    names = dict(SURNAMES)
    names.update({k.lower(): v for k, v in (extra_surnames or {}).items()})
    con.execute("CREATE OR REPLACE TABLE mt_lex_surname (token VARCHAR, origin VARCHAR)")
    con.execute(f"INSERT INTO mt_lex_surname VALUES {_values(sorted(names.items()))}")
    con.execute("CREATE OR REPLACE TABLE mt_lex_country (country VARCHAR, kind VARCHAR)")
    rows = [(c, "high_risk") for c in high_risk] + [(c, "consumer") for c in CONSUMER_COUNTRIES]
    con.execute(f"INSERT INTO mt_lex_country VALUES {_values(rows)}")

