"""Entity resolution: one person across providers and referrals.

Public surface:

- :func:`resolve` — a full run over the warehouse, writing ``subject_records``,
  ``resolve_links``, ``shared_identifiers`` and ``resolve_model``;
- :func:`resolve_new` — link the records added since, to existing subjects;
- :func:`explain_link` / :func:`render_link` — the evidence between two records;
- :class:`ResolveSettings`, :class:`ResolveReport`.

See ``docs/resolve.md``.
"""

from moneytrail.resolve import tables as tables
from moneytrail.resolve.config import ResolveReport, ResolveSettings
from moneytrail.resolve.explain import LinkExplanation, explain_link, parse_key, render_link
from moneytrail.resolve.incremental import resolve_new
from moneytrail.resolve.run import resolve

__all__ = [
    "LinkExplanation",
    "ResolveReport",
    "ResolveSettings",
    "explain_link",
    "parse_key",
    "render_link",
    "resolve",
    "resolve_new",
]
