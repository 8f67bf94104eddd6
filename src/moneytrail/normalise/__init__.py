"""Normalisers: one function per kind of value, each property-tested.

They run over distinct values (not rows), so the slow libraries
(phonenumbers, pycountry) cost per distinct phone or country, not per record.
"""

from moneytrail.normalise.countries import country_code
from moneytrail.normalise.currencies import currency_code
from moneytrail.normalise.emails import normalise_email
from moneytrail.normalise.names import name_tokens, normalise_name
from moneytrail.normalise.phones import normalise_phone

__all__ = [
    "country_code",
    "currency_code",
    "name_tokens",
    "normalise_email",
    "normalise_name",
    "normalise_phone",
]
