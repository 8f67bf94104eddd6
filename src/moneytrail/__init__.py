"""moneytrail: trace the payments behind live-streamed child sexual abuse."""

__version__ = "0.1.0"
