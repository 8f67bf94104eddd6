"""Read queries of the web API against the DuckDB warehouse (opened read-only).

They reuse the stage packages (``moneytrail.network.expand``,
``moneytrail.referrals.pivot``, the indicator catalogue and the scoring models)
and return plain dicts shaped like ``moneytrail.web.api.schemas``.
"""

from moneytrail.errors import UserError


class NotFound(UserError):
    """The thing asked for is not in the warehouse (HTTP 404)."""


__all__ = ["NotFound"]
