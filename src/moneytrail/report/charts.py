"""The case report's pictures: payment timeline beside platform sessions, the network
around the subject, and the corridors on a world map. Each returns PNG bytes.

Everything is drawn offline with matplotlib: the map's country outlines ship with the
package (``world.json``: Natural Earth 1:110m, public domain), the network layout is
igraph's. Inputs are plain values, so the charts can be tested without a warehouse.
"""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Polygon
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

DPI = 150
ROLE_COLOURS = {
    "consumer": "#2e86c1",
    "facilitator": "#c0392b",
    "intermediary": "#e67e22",
    "none": "#bfc5ca",
}
FLAGGED = "#c0392b"
UNFLAGGED = "#95a5a6"
SESSION = "#8e44ad"
ALIGNED = "#27ae60"


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return buf.getvalue()


# --------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class PaymentPoint:
    at: datetime
    usd: float
    flagged: bool
    outgoing: bool  # the case subject pays (else it is paid)
    aligned: bool = False  # lines up with a platform session


@dataclass(frozen=True)
class SessionBar:
    lane: str  # the platform account, e.g. "VidChat:u_123"
    start: datetime
    end: datetime | None
    kind: str


@dataclass(frozen=True)
class LoginMark:
    lane: str
    at: datetime


def _naive(at: datetime) -> datetime:
    return at.replace(tzinfo=None) if at.tzinfo else at


