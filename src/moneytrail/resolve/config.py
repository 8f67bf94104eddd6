"""Settings of a resolution run and the report it returns."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rich.console import Console
from rich.table import Table as RichTable


@dataclass
class ResolveSettings:
    """Everything a user may tune; the defaults are what the benchmarks use."""

    threshold: float = 0.995
    """Match probability a scored pair needs to link two records."""
    backend: Literal["duckdb", "spark"] = "duckdb"
    """Splink backend scoring the pairs (the Splink settings are the same for both)."""
    max_names_per_identifier: int = 30
    """An identifier carried by more distinct names than this is shared and does not link."""
    block_cap: int = 60
    """A blocking key held by more profiles than this is too common to block on."""
    chain_large: int = 3
    """Groups of at least this many records are 'large' for the chaining guard."""
    chain_min_records: int = 2
    """Two large groups merge only if at least this many records on each side link across."""
    m_floor: float = 0.02
    """Lowest m probability of a 'different values' level (people change phones, move)."""
    em_max_pairs: float = 1e6
    u_max_pairs: float = 3e5
    labels_table: str | None = None
    """Optional table of labelled matching pairs (key_l, key_r as PROVIDER:RECORD_ID:PARTY)
    used to estimate m probabilities instead of expectation maximisation."""
    counterparty: bool = True
    """Use 'paid by / pays the same resolved subject' as evidence (a second pass)."""
    accounts: bool = True
    """A provider knows a customer once: scored links do not merge two subjects holding
    different accounts of one kind at one provider, and a pair just below the threshold
    whose subjects clash nowhere gets the account evidence (a fourth pass)."""
    only_candidates: bool = True
    """After clustering, join subjects that are each other's only possible match: a
    compatible name and country, and no account, phone, email or date of birth that
    clashes within the set (see :func:`moneytrail.resolve.accounts.only_candidate_links`).
    Needs ``accounts``."""
    seed: int = 42
    link_floor: float = 0.5
    """Scored pairs below this probability are not kept in resolve_links."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ResolveSettings:
        data = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class ResolveReport:
    records: int = 0
    profiles: int = 0
    subjects: int = 0
    strong_links: int = 0
    shared_identifiers: int = 0
    blocked_pairs: int = 0
    pairs_above_threshold: int = 0
    merges: int = 0
    chain_rejections: int = 0
    account_rejections: int = 0
    new_records: int = 0
    threshold: float = 0.0
    counterparty_m_u: tuple[float, float] = (0.5, 0.5)
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def print(self, console: Console) -> None:
        table = RichTable(title="Entity resolution", show_header=False)
        table.add_column("what")
        table.add_column("count", justify="right")
        rows = [
            ("records resolved", self.records),
            ("new records (incremental)", self.new_records),
            ("distinct profiles", self.profiles),
            ("subjects", self.subjects),
            ("strong-identifier links", self.strong_links),
            ("shared identifiers (not linking)", self.shared_identifiers),
            ("pairs compared", self.blocked_pairs),
            (f"pairs above p={self.threshold:g}", self.pairs_above_threshold),
            ("merges", self.merges),
            ("merges refused by the chaining guard", self.chain_rejections),
            ("merges refused by the account guard", self.account_rejections),
        ]
        for what, n in rows:
            table.add_row(what, f"{n:,}")
        total = sum(self.timings.values())
        table.add_row("seconds", f"{total:.1f}")
        console.print(table)
