"""Indicator parameters: catalogue defaults, overridden by a user's YAML or TOML file.

File format (see docs/indicators.md)::

    high_risk_countries: [PH, TH, CO]      # optional, replaces the built-in list
    indicators:
      MT01:
        max_usd: 150                      # global override
        by_corridor:                      # SENDER-RECEIVER country, '*' for any
          "*-TH": {max_usd: 120}
        by_currency:
          AUD: {max_usd: 180}
      MT04:
        words: [gift, school fees]
    disabled: [MT32]
    scoring:
      target_precision: 0.9               # flag the transactions at this expected precision
      subject_target_precision: 0.9
      alert_budget: 2000                  # or: this many alerts per million transactions
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from moneytrail.errors import UserError
from moneytrail.indicators.catalogue import Catalogue, Indicator, Param, load_catalogue
from moneytrail.indicators.lexicon import HIGH_RISK_COUNTRIES

ParamValue = float | int | list[str]


class ScoringSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target_precision: float | None = Field(default=None, gt=0, le=1)
    subject_target_precision: float | None = Field(default=None, gt=0, le=1)
    alert_budget: float | None = Field(default=None, gt=0, le=1_000_000)
    weights: str | None = None


class ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    high_risk_countries: list[str] | None = None
    indicators: dict[str, dict[str, Any]] = {}
    disabled: list[str] = []
    scoring: ScoringSettings = ScoringSettings()


@dataclass
class Override:
    kind: str  # corridor or currency
    key: str  # "US-PH", "*-PH", "AUD"
    value: float


@dataclass
class ScoringConfig:
    """Indicator parameters and scoring options, validated."""

    params: dict[str, dict[str, ParamValue]] = field(default_factory=dict)
    overrides: dict[str, dict[str, list[Override]]] = field(default_factory=dict)
    high_risk_countries: tuple[str, ...] = HIGH_RISK_COUNTRIES
    disabled: frozenset[str] = frozenset()
    target_precision: float | None = None
    subject_target_precision: float | None = None
    alert_budget: float | None = None
    weights: Path | None = None

    def value(self, indicator_id: str, param: str) -> ParamValue:
        return self.params[indicator_id][param]


_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CORRIDOR = re.compile(r"^([A-Z]{2}|\*)-([A-Z]{2}|\*)$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _check_value(where: str, spec: Param, value: Any) -> ParamValue:
    if spec.is_list:
        if not isinstance(value, list) or not value or not all(isinstance(v, str | int) for v in value):
            raise UserError(f"{where}: must be a non-empty list of strings, got {value!r}")
        return [str(v) for v in value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UserError(f"{where}: must be a number, got {value!r}")
    if spec.min is not None and value < spec.min:
        raise UserError(f"{where}: must be >= {spec.min:g}, got {value!r}")
    if spec.max is not None and value > spec.max:
        raise UserError(f"{where}: must be <= {spec.max:g}, got {value!r}")
    return value


def _apply(cfg: ScoringConfig, ind: Indicator, entries: dict[str, Any], where: str) -> None:
    for name, value in entries.items():
        here = f"{where}.{name}"
        if name in ("by_corridor", "by_currency"):
            if ind.level != "transaction":
                raise UserError(f"{here}: only transaction-level indicators take {name}; {ind.id} is {ind.level}-level")
            if not isinstance(value, dict):
                raise UserError(f"{here}: must be a mapping of {'corridor' if name == 'by_corridor' else 'currency'} to parameters")
            pattern = _CORRIDOR if name == "by_corridor" else _CURRENCY
            for key, params in value.items():
                key_s = str(key).upper()
                if not pattern.match(key_s):
                    hint = "SENDER-RECEIVER countries such as US-PH or *-TH" if name == "by_corridor" else "an ISO 4217 code such as AUD"
                    raise UserError(f"{here}: bad key {key!r}; use {hint}")
                if not isinstance(params, dict):
                    raise UserError(f"{here}.{key}: must be a mapping of parameter to value")
                for pname, pvalue in params.items():
                    spec = ind.params.get(pname)
                    if spec is None:
                        raise UserError(f"{here}.{key}.{pname}: {ind.id} has no parameter {pname!r} (it has: {', '.join(ind.params) or 'none'})")
                    if spec.is_list:
                        raise UserError(f"{here}.{key}.{pname}: list parameters cannot vary by {name[3:]}")
                    checked = _check_value(f"{here}.{key}.{pname}", spec, pvalue)
                    assert not isinstance(checked, list)
                    cfg.overrides.setdefault(ind.id, {}).setdefault(pname, []).append(
                        Override(name[3:], key_s, float(checked))
                    )
            continue
        spec = ind.params.get(name)
        if spec is None:
            raise UserError(f"{here}: {ind.id} has no parameter {name!r} (it has: {', '.join(ind.params) or 'none'})")
        cfg.params[ind.id][name] = _check_value(here, spec, value)


def build_config(raw: dict[str, Any] | None = None, *, source: str = "config", catalogue: Catalogue | None = None) -> ScoringConfig:
    """Validate a configuration mapping (as read from a file) against the catalogue."""
    cat = catalogue or load_catalogue()
    try:
        parsed = ConfigFile.model_validate(raw or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise UserError(f"{source}: {loc}: {err['msg']} (got {err.get('input')!r})") from None
    cfg = ScoringConfig(params={i.id: {k: p.default for k, p in i.params.items()} for i in cat.indicators})
    for ind_id, entries in parsed.indicators.items():
        ind = cat.get(ind_id)
        if ind is None:
            raise UserError(f"{source}: indicators.{ind_id}: no such indicator (see `moneytrail indicators list`)")
        if not isinstance(entries, dict):
            raise UserError(f"{source}: indicators.{ind_id}: must be a mapping of parameter to value")
        _apply(cfg, ind, entries, f"{source}: indicators.{ind.id}")
    if parsed.high_risk_countries is not None:
        bad = [c for c in parsed.high_risk_countries if not _COUNTRY.match(c)]
        if bad or not parsed.high_risk_countries:
            raise UserError(f"{source}: high_risk_countries: use ISO 3166-1 alpha-2 codes such as PH, got {bad or 'an empty list'}")
        cfg.high_risk_countries = tuple(parsed.high_risk_countries)
    unknown = [d for d in parsed.disabled if cat.get(d) is None]
    if unknown:
        raise UserError(f"{source}: disabled: no such indicator {unknown[0]!r}")
    cfg.disabled = frozenset(d.upper() for d in parsed.disabled)
    s = parsed.scoring
    cfg.target_precision = s.target_precision
    cfg.subject_target_precision = s.subject_target_precision
    cfg.alert_budget = s.alert_budget
    cfg.weights = Path(s.weights) if s.weights else None
    return cfg


def load_config(path: str | Path | None) -> ScoringConfig:
    """Read and validate a YAML or TOML configuration file; None gives the defaults."""
    if path is None:
        return build_config()
    p = Path(path)
    if not p.is_file():
        raise UserError(f"config file {p} not found")
    text = p.read_text("utf-8")
    try:
        raw = tomllib.loads(text) if p.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise UserError(f"{p}: cannot parse: {first}") from None
    if raw is not None and not isinstance(raw, dict):
        raise UserError(f"{p}: must be a mapping at the top level")
    return build_config(raw, source=str(p))
