"""Score one payment as it arrives: the batch run's indicators and model, in milliseconds.

:meth:`Engine.score` takes one payment (:mod:`.payload`), gives its parties
their subjects, computes the transaction's features and indicators, folds it
into the sender's and receiver's state (:mod:`.subjects`), evaluates their
sender- and receiver-level indicators and the calibrated transaction score,
and decides ``allow``, ``review`` or ``hold`` by two thresholds.

What "the same value as the batch run" means: the answer for a payment is
what the batch scoring stage gives *that payment* when run on the warehouse
plus every payment scored so far, up to and including this one. Indicators
over a subject's whole history (counts, fan-out, escalation...) therefore
see the past, never the future.

Identity: a party carrying an identifier the last batch resolution gave to
exactly one subject (account, card, IBAN, merchant id, identity document,
e-mail, phone, payer's device; shared identifiers excluded) is that subject;
any other party gets the batch's own fallback id (provider and account,
else name and country), until the next batch run resolves it.
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb

from moneytrail.errors import UserError
from moneytrail.indicators import ScoringConfig, load_config
from moneytrail.realtime import subjects as sj
from moneytrail.realtime.definitions import Definitions, load_definitions
from moneytrail.realtime.payload import Payment, Reference, parse_payment
from moneytrail.realtime.state import InProcessStore, MemoryStore, RedisStore, StateStore, Txn
from moneytrail.resolve.records import SCOPED_ACCOUNT_KINDS
from moneytrail.store import table_exists


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds on the calibrated score: review from `review`, hold from `hold`."""

    review: float = 0.5
    hold: float = 0.9
    review_flagged: bool = True  # review any payment of a subject the last batch run flagged

    def __post_init__(self) -> None:
        if not 0.0 < self.review <= self.hold <= 1.0:
            raise UserError(f"thresholds must satisfy 0 < review <= hold <= 1, got review={self.review}, hold={self.hold}")

    def decide(self, score: float) -> str:
        if score >= self.hold:
            return "hold"
        return "review" if score >= self.review else "allow"


class AlreadyScored(UserError):
    """The payment (provider and record id) was scored or ingested before."""


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


# --- identity and names (read-only lookups from the last batch run) ---------------------------


class Identity:
    """(kind, value) of a strong identifier -> the one subject the last resolution gave it."""

    ORDER = ("merchant", "account", "card", "iban", "id_doc", "email", "phone", "device")

    def __init__(self, index: dict[tuple[str, str], str]) -> None:
        self.index = index

    @classmethod
    def from_warehouse(cls, con: duckdb.DuckDBPyConnection) -> Identity:
        needed = ("resolve_identifiers", "resolve_records", "subject_records")
        if not all(table_exists(con, t) for t in needed):
            return cls({})
        shared = "AND NOT EXISTS (SELECT 1 FROM shared_identifiers s WHERE s.kind = i.kind AND s.value = i.value)" \
            if table_exists(con, "shared_identifiers") else ""
        rows = con.execute(f"""
            SELECT i.kind, i.value, min(sr.subject_id)
            FROM resolve_identifiers i JOIN resolve_records r USING (rid)
            JOIN subject_records sr ON sr.provider = r.provider AND sr.record_id = r.record_id AND sr.party = r.party
            WHERE i.value IS NOT NULL {shared}
            GROUP BY i.kind, i.value HAVING count(DISTINCT sr.subject_id) = 1
        """).fetchall()
        return cls({(k, v): s for k, v, s in rows})

    @staticmethod
    def identifiers(party: Mapping[str, Any], device_id: str | None) -> list[tuple[str, str]]:
        """The party's strong identifiers, as resolve.records.identifiers_sql forms them."""
        out: list[tuple[str, str]] = []
        account, kind = party.get("account"), party.get("account_kind")
        merchant = party.get("party") == "merchant" or kind == "merchant"
        if merchant:
            return [("merchant", account)] if account else []
        if account and kind in SCOPED_ACCOUNT_KINDS:
            out.append(("account", f"{party['provider']}|{kind}|{account}"))
        if account and kind == "card":
            out.append(("card", account))
        if account and kind == "iban":
            out.append(("iban", account.replace(" ", "").upper()))
        if party.get("id_number"):
            doc = "".join(ch for ch in party["id_number"] if ch.isascii() and ch.isalnum()).upper()
            out.append(("id_doc", f"{(party.get('id_type') or '').strip().upper()}:{doc}"))
        if party.get("email"):
            out.append(("email", party["email"].strip().lower()))
        if party.get("phone_e164"):
            out.append(("phone", party["phone_e164"]))
        if party.get("side") == "from" and device_id:
            out.append(("device", device_id))
        return out

    def subject_for(self, party: Mapping[str, Any], device_id: str | None) -> str | None:
        found = dict(self.identifiers(party, device_id))
        for kind in self.ORDER:
            if kind in found and (kind, found[kind]) in self.index:
                return self.index[(kind, found[kind])]
        return None


