"""Malformed records: about 0.5% of records, each listed in the truth with its location.

CSV records get a bad date, a non-numeric amount, an unknown currency, a
missing id, broken quoting (a name with a comma written unquoted: one column
too many) or a line cut short (too few columns). pacs.008 transactions get a
bad date, a non-numeric amount, an unknown currency, no id at all or no
amount; the XML stays well-formed, so the rest of the file is still read.
Platform referral files get the odd line that is not JSON.
"""

from __future__ import annotations

import numpy as np

from moneytrail.synth import ledger as L

DEFECTS: tuple[str, ...] = (
    "", "bad_date", "non_numeric_amount", "unknown_currency", "missing_id", "broken_quoting",
    "wrong_column_count", "missing_amount", "broken_json",
)
CSV_DEFECTS = ("bad_date", "non_numeric_amount", "unknown_currency", "missing_id", "broken_quoting", "wrong_column_count")
XML_DEFECTS = ("bad_date", "non_numeric_amount", "unknown_currency", "missing_id", "missing_amount")

BAD_DATES = ("2024-13-45T25:61:00", "31/02/2024 10:00", "not a date", "2025-02-30T12:00:00", "20241301", "yesterday")
BAD_NUMBERS = ("12,50", "abc", "35.00 USD", "1.2.3", "N/A", "--")
UNKNOWN_CURRENCIES = ("XQQ", "USX", "PHX", "EURO", "$$")

RATE = 0.005


def assign(ledger: L.Ledger, rng: np.random.Generator, rate: float = RATE) -> None:
    """Mark about `rate` of the ledger's records as malformed, with a defect fit for the record's format."""
    c = ledger.c
    n = ledger.n
    hit = rng.random(n) < rate
    fmt_xml = c["prov"] == L.PROV["atlasbank"]
    code = np.zeros(n, np.int8)
    csv_codes = np.array([DEFECTS.index(d) for d in CSV_DEFECTS], np.int8)
    xml_codes = np.array([DEFECTS.index(d) for d in XML_DEFECTS], np.int8)
    code[hit & ~fmt_xml] = csv_codes[rng.integers(0, len(csv_codes), int((hit & ~fmt_xml).sum()))]
    code[hit & fmt_xml] = xml_codes[rng.integers(0, len(xml_codes), int((hit & fmt_xml).sum()))]
    c["defect"] = code
