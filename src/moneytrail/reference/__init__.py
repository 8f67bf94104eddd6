"""Built-in reference data: exchange rates and country time zones."""

from __future__ import annotations

from importlib.resources import files

import pytz

# A country with several zones is represented by the zone where most of its
# people live: a sender's local hour is an estimate, and the indicators that
# use it allow for that.
_REPRESENTATIVE_ZONE = {
    "US": "America/Chicago",
    "CA": "America/Toronto",
    "AU": "Australia/Sydney",
    "RU": "Europe/Moscow",
    "BR": "America/Sao_Paulo",
    "MX": "America/Mexico_City",
    "ID": "Asia/Jakarta",
    "CN": "Asia/Shanghai",
    "KZ": "Asia/Almaty",
    "AR": "America/Argentina/Buenos_Aires",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "NZ": "Pacific/Auckland",
    "CL": "America/Santiago",
    "EC": "America/Guayaquil",
    "DE": "Europe/Berlin",
    "UA": "Europe/Kyiv",
}


def builtin_fx_path() -> str:
    return str(files("moneytrail.reference").joinpath("fx_rates.csv"))


def country_timezones() -> dict[str, str]:
    """ISO alpha-2 country -> IANA zone used for the sender's local hour."""
    zones = {cc: tzs[0] for cc, tzs in pytz.country_timezones.items() if tzs}
    zones.update(_REPRESENTATIVE_ZONE)
    return zones
