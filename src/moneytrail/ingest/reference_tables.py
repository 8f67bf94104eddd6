"""Reference tables in the warehouse: countries, currencies, zones, built-in rates.

SQL joins against these instead of calling Python per row; they are filled
from the same normalisers (pycountry) that the property tests check.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pycountry

from moneytrail.normalise.countries import _ALIASES
from moneytrail.reference import builtin_fx_path, country_timezones
from moneytrail.store import scalar, table_exists


def install_reference(con: duckdb.DuckDBPyConnection) -> None:
    if not table_exists(con, "country_lookup"):
        keys: dict[str, str] = {}
        for c in pycountry.countries:
            for name in (c.alpha_2, c.alpha_3, c.name, getattr(c, "common_name", None),
                         getattr(c, "official_name", None)):
                if name:
                    keys.setdefault(" ".join(name.lower().split()), c.alpha_2)
        for alias, code in _ALIASES.items():
            keys.setdefault(alias, code)
        items = sorted(keys.items())
        _create_from(con, "country_lookup", {"key": [k for k, _ in items], "alpha2": [v for _, v in items]})
    if not table_exists(con, "country_tz"):
        zones = sorted(country_timezones().items())
        _create_from(con, "country_tz", {"country": [k for k, _ in zones], "tz": [v for _, v in zones]})
    if not table_exists(con, "currency_codes"):
        _create_from(con, "currency_codes", {"code": sorted(c.alpha_3 for c in pycountry.currencies)})
    if not scalar(con, "SELECT count(*) FROM fx_rates WHERE source = 'builtin'"):
        con.execute(
            "INSERT INTO fx_rates SELECT CAST(date AS DATE), upper(currency), "
            "CAST(usd_per_unit AS DOUBLE), 'builtin' "
            f"FROM read_csv('{builtin_fx_path()}', header=true, all_varchar=true)"
        )


def _create_from(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, list[str]]) -> None:
    data = pa.table(columns)
    con.register("reference_rows", data)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM reference_rows")
    con.unregister("reference_rows")