class Origins:
    """Surname-origin class of a name: the batch's ``mt_names`` for names it has seen, the same rule for new ones."""

    def __init__(self, lexicon: dict[str, list[str]], known: dict[str, str]) -> None:
        self.lexicon = lexicon
        self.cache: dict[str, str | None] = dict(known)

    def origin(self, name: str | None) -> str | None:
        if name is None:
            return None
        if name in self.cache:
            return self.cache[name]
        hits: Counter[str] = Counter()
        for token in name.split(" "):
            for o in self.lexicon.get(token, ()):
                hits[o] += 1
        best = max(hits.values(), default=0)
        out = min((o for o, n in hits.items() if n == best), default=None)  # a tie: the first by name
        if len(self.cache) < 1_000_000:
            self.cache[name] = out
        return out


# --- warm-up ------------------------------------------------------------------------------------------


def _ensure_inputs(con: duckdb.DuckDBPyConnection, defs: Definitions) -> None:
    """Temporary tables the batch SQL reads, on the read-only warehouse connection: the surname
    lexicon of this configuration, and empty stand-ins for what a never-resolved warehouse lacks."""
    import moneytrail.referrals.tables
    import moneytrail.resolve.tables  # noqa: F401  (register the tables)
    from moneytrail.schema import TABLES

    for name in ("subject_records", "referral_txn_features"):
        if not table_exists(con, name):
            con.execute(TABLES[name].ddl().replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE", 1))
    con.execute("CREATE OR REPLACE TEMP TABLE mt_lex_surname (token VARCHAR, origin VARCHAR)")
    con.executemany("INSERT INTO temp.mt_lex_surname VALUES (?, ?)",
                    [(t, o) for t, origins in defs.origins.items() for o in origins])


def warm_state(defs: Definitions, con: duckdb.DuckDBPyConnection, origins: Origins) -> tuple[MemoryStore, int]:
    """Replay every warehouse transaction, oldest first, through the real-time state update.

    The transactions' feature rows come from the batch SQL itself (``mt_tx``,
    ``mt_txi``), run once over the warehouse; the state is then what scoring
    them one by one would have built. Returns the store and the number replayed.
    """
    _ensure_inputs(con, defs)
    con.execute(f"CREATE OR REPLACE TEMP TABLE rt_names AS {defs.sql['mt_names']}")
    for name, origin in con.execute("SELECT name_norm, origin FROM rt_names").fetchall():
        origins.cache[name] = origin
    tx_sql = defs.sql["mt_tx"].replace("mt_names", "rt_names")
    query = (f"WITH mt_tx AS MATERIALIZED ({tx_sql}), mt_txi AS ({defs.sql['mt_txi']}) "
             "SELECT * FROM mt_txi ORDER BY ts_s, provider, record_id")
    store = MemoryStore()
    values, lists = store.values, store.lists
    cur = con.execute(query)
    cols = [d[0] for d in cur.description or []]
    n = 0
    txn = _DirectTxn(values, lists)
    while batch := cur.fetchmany(10_000):
        for tup in batch:
            row = dict(zip(cols, tup, strict=True))
            s_key, r_key = sj.subject_key(row["sender_id"]), sj.subject_key(row["receiver_id"])
            sblob = values.get(s_key) or sj.new_blob()
            rblob = sblob if r_key == s_key else (values.get(r_key) or sj.new_blob())
            up = sj.apply(defs, txn, row, sblob, rblob)
            values[s_key], values[r_key] = sblob, rblob
            for k, v in _counter_writes(values.get, up).items():
                values[k] = v
            values[f"seen:{row['provider']}:{row['record_id']}"] = 1
            n += 1
    return store, n


class _DirectTxn(Txn):
    """The warm-up's transaction: straight into the MemoryStore's dicts."""

    def __init__(self, values: dict[str, Any], lists: dict[str, list[Any]]) -> None:
        self.values, self.lists = values, lists

    def get(self, keys: Any) -> list[Any]:
        return [self.values.get(k) for k in keys]

    def get_list(self, key: str) -> list[Any]:
        return list(self.lists.get(key, []))

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def append(self, key: str, item: Any) -> None:
        self.lists.setdefault(key, []).append(item)


def _counter_writes(get: Any, up: sj.Update) -> dict[str, int]:
    out: dict[str, int] = {}
    for a, d in up.agents.items():
        out[f"ag:{a}"] = (get(f"ag:{a}") or 0) + d
    for v, d in up.devices.items():
        out[f"dv:{v}"] = (get(f"dv:{v}") or 0) + d
    for z, q in up.q.items():
        out[f"q:{z}"] = q
    return out


# --- the engine -------------------------------------------------------------------------------------


@dataclass
class Engine:
    """Real-time scoring over a state warmed from one warehouse."""

    defs: Definitions
    ref: Reference
    identity: Identity
    origins: Origins
    store: StateStore
    thresholds: Thresholds = field(default_factory=Thresholds)
    timezones: dict[str, str] = field(default_factory=dict)
    last_batch: dict[str, dict[str, Any]] = field(default_factory=dict)
    warehouse: str = ""
    fingerprint: str = ""
    warmed: int = 0
    _counters_read: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_warehouse(
        cls,
        warehouse: str | Path,
        *,
        config: ScoringConfig | str | Path | None = None,
        weights: Path | None = None,
        store: StateStore | None = None,
        thresholds: Thresholds | None = None,
        timezones: Mapping[str, str] | None = None,
        rewarm: bool = False,
        freeze: bool = True,
    ) -> Engine:
        """Load the lookups from the warehouse (read-only) and warm the state.

        With a :class:`RedisStore` already warmed from the same warehouse and
        configuration (by another worker or ``moneytrail realtime warm``), the
        state is attached as it is, unless `rewarm`. `freeze`: see :func:`settle`.
        """
        path = Path(warehouse)
        if not path.is_file():
            raise UserError(f"no warehouse at {path}: run `moneytrail run BUNDLE --out OUT` first")
        cfg = config if isinstance(config, ScoringConfig) else load_config(config)
        defs = load_definitions(cfg, weights)
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise UserError(f"cannot open the warehouse {path} read-only: {exc}") from exc
        try:
            con.execute("SET TimeZone = 'UTC'")
            for t in ("transactions", "parties", "fx_rates", "country_lookup"):
                if not table_exists(con, t):
                    raise UserError(f"{path} is not a moneytrail warehouse (no {t} table)")
            engine = cls(
                defs=defs, ref=Reference.from_warehouse(con), identity=Identity.from_warehouse(con),
                origins=Origins(defs.origins, {}), store=store or InProcessStore(),
                thresholds=thresholds or Thresholds(), timezones=dict(timezones or {}),
                last_batch=_last_batch(con), warehouse=str(path),
            )
            engine.fingerprint = _fingerprint(con, path, defs)
            engine._attach_or_warm(con, rewarm)
        finally:
            con.close()
        if freeze:
            settle()
        return engine

    def _attach_or_warm(self, con: duckdb.DuckDBPyConnection, rewarm: bool, wait_seconds: float = 900) -> None:
        store = self.store
        if not isinstance(store, RedisStore):
            self.warm(con)
            return
        deadline = time.monotonic() + wait_seconds
        while True:
            meta = store.get_meta()
            if not rewarm and meta and meta.get("fingerprint") == self.fingerprint:
                self.warmed = int(meta.get("transactions", 0))
                # the names the state was built with, as the warm-up saw them
                _ensure_inputs(con, self.defs)
                for name, origin in con.execute(self.defs.sql["mt_names"]).fetchall():
                    self.origins.cache[name] = origin
                return
            if store.try_lock("warm"):  # this worker builds it; the others wait for the meta key
                try:
                    self.warm(con)
                finally:
                    store.unlock("warm")
                return
            if time.monotonic() > deadline:
                raise UserError("another worker has been warming the shared state for too long; "
                                "check it, or run `moneytrail realtime warm`")
            time.sleep(0.5)

    def warm(self, con: duckdb.DuckDBPyConnection) -> int:
        """(Re)build the state from the warehouse."""
        mem, n = warm_state(self.defs, con, self.origins)
        meta = {"fingerprint": self.fingerprint, "warehouse": self.warehouse, "transactions": n,
                "warmed_at": datetime.now().isoformat(timespec="seconds")}
        if isinstance(self.store, MemoryStore):
            self.store.values, self.store.lists = mem.values, mem.lists
            self.store.values["meta"] = meta
        else:
            self.store.load([*mem.values.items(), ("meta", meta)], mem.lists.items())
        self.warmed = n
        return n

    # --- one payment ------------------------------------------------------------------------------

    def score(self, body: Mapping[str, Any], *, detail: bool = False) -> dict[str, Any]:
        """Score one payment (a request body, see :func:`.payload.parse_payment`)."""
        t0 = time.perf_counter()
        payment = parse_payment(body, self.ref, self.timezones)
        device = payment.transaction.get("device_id")
        assigned = [self.identity.subject_for(p, device) for p in payment.parties]
        answer = self.store.run(lambda txn: self._score(txn, payment, assigned, detail))
        answer["elapsed_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        return answer

    def _score(self, txn: Txn, payment: Payment, assigned: list[str | None], detail: bool) -> dict[str, Any]:
        d = self.defs
        provider, record_id = payment.key
        sides = [d.sides.fn({"p": p, "sr": {"subject_id": s} if s else None}) for p, s in zip(payment.parties, assigned, strict=True)]
        pv_state = None
        for side in sides:
            pv_state = sj.fold(d.pv, pv_state, d.pv.inputs.fn({"sides": side}))
        pv = sj.group_row(d.pv, pv_state)
        base = d.base.fn({"t": payment.transaction, "pv": pv, "rf": None})
        s_id, r_id = base["sender_id"], base["receiver_id"]
        seen_key = f"seen:{provider}:{record_id}"
        # with the counters these subjects read last time: one Redis round trip rather than two
        seen, sblob, rblob = txn.get([seen_key, sj.subject_key(s_id), sj.subject_key(r_id),
                                      *self._counters_read.get(s_id, ()), *self._counters_read.get(r_id, ())])[:3]
        if seen is not None:
            raise AlreadyScored(f"payment {provider} {record_id} was already scored"
                                + (" (it is in the warehouse)" if seen == 1 else f": score {seen.get('score')}"))
        sblob = sblob or sj.new_blob()
        rblob = sblob if r_id == s_id else (rblob or sj.new_blob())
        win = sj.window_values(d.tx_windows, sblob, base, advance=False)
        so, ro = (self._name_row(base[c]) for c in ("s_name", "r_name"))
        mt_tx = base | d.tx.fn({"b": base, "so": so, "ro": ro, "_win": win})
        row = mt_tx | d.txi.fn({"t": mt_tx})
        up = sj.apply(d, txn, row, sblob, rblob)
        keys = list(dict.fromkeys(sj.counter_keys(sblob) + sj.counter_keys(rblob)))
        counters = dict(zip(keys, txn.get(keys), strict=True))
        if isinstance(self.store, RedisStore):
            self._remember_counters(s_id, sblob, r_id, rblob)
        writes = _counter_writes(counters.get, up)
        counters.update(writes)
        subj = {who: sj.subject_row(d, sid, blob, counters) for who, sid, blob in (("sender", s_id, sblob), ("receiver", r_id, rblob))}
        subi = {who: (None if r is None else d.subi.fn({"s": r, "r": r})) for who, r in subj.items()}
        txf = d.txf.fn({"t": row, "si": subi["sender"], "ri": subi["receiver"]})
        scored = d.scored.fn({"mt_txf": txf})
        txn.set(sj.subject_key(s_id), sblob)
        txn.set(sj.subject_key(r_id), rblob)
        for k, v in writes.items():
            txn.set(k, v)
        answer = self._answer(payment, assigned, row, subj, txf, scored, detail, subi)
        txn.set(seen_key, {"score": answer["score"], "decision": answer["decision"]})
        return answer

    def _remember_counters(self, s_id: str, sblob: sj.Blob, r_id: str, rblob: sj.Blob) -> None:
        """The counter keys each subject reads, for the next payment's first read (a guess:
        another worker may have changed the subject since; what is missing is read then)."""
        if len(self._counters_read) > 200_000:
            self._counters_read.clear()
        self._counters_read[s_id] = sj.counter_keys(sblob)
        self._counters_read[r_id] = sj.counter_keys(rblob)

    @cached_property
    def _columns(self) -> dict[str, tuple[Any, str, float, str]]:
        """Model feature column -> (indicator, whose, weight, sources) for the answer's reasons."""
        model = self.defs.models.transaction
        out: dict[str, tuple[Any, str, float, str]] = {}
        for ind in self.defs.catalogue.indicators:
            who = {"transaction": "payment", "receiver": "receiver"}.get(ind.level, "sender")
            out["f_" + ind.id] = (ind, who, round(model.weight_of("f_" + ind.id), 6), ind.cite())
            if ind.level == "receiver":  # money leaving a receiving subject: the payer's receiver-level fires
                out["o_" + ind.id] = (ind, "sender", round(model.weight_of("o_" + ind.id), 6), ind.cite())
        return out

    def _name_row(self, name: str | None) -> dict[str, Any] | None:
        origin = self.origins.origin(name)
        return None if origin is None else {"name_norm": name, "origin": origin}

    def _answer(self, payment: Payment, assigned: list[str | None], row: dict[str, Any],
                subj: dict[str, dict[str, Any] | None], txf: dict[str, Any], scored: dict[str, Any],
                detail: bool, subi: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
        d = self.defs
        score = float(scored["score"])
        indicators = []
        for col, (ind, who, weight, cite) in self._columns.items():
            if txf.get(col) != 1:
                continue
            if ind.level == "transaction":
                shown = d.explain[ind.id].fn({"t": row})
            else:
                r = subj[who]
                shown = d.explain[ind.id].fn({"s": r, "r": r}) if r else {"value": None, "threshold": None}
            indicators.append({
                "id": ind.id, "title": ind.title, "level": ind.level, "on": who,
                "value": shown["value"], "threshold": shown["threshold"], "weight": weight, "sources": cite,
            })
        indicators.sort(key=lambda i: -float(i["weight"]))
        decision = self.thresholds.decide(score)
        decided_by = "score"
        parties = {}
        for who, sid in (("sender", row["sender_id"]), ("receiver", row["receiver_id"])):
            last = self.last_batch.get(sid)
            parties[who] = {"subject_id": sid, "resolved": sid in assigned, "last_batch": last}
            if last and last.get("flagged") and decision == "allow" and self.thresholds.review_flagged:
                decision = "review"  # a subject the last batch run flagged: never let it pass unseen
                decided_by = f"{who} flagged by the last batch run ({last.get('role')})"
        out: dict[str, Any] = {
            "provider": row["provider"], "record_id": row["record_id"],
            "score": score, "decision": decision, "decided_by": decided_by,
            "reasons": [r for r in (scored.get("reasons") or "").split(";") if r],
            "indicators": indicators, "sender": parties["sender"], "receiver": parties["receiver"],
            "thresholds": {"review": self.thresholds.review, "hold": self.thresholds.hold},
        }
        if detail:
            out["detail"] = {
                "transaction": {k: jsonable(v) for k, v in row.items()},
                "subjects": {w: None if r is None else {k: jsonable(v) for k, v in r.items()} for w, r in subj.items()},
                "subject_indicators": subi,
                "model_features": txf,
                "parties": [{"party": p["party"], "side": p["side"], "subject_id": s}
                            for p, s in zip(payment.parties, assigned, strict=True)],
            }
        return out

    # --- reading the state ---------------------------------------------------------------------------

    def subject_features(self, subject_id: str) -> dict[str, Any] | None:
        """The subject's current ``mt_subj`` row, as the batch would compute it now."""
        def read(txn: Txn) -> dict[str, Any] | None:
            (blob,) = txn.get([sj.subject_key(subject_id)])
            if blob is None:
                return None
            keys = sj.counter_keys(blob)
            return sj.subject_row(self.defs, subject_id, blob, dict(zip(keys, txn.get(keys), strict=True)))

        return self.store.run(read)

    def subject_ids(self) -> list[str]:
        """Every subject the state holds."""
        return [k[2:] for k in self.store.keys("s:")]

    def info(self) -> dict[str, Any]:
        return {"warehouse": self.warehouse, "state": self.store.kind, "keys": self.store.size(),
                "warmed_transactions": self.warmed, "fingerprint": self.fingerprint,
                "thresholds": {"review": self.thresholds.review, "hold": self.thresholds.hold}}


def settle() -> None:
    """Collect the warm-up's garbage, then move every object alive to the collector's permanent generation.

    The lookups (identity index, names, last batch scores, compiled definitions) are
    hundreds of thousands of objects that live as long as the process. Left to the
    cyclic collector, each full collection walks all of them: a pause of 100-200 ms
    every few thousand payments, which is the whole p99 at 500 payments a second.
    Frozen, they are never walked again; payments' own short-lived objects are
    collected as before.
    """
    gc.collect()
    gc.freeze()


def _last_batch(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    if not table_exists(con, "subject_scores"):
        return {}
    return {s: {"role": r, "score": float(sc) if sc is not None else None, "flagged": bool(f)}
            for s, r, sc, f in con.execute("SELECT subject_id, role, score, flagged FROM subject_scores").fetchall()}


def _fingerprint(con: duckdb.DuckDBPyConnection, path: Path, defs: Definitions) -> str:
    """Same warehouse content and same compiled SQL -> same state."""
    n, last = con.execute("SELECT count(*), max(ts_utc) FROM transactions").fetchall()[0]
    parts = [str(path.resolve()), str(n), str(last), json.dumps(defs.sql, sort_keys=True)]
    if table_exists(con, "subject_records"):
        parts.append(str(con.execute("SELECT count(*), count(DISTINCT subject_id) FROM subject_records").fetchall()[0]))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
