"""The per-subject state behind ``mt_subj``, kept current one transaction at a time.

``features.build_subjects`` computes ``mt_subj`` in one SQL statement over all
transactions. Its expressions (aggregate arguments, FILTERs, the results and
the final SELECT) are compiled from that statement (:mod:`.definitions`);
this module carries out what the statement does *across rows*:

- the three GROUP BYs (``xb_agg`` and ``out_agg`` by sender, ``in_agg`` by
  receiver): running aggregates in the subject's state;
- the window functions: ``pair_n`` (payments per sender and receiver),
  ``gap_s`` (LAG of the time) and ``burst_n`` (a RANGE count), per sender; a
  transfer older than the sender's latest rebuilds that sender's windows and
  cross-border aggregates from its stored transfers, so arrival order never
  changes the result;
- the joins between subjects: ``agent_hub`` (fan-in receivers at the same
  payout agent), ``device_share`` (payers on the same device) and
  ``n_from_receivers`` (domestic payers who themselves receive from abroad),
  through three small counters and each subject's sets of agents, devices
  and domestic payers.

Keys (see :mod:`.state`): ``s:<subject>`` the subject's state, ``xr:<subject>``
its cross-border transfers, ``q:<subject>`` its ``n_in_unrel``,
``ag:<agent>`` the agent's qualifying receivers, ``dv:<device>`` the device's payers.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from typing import Any

from moneytrail.realtime import aggregates as agg
from moneytrail.realtime.definitions import Definitions, GroupDef, WindowDef
from moneytrail.realtime.state import Txn

Blob = dict[str, Any]
Row = dict[str, Any]


def new_blob() -> Blob:
    return {"g": {}, "w": {}, "agents": [], "devices": [], "dom": []}


def subject_key(subject: str) -> str:
    return "s:" + subject


# --- running GROUP BYs -----------------------------------------------------------------


def fold(g: GroupDef, state: list[Any] | None, inputs: Row) -> list[Any]:
    """Fold one source row (its computed inputs) into a group's aggregates."""
    if state is None:
        state = [agg.empty(a.kind) for a in g.aggs]
    for i, a in enumerate(g.aggs):
        if a.filter is not None and inputs[a.filter] is not True:
            continue
        state[i] = agg.add(a.kind, state[i], *(inputs[n] for n in a.args))
    return state


def group_row(g: GroupDef, state: list[Any] | None) -> Row | None:
    """The group's result columns (None: the subject has no row in that GROUP BY)."""
    if state is None:
        return None
    return g.result_row([agg.result(a.kind, s) for a, s in zip(g.aggs, state, strict=True)])


def _feed(g: GroupDef, blob: Blob, env: dict[str, Row]) -> bool:
    inputs = g.inputs.fn(env)
    if g.has_where and inputs["where"] is not True:
        return False
    blob["g"][g.name] = fold(g, blob["g"].get(g.name), inputs)
    return True


# --- windows ----------------------------------------------------------------------------------


def _part(w: WindowDef, row: Row) -> str:
    return json.dumps([row[c] for c in w.partition[1:]])


def window_values(windows: Sequence[WindowDef], blob: Blob, row: Row, *, advance: bool) -> dict[str, Any]:
    """Window values of a row that comes after every earlier row of its sender."""
    out: dict[str, Any] = {}
    for w in windows:
        states = blob["w"].setdefault(w.slot, {})
        part = _part(w, row)
        st = states.get(part)
        if w.kind == "count":
            out[w.slot] = (st or 0) + 1
            new: Any = out[w.slot]
        elif w.kind == "lag":
            out[w.slot] = st
            new = row[w.arg or ""]
        else:  # range_count
            v = row[w.order or ""]
            assert w.preceding is not None
            kept = [x for x in (st or []) if x >= v - w.preceding]
            out[w.slot] = len(kept) + 1
            new = [*kept, v]
        if advance:
            states[part] = new
    return out


