"""The indicator catalogue: published financial indicators as data, evaluated in SQL.

- :func:`load_catalogue` reads ``catalogue.yaml``;
- :func:`load_config` validates a user's parameter file;
- :func:`compute_indicators` evaluates every indicator in the warehouse.
"""

from moneytrail.indicators.catalogue import Catalogue, Indicator, Source, load_catalogue
from moneytrail.indicators.config import ScoringConfig, build_config, load_config
from moneytrail.indicators.engine import compute_indicators

__all__ = [
    "Catalogue",
    "Indicator",
    "ScoringConfig",
    "Source",
    "build_config",
    "compute_indicators",
    "load_catalogue",
    "load_config",
]