def timeline_chart(payments: Sequence[PaymentPoint], sessions: Sequence[SessionBar],
                   logins: Sequence[LoginMark] = ()) -> bytes:
    """Payments (top: amount in USD, log scale) and platform sessions (bottom: one lane per
    platform account) on one UTC time axis. Payments that line up with a session are
    drawn in green with a line down to the sessions lane."""
    lanes = list(dict.fromkeys([s.lane for s in sessions] + [m.lane for m in logins]))
    height = (1.0 + 0.42 * len(lanes)) if lanes else 0.6
    fig, (top, bottom) = plt.subplots(
        2, 1, sharex=True, figsize=(8, 2.6 + height),
        gridspec_kw={"height_ratios": [3.0, height], "hspace": 0.08})
    for outgoing, marker in ((True, "^"), (False, "v")):
        for flagged, colour in ((False, UNFLAGGED), (True, FLAGGED)):
            pts = [p for p in payments if p.outgoing == outgoing and p.flagged == flagged and not p.aligned]
            if pts:
                top.scatter([_naive(p.at) for p in pts], [max(p.usd, 0.5) for p in pts], marker=marker, s=40,
                            color=colour, alpha=0.85, linewidths=0, zorder=3)
    aligned = [p for p in payments if p.aligned]
    if aligned:
        top.scatter([_naive(p.at) for p in aligned], [max(p.usd, 0.5) for p in aligned], marker="D", s=34,
                    color=ALIGNED, edgecolors="black", linewidths=0.5, zorder=4)
        for p in aligned:
            for ax in (top, bottom):
                ax.axvline(_naive(p.at), color=ALIGNED, linewidth=0.8, linestyle="--", zorder=1)
    top.set_yscale("log")
    top.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    top.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    top.yaxis.set_minor_formatter(NullFormatter())
    top.set_ylabel("amount (USD)")
    top.grid(axis="y", color="#eeeeee", zorder=0)
    top.spines[["top", "right"]].set_visible(False)
    handles = [
        Line2D([], [], marker="^", linestyle="", color=FLAGGED, label="paid by the subject, flagged"),
        Line2D([], [], marker="^", linestyle="", color=UNFLAGGED, label="paid by the subject"),
        Line2D([], [], marker="v", linestyle="", color=FLAGGED, label="paid to the subject, flagged"),
        Line2D([], [], marker="v", linestyle="", color=UNFLAGGED, label="paid to the subject"),
    ]
    if aligned:
        handles.append(Line2D([], [], marker="D", linestyle="--", color=ALIGNED, markeredgecolor="black",
                              label="payment aligned with a session"))
    top.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)

    for i, lane in enumerate(lanes):
        bars = [s for s in sessions if s.lane == lane]
        for s in bars:
            start = _naive(s.start)
            end = _naive(s.end) if s.end else start + timedelta(minutes=20)
            # a session lasts minutes on an axis of months: draw a tick at least, so it shows
            bottom.plot([start, end], [i, i], color=SESSION, linewidth=7, solid_capstyle="butt", zorder=3)
            bottom.plot([start], [i], marker="|", color=SESSION, markersize=14, zorder=3)
        marks = [_naive(m.at) for m in logins if m.lane == lane]
        if marks:
            bottom.scatter(marks, [i - 0.3] * len(marks), marker="|", s=40, color="#555555", zorder=2)
    bottom.set_yticks(range(len(lanes)), lanes, fontsize=8.5)
    bottom.set_ylim(-0.7, max(len(lanes), 1) - 0.3)
    bottom.invert_yaxis()
    bottom.spines[["top", "right"]].set_visible(False)
    if not lanes:
        bottom.text(0.5, 0.5, "no platform sessions linked to this case", transform=bottom.transAxes,
                    ha="center", va="center", fontsize=9, color="#777777")
        bottom.set_yticks([])
    bottom.legend(handles=[Line2D([], [], color=SESSION, linewidth=6, label="session (call, stream)"),
                           Line2D([], [], marker="|", linestyle="", color="#555555", label="login (IP event)")],
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    times = [_naive(p.at) for p in payments] + [_naive(s.start) for s in sessions]
    if times:
        lo, hi = min(times), max(times)
        pad = max((hi - lo) * 0.03, timedelta(hours=6))
        bottom.set_xlim(lo - pad, hi + pad)
    return png(fig)


@dataclass(frozen=True)
class AlignedPair:
    """One payment and the platform session it lines up with, for a close-up panel."""

    payment_at: datetime
    usd: float
    session_start: datetime
    session_end: datetime | None
    kind: str
    gap_minutes: float
    label: str  # e.g. the payment's provider:record_id


def aligned_pairs_chart(pairs: Sequence[AlignedPair], columns: int = 3) -> bytes:
    """Close-ups (three hours each) of payments made minutes before or after a session."""
    n = len(pairs)
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 1.7 * rows), squeeze=False)
    for ax, pair in zip(axes.flat, pairs, strict=False):
        start = _naive(pair.session_start)
        end = _naive(pair.session_end) if pair.session_end else start + timedelta(minutes=20)
        paid = _naive(pair.payment_at)
        centre = min(paid, start) + (max(paid, start) - min(paid, start)) / 2
        ax.set_xlim(centre - timedelta(minutes=90), centre + timedelta(minutes=90))
        ax.axvspan(start, end, ymin=0.15, ymax=0.45, color=SESSION, alpha=0.85)
        ax.annotate("", xy=(paid, 0.5), xytext=(paid, 0.95), xycoords=("data", "axes fraction"),
                    arrowprops={"arrowstyle": "-|>", "color": ALIGNED, "linewidth": 1.6})
        ax.text(paid - timedelta(minutes=4), 0.72, f"USD {pair.usd:,.0f}", transform=ax.get_xaxis_transform(),
                ha="right", va="center", fontsize=7.5, color="#1e8449")
        ax.text(start, 0.06, pair.kind.replace("_", " "), transform=ax.get_xaxis_transform(), fontsize=7,
                color=SESSION)
        ax.set_yticks([])
        ax.set_ylim(0, 1)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
        ax.xaxis.set_major_locator(mdates.MinuteLocator(byminute=[0, 30]))
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(f"{paid:%Y-%m-%d} · {abs(pair.gap_minutes):.0f} min", fontsize=8, loc="left")
        ax.spines[["top", "right", "left"]].set_visible(False)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout(h_pad=1.2)
    return png(fig)


# --------------------------------------------------------------------------- network


@dataclass(frozen=True)
class NetNode:
    id: str
    role: str
    flagged: bool
    in_case: bool
    label: str = ""


@dataclass(frozen=True)
class NetEdge:
    src: str
    dst: str
    n: int
    usd: float


