"""Transparent logistic models over indicator fires, with Platt calibration.

A model is readable: one weight per feature (an indicator firing, or a share
of a subject's transactions on which it fired), an intercept, and the two
Platt constants that map the raw log-odds to a calibrated probability:

    p = 1 / (1 + exp(-(a * (b0 + sum_i w_i * x_i) + b)))

Weights ship as package data (``weights.json``) and are rebuilt by
``moneytrail train`` on a synthetic world.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from moneytrail.errors import UserError

WEIGHTS_FILE = "weights.json"
SPLIT_MODEL = "facilitator_vs_intermediary"  # P(facilitator | receiving side)
# the receiving-side subjects with P(facilitator | receiving side) at least this are facilitators,
# the others intermediaries (chosen by `train` for the facilitator queue's precision; default 0.5)
SPLIT_THRESHOLD = "facilitator_split"


@dataclass
class LogisticModel:
    features: list[str]
    weights: list[float]
    intercept: float
    platt_a: float = 1.0
    platt_b: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)

    def weight_of(self, feature: str) -> float:
        try:
            return self.weights[self.features.index(feature)]
        except ValueError:
            return 0.0

    def logit_sql(self, cols: dict[str, str] | None = None) -> str:
        """Raw log-odds as SQL; `cols` maps a feature name to its SQL (default: the name)."""
        cols = cols or {}
        terms = [repr(float(self.intercept))]
        for f, w in zip(self.features, self.weights, strict=True):
            if w != 0.0:
                terms.append(f"{float(w)!r} * coalesce({cols.get(f, f)}, 0)")
        return " + ".join(terms)

    def score_sql(self, cols: dict[str, str] | None = None) -> str:
        z = f"({self.platt_a!r} * ({self.logit_sql(cols)}) + {self.platt_b!r})"
        return f"1.0 / (1.0 + exp(-least(greatest({z}, -40.0), 40.0)))"


@dataclass
class ModelSet:
    transaction: LogisticModel
    subject: dict[str, LogisticModel]  # per role: consumer, facilitator, intermediary
    trained_on: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "trained_on": self.trained_on,
                "thresholds": self.thresholds,
                "transaction": asdict(self.transaction),
                "subject": {k: asdict(v) for k, v in self.subject.items()},
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> ModelSet:
        raw = json.loads(text)
        return cls(
            transaction=LogisticModel(**raw["transaction"]),
            subject={k: LogisticModel(**v) for k, v in raw["subject"].items()},
            trained_on=raw.get("trained_on", {}),
            thresholds=raw.get("thresholds", {}),
        )


def shipped_weights_path() -> Path:
    return Path(str(resources.files("moneytrail.scoring").joinpath(WEIGHTS_FILE)))


def load_models(path: Path | None = None) -> ModelSet:
    p = path or shipped_weights_path()
    if not p.is_file():
        if path is not None:
            raise UserError(f"weights file {p} not found")
        return default_models()
    try:
        return ModelSet.from_json(p.read_text("utf-8"))
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"weights file {p} is not a moneytrail weights file: {exc}") from None


def default_models() -> ModelSet:
    """Hand-set prior weights, used only until a trained weights.json exists."""
    from moneytrail.indicators import load_catalogue

    cat = load_catalogue()
    recv = cat.by_level("receiver")
    tx_inds = [i for i in cat.indicators if i.level != "network"]  # network-level: subject models only
    tx_feats = ["is_xb_p2p", "is_card", "is_withdrawal", "is_dom_p2p"] + [f"f_{i.id}" for i in tx_inds] + [f"o_{i.id}" for i in recv]
    tx_w = [0.0] * 4 + [(-2.0 if i.role == "none" else 1.0) for i in tx_inds] + [1.0 for _ in recv]
    sub = {}
    for role in ("consumer", "facilitator", "intermediary"):
        feats = [f"f_{i.id}" for i in cat.indicators if i.level != "transaction"]
        w = [(1.0 if i.role == role else (-2.0 if i.role == "none" else 0.0))
             for i in cat.indicators if i.level != "transaction"]
        sub[role] = LogisticModel(feats, w, -5.0)
    return ModelSet(LogisticModel(tx_feats, tx_w, -8.0), sub, {"note": "untrained priors"})
