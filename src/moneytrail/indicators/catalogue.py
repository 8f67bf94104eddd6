"""The indicator catalogue, loaded from ``catalogue.yaml`` and checked on load."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

Role = Literal["consumer", "facilitator", "intermediary", "none"]
Level = Literal["transaction", "sender", "receiver", "network"]
ROLES: tuple[str, ...] = ("consumer", "facilitator", "intermediary")


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agency: str
    document: str
    year: int
    tag: Literal["R", "S", "M", "D"]

    def short(self) -> str:
        return f"{self.agency} {self.year} [{self.tag}]"


class Param(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default: float | int | list[str]
    min: float | None = None
    max: float | None = None
    doc: str = ""

    @property
    def is_list(self) -> bool:
        return isinstance(self.default, list)


class Indicator(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^MT\d\d$")
    title: str
    role: Role
    level: Level
    sources: list[str] = Field(min_length=1)
    params: dict[str, Param] = {}
    value: str
    fires: str
    threshold: str
    definition: str
    source_refs: list[Source] = []  # filled from the sources map

    @property
    def source(self) -> Source:
        return self.source_refs[0]

    def cite(self) -> str:
        return "; ".join(s.short() for s in self.source_refs)


class Catalogue(BaseModel):
    sources: dict[str, Source]
    indicators: list[Indicator]

    def get(self, indicator_id: str) -> Indicator | None:
        for ind in self.indicators:
            if ind.id == indicator_id.upper():
                return ind
        return None

    def by_level(self, level: str) -> list[Indicator]:
        return [i for i in self.indicators if i.level == level]

    @property
    def ids(self) -> list[str]:
        return [i.id for i in self.indicators]


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def _load(text: str) -> Catalogue:
    raw: dict[str, Any] = yaml.safe_load(text)
    cat = Catalogue.model_validate(raw)
    seen: set[str] = set()
    for ind in cat.indicators:
        if ind.id in seen:
            raise ValueError(f"duplicate indicator id {ind.id}")
        seen.add(ind.id)
        missing = [k for k in ind.sources if k not in cat.sources]
        if missing:
            raise ValueError(f"{ind.id}: unknown sources {missing}")
        ind.source_refs = [cat.sources[k] for k in ind.sources]
        for expr in (ind.value, ind.fires):
            unknown = set(_PLACEHOLDER.findall(expr)) - set(ind.params)
            if unknown:
                raise ValueError(f"{ind.id}: unknown parameters {sorted(unknown)}")
    return cat


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """The shipped catalogue (cached)."""
    text = resources.files("moneytrail.indicators").joinpath("catalogue.yaml").read_text("utf-8")
    return _load(text)