def windows_over(windows: Sequence[WindowDef], rows: list[Row]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Window values of every row of one sender (peers as SQL sees them), and the state after them."""
    values: list[dict[str, Any]] = [{} for _ in rows]
    state: dict[str, dict[str, Any]] = {}
    for w in windows:
        parts: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            parts.setdefault(_part(w, r), []).append(i)
        st = state.setdefault(w.slot, {})
        for part, idx in parts.items():
            if w.kind == "count":
                for i in idx:
                    values[i][w.slot] = len(idx)
                st[part] = len(idx)
                continue
            order = sorted(idx, key=lambda i: rows[i][w.order or ""])
            keys = [rows[i][w.order or ""] for i in order]
            if w.kind == "lag":
                prev = None
                for i in order:
                    values[i][w.slot] = prev
                    prev = rows[i][w.arg or ""]
                st[part] = prev
            else:
                assert w.preceding is not None
                for i in order:
                    v = rows[i][w.order or ""]
                    values[i][w.slot] = bisect.bisect_right(keys, v) - bisect.bisect_left(keys, v - w.preceding)
                st[part] = [k for k in keys if k >= keys[-1] - w.preceding]
    return values, state


# --- one transaction into the state -----------------------------------------------------------


class Update:
    """What one transaction changes outside its two subjects' states: counter increments."""

    def __init__(self) -> None:
        self.agents: dict[str, int] = {}
        self.devices: dict[str, int] = {}
        self.q: dict[str, int] = {}


def _n_in_unrel(defs: Definitions, blob: Blob) -> int:
    row = group_row(defs.groups["in_agg"], blob["g"].get("in_agg"))
    return int(row["n_in_unrel"]) if row else 0


def apply(defs: Definitions, txn: Txn, row: Row, sender: Blob, receiver: Blob) -> Update:
    """Fold one transaction (its mt_txi row) into the sender's and receiver's states.

    The blobs are changed in place (they may be the same object); the caller
    writes them back. mt_tx windows (``pair_n``) are advanced here too.
    """
    s_id, r_id = row["sender_id"], row["receiver_id"]
    up = Update()
    window_values(defs.tx_windows, sender, row, advance=True)
    env = {"mt_txi": row}
    _feed(defs.groups["out_agg"], sender, env)
    q_before = _n_in_unrel(defs, receiver)
    if _feed(defs.groups["in_agg"], receiver, env):
        q_after = _n_in_unrel(defs, receiver)
        if q_after != q_before:
            up.q[r_id] = q_after
    else:
        q_after = q_before
    if defs.xb_where(env) is True:
        _cross_border(defs, txn, row, sender, s_id)
    # agent_recv: receivers with n_in_unrel >= N at each payout agent
    agent = row.get("payout_agent_id")
    thr = defs.agent_min_unrel
    new_agent = agent is not None and agent not in receiver["agents"]
    if new_agent:
        receiver["agents"].append(agent)
    if q_before < thr <= q_after:
        for a in receiver["agents"]:
            up.agents[a] = up.agents.get(a, 0) + 1
    elif new_agent and q_after >= thr:
        assert agent is not None
        up.agents[agent] = up.agents.get(agent, 0) + 1
    device = row.get("device_id")
    if device is not None and device not in sender["devices"]:
        sender["devices"].append(device)
        up.devices[device] = 1
    if row.get("is_p2p") is True and row.get("cross_border") is False and s_id not in receiver["dom"]:
        receiver["dom"].append(s_id)
    return up


def _cross_border(defs: Definitions, txn: Txn, row: Row, blob: Blob, s_id: str) -> None:
    """A cross-border transfer of the sender: windows, xb_agg, and the stored copy."""
    keep = {c: row[c] for c in defs.xb_inputs}
    order = next((w.order for w in defs.xb_windows if w.order), None)
    last = blob["w"].get("_xb_last")
    t = keep[order] if order else None
    xb_g = defs.groups["xb_agg"]
    if order is None or last is None or t > last:
        values = window_values(defs.xb_windows, blob, keep, advance=True)
        _feed(xb_g, blob, {"xb": defs.xb.fn({"mt_txi": keep, "_win": values})})
    else:  # out of order (or a tie): recompute the sender's windows and xb_agg from all its transfers
        rows = [*txn.get_list("xr:" + s_id), keep]
        values_all, state = windows_over(defs.xb_windows, rows)
        blob["g"].pop(xb_g.name, None)
        for r, v in zip(rows, values_all, strict=True):
            _feed(xb_g, blob, {"xb": defs.xb.fn({"mt_txi": r, "_win": v})})
        blob["w"].update(state)
    if order is not None:
        blob["w"]["_xb_last"] = t if last is None else max(last, t)
    txn.append("xr:" + s_id, keep)


# --- the subject's mt_subj row -------------------------------------------------------------------


def counter_keys(blob: Blob) -> list[str]:
    """The counters a subject's joins read."""
    return ([f"ag:{a}" for a in blob["agents"]] + [f"dv:{d}" for d in blob["devices"]]
            + [f"q:{z}" for z in blob["dom"]])


def subject_row(defs: Definitions, subject: str, blob: Blob, counters: dict[str, Any]) -> Row | None:
    """``mt_subj`` for the subject, or None when the batch would have no row for it."""
    o = group_row(defs.groups["out_agg"], blob["g"].get("out_agg"))
    x = group_row(defs.groups["xb_agg"], blob["g"].get("xb_agg"))
    i = group_row(defs.groups["in_agg"], blob["g"].get("in_agg"))
    n_from = sum(1 for z in blob["dom"] if (counters.get(f"q:{z}") or 0) >= defs.from_min_unrel)
    fr = {"n_from_receivers": n_from} if n_from else None
    if o is None and i is None and fr is None:
        return None
    h = None
    if i is not None and i["n_in_unrel"] >= defs.agent_min_unrel and blob["agents"]:
        h = {"agent_hub": max(counters.get(f"ag:{a}") or 0 for a in blob["agents"])}
    d = None
    if blob["devices"]:
        d = {"device_share": max(counters.get(f"dv:{v}") or 0 for v in blob["devices"])}
    return defs.subj.fn({"ids": {"subject_id": subject}, "o": o, "x": x, "i": i, "h": h, "d": d, "fr": fr})
