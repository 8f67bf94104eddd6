"""Platform referrals: link referral subjects to payment subjects, align
payments with platform sessions and logins, and pivot from an account, email
or phone to the money.

Public surface:

- :func:`run_referrals` — the batch stage (after resolve, before score);
- :func:`link_referrals`, :func:`unmatched` — ``referral_links`` and what it misses;
- :func:`align_payments`, :func:`alignment_features` — ``aligned_payments`` and
  ``referral_txn_features`` (what scoring reads);
- :func:`pivot` — the data behind ``moneytrail pivot`` and the API;
- :class:`ReferralSettings`, :class:`ReferralReport`.

See ``docs/referrals.md``.
"""

from moneytrail.referrals import tables as tables
from moneytrail.referrals.alignment import align_payments, alignment_features
from moneytrail.referrals.config import ReferralReport, ReferralSettings
from moneytrail.referrals.linking import link_referrals, unmatched
from moneytrail.referrals.pivot import pivot
from moneytrail.referrals.run import run_referrals

__all__ = [
    "ReferralReport",
    "ReferralSettings",
    "align_payments",
    "alignment_features",
    "link_referrals",
    "pivot",
    "run_referrals",
    "unmatched",
]