def network_chart(nodes: Sequence[NetNode], edges: Sequence[NetEdge]) -> bytes:
    """The payment network around the case's subjects: arrows follow the money, flagged
    subjects are coloured by role, the case's own subjects are large and outlined."""
    import igraph as ig
    index = {n.id: i for i, n in enumerate(nodes)}
    g = ig.Graph(n=len(nodes), edges=[(index[e.src], index[e.dst]) for e in edges], directed=True)
    if len(nodes) <= 2:
        layout = g.layout_circle()
    else:  # Kamada-Kawai spaces a small neighbourhood evenly; start it from a seeded circle
        layout = g.as_undirected().layout_kamada_kawai(seed=g.layout_circle(), maxiter=50 * len(nodes))
    xy = [tuple(p) for p in layout.coords]
    crowded = len(nodes) > 20
    fig, ax = plt.subplots(figsize=(8.0, 6.0) if crowded else (7.5, 4.6))
    big, mid, small = (260, 90, 40) if crowded else (520, 150, 70)
    size = {n.id: (big if n.in_case else mid if n.flagged else small) for n in nodes}
    for e in edges:
        (x0, y0), (x1, y1) = xy[index[e.src]], xy[index[e.dst]]
        ax.add_patch(FancyArrowPatch(
            (x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=8 if crowded else 9,
            linewidth=0.4 + 0.6 * math.log1p(e.n), color="#7f8c8d", alpha=0.6,
            shrinkA=math.sqrt(size[e.src]) / 2, shrinkB=math.sqrt(size[e.dst]) / 2,
            connectionstyle="arc3,rad=0.08", zorder=1))
    for n in sorted(nodes, key=lambda n: (n.in_case, n.flagged)):
        x, y = xy[index[n.id]]
        colour = ROLE_COLOURS.get(n.role, ROLE_COLOURS["none"]) if n.flagged else ROLE_COLOURS["none"]
        ax.scatter([x], [y], s=size[n.id], color=colour, edgecolors="black" if n.in_case else "white",
                   linewidths=(1.4 if crowded else 2.0) if n.in_case else 0.6, zorder=3)
        # crowded pictures name only the case's own subjects; small ones name everyone
        if n.in_case or (not crowded and (n.flagged or len(nodes) <= 20)):
            ax.annotate(n.label or n.id, (x, y), xytext=(0, -(math.sqrt(size[n.id]) / 2 + 3)),
                        textcoords="offset points", ha="center", va="top",
                        fontsize=(6.5 if crowded else 8) if n.in_case else 6.5,
                        fontweight="bold" if n.in_case else "normal", zorder=4,
                        bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.6})
    ax.set_aspect("equal")
    ax.margins(0.08)
    ax.axis("off")
    legend: list[Artist] = [Patch(color=ROLE_COLOURS[r], label=f"flagged {r}")
                            for r in ("consumer", "facilitator", "intermediary")]
    legend.append(Patch(color=ROLE_COLOURS["none"], label="not flagged"))
    legend.append(Line2D([], [], marker="o", linestyle="", markersize=12, markerfacecolor="white",
                         markeredgecolor="black", markeredgewidth=2, label="subject of this case"))
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return png(fig)


# --------------------------------------------------------------------------- map


@lru_cache(maxsize=1)
def world() -> dict[str, Any]:
    """alpha-2 -> {name, c: [lon, lat] centroid, r: outer rings as flat x,y lists}."""
    text = resources.files("moneytrail.report").joinpath("world.json").read_text("utf-8")
    countries: dict[str, Any] = json.loads(text)["countries"]
    return countries


@dataclass(frozen=True)
class Corridor:
    sender: str  # ISO alpha-2
    receiver: str
    n: int
    usd: float
    flagged: int = 0


def _unwrap(x: float, west: float) -> float:
    """Longitude `x` moved by whole turns into [west, west + 360)."""
    d = (x - west) % 360
    return west + (0.0 if d >= 360 - 1e-9 else d)  # -1e-300 % 360 is 360.0 in floating point


def _view(lons: list[float]) -> float:
    """The western edge of the smallest longitude span that holds every point."""
    pts = sorted({(x + 180) % 360 - 180 for x in lons})
    if len(pts) == 1:
        return pts[0]
    gaps = [(pts[(i + 1) % len(pts)] - pts[i]) % 360 for i in range(len(pts))]
    widest = max(range(len(pts)), key=lambda i: gaps[i])
    return pts[(widest + 1) % len(pts)]


def _place_labels(ax: Any, pos: dict[str, tuple[float, float]], corridors: Sequence[Corridor],
                  xlim: tuple[float, float]) -> None:
    """Country codes beside their centroids, busiest first, each where it overlaps no earlier
    label (above, below, right, left); a code with no free place is left to the table."""
    deg_per_pt = (xlim[1] - xlim[0]) / (10 * 72)
    w, h = 2 * 0.65 * 9 * deg_per_pt, 1.3 * 9 * deg_per_pt
    volume: Counter[str] = Counter()
    for c in corridors:
        volume[c.sender] += c.n
        volume[c.receiver] += c.n
    taken: list[tuple[float, float, float, float]] = []
    for code, _ in volume.most_common():
        x, y = pos[code]
        for dx, dy in ((0, 0.9 * h), (0, -0.9 * h), (0.9 * w, 0), (-0.9 * w, 0), (0, 1.9 * h), (0, -1.9 * h)):
            box = (x + dx - w / 2, y + dy - h / 2, x + dx + w / 2, y + dy + h / 2)
            if all(box[2] < t[0] or box[0] > t[2] or box[3] < t[1] or box[1] > t[3] for t in taken):
                taken.append(box)
                ax.text(x + dx, y + dy, code, ha="center", va="center", fontsize=9, fontweight="bold", zorder=4,
                        bbox={"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.75})
                break


def corridor_map(corridors: Sequence[Corridor]) -> tuple[bytes, list[str]]:
    """Corridors as arrows between country centroids (width by count; a circle for a
    domestic flow), on country outlines; sending countries blue, receiving ones red.
    Returns the PNG and the country codes that could not be placed."""
    geo = world()
    placed = [c for c in corridors if c.sender in geo and c.receiver in geo]
    missing = sorted({x for c in corridors for x in (c.sender, c.receiver) if x not in geo})
    codes = {x for c in placed for x in (c.sender, c.receiver)}
    west = _view([geo[x]["c"][0] for x in codes]) if codes else -180.0

    def lon(x: float) -> float:
        return _unwrap(x, west)

    pos = {x: (lon(geo[x]["c"][0]), geo[x]["c"][1]) for x in codes}
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    half_w = max((max(xs) - min(xs)) / 2 + 18, 30)
    half_h = max((max(ys) - min(ys)) / 2 + 12, 18)
    half_w, half_h = max(half_w, half_h * 1.6), max(half_h, half_w / 2.2)  # keep a map-like shape
    xlim = (cx - half_w, cx + half_w)
    ylim = (max(cy - half_h, -60), min(cy + half_h, 85))

    fig, ax = plt.subplots(figsize=(10, 10 * (ylim[1] - ylim[0]) / (xlim[1] - xlim[0]) + 0.4))
    senders = {c.sender for c in placed if c.sender != c.receiver}
    receivers = {c.receiver for c in placed if c.sender != c.receiver}
    domestic = {c.sender for c in placed if c.sender == c.receiver}
    for code, country in geo.items():
        face = "#e9ecef"
        if code in receivers:
            face = "#f5b7b1"
        elif code in senders:
            face = "#aed6f1"
        elif code in domestic:
            face = "#d6dbdf"
        for flat in country["r"]:
            ring = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
            shift = lon(ring[0][0]) - ring[0][0]
            for extra in (-360.0, 0.0, 360.0):
                pts = [(x + shift + extra, y) for x, y in ring]
                if max(p[0] for p in pts) < xlim[0] - 5 or min(p[0] for p in pts) > xlim[1] + 5:
                    continue
                ax.add_patch(Polygon(pts, closed=True, facecolor=face, edgecolor="white", linewidth=0.4,
                                     zorder=1))
    top = max((c.n for c in placed), default=1)
    for c in sorted(placed, key=lambda c: c.n):
        width = 0.8 + 5.0 * math.sqrt(c.n / top)
        colour = FLAGGED if c.flagged else "#5d6d7e"
        if c.sender == c.receiver:
            x, y = pos[c.sender]
            ax.scatter([x], [y], s=60 + 500 * c.n / top, facecolors="none", edgecolors=colour,
                       linewidths=1.6, zorder=3)
        else:
            ax.add_patch(FancyArrowPatch(pos[c.sender], pos[c.receiver], arrowstyle="-|>",
                                         mutation_scale=10 + 2 * width, linewidth=width, color=colour,
                                         alpha=0.75, connectionstyle="arc3,rad=-0.18", zorder=3,
                                         shrinkA=4, shrinkB=4))
    _place_labels(ax, pos, placed, xlim)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#cccccc")
    ax.legend(handles=[Patch(color="#aed6f1", label="sending country"),
                       Patch(color="#f5b7b1", label="receiving country"),
                       Line2D([], [], color=FLAGGED, linewidth=3, label="corridor with flagged payments"),
                       Line2D([], [], color="#5d6d7e", linewidth=3, label="corridor, none flagged")],
              loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=4, fontsize=8, frameon=False)
    return png(fig), missing
