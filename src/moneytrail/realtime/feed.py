"""A bundle of provider exports as a stream of single payments, in time order.

Used to feed real-time scoring from files (``moneytrail realtime replay`` and ``split``),
by the parity test and by the load test: every CSV row becomes the JSON
record ``POST /score`` takes, every pacs.008 ``CdtTrfTxInf`` a one-transaction
message with its group header. :func:`split_bundle` cuts a bundle at a time:
what came before goes into a smaller bundle for the batch run (one file per
provider and format), what came after is returned for streaming.
"""

from __future__ import annotations

import csv
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree

from moneytrail.ingest.bundle import SourceFile, plan_bundle
from moneytrail.ingest.csv_formats import CSV_FORMATS
from moneytrail.realtime.payload import RejectedPayment, parse_ts, stage_pacs008, stage_record


@dataclass
class FeedItem:
    """One payment of a bundle: when it was made (UTC, None if unreadable) and the request body."""

    ts: datetime | None
    body: dict[str, Any]
    source: str  # the file it came from, relative to the bundle
    raw: str  # the CSV line or the one-transaction pacs.008 document, to write it back
    header: str = ""  # the CSV header line
    timezone: str | None = None

    @property
    def provider(self) -> str:
        return str(self.body["provider"])

    @property
    def format(self) -> str:
        return str(self.body.get("format", "pacs008"))


def _csv_items(src: SourceFile) -> tuple[list[str], list[FeedItem]]:
    text = src.path.read_text("utf-8-sig")
    lines = text.splitlines()
    header = lines[0] if lines else ""
    names = next(csv.reader([header])) if header else []
    fmt = CSV_FORMATS[src.format]
    items = []
    for line in lines[1:]:
        if not line.strip():
            continue
        values = next(csv.reader([line]), [])
        if len(values) != len(names):
            continue  # unreadable: the batch quarantines it, there is no payment to stream
        record = dict(zip(names, values, strict=True))
        ts = parse_ts(stage_record(record, fmt).get("ts"), src.timezone)
        body = {"provider": src.provider, "format": src.format, "record": record}
        if src.timezone:
            body["timezone"] = src.timezone
        items.append(FeedItem(ts, body, src.rel, line, header, src.timezone))
    return [header], items


def _pacs_items(src: SourceFile) -> list[FeedItem]:
    tree = etree.parse(str(src.path), etree.XMLParser(resolve_entities=False, no_network=True))
    items = []
    for group in tree.iter("{*}FIToFICstmrCdtTrf"):
        ns = group.tag[: group.tag.index("}") + 1]
        header = group.find(ns + "GrpHdr")
        for tx in group.iterfind(ns + "CdtTrfTxInf"):
            doc = etree.Element(ns + "Document", nsmap={None: ns[1:-1]})
            body_el = etree.SubElement(doc, ns + "FIToFICstmrCdtTrf")
            if header is not None:
                hdr = deepcopy(header)
                n = hdr.find(ns + "NbOfTxs")
                if n is not None:
                    n.text = "1"
                body_el.append(hdr)
            body_el.append(deepcopy(tx))
            xml = etree.tostring(doc, encoding="unicode")
            try:
                ts = parse_ts(stage_pacs008(xml.encode()).get("ts"), src.timezone)
            except RejectedPayment:  # a transaction the reader rejects: nothing to stream
                continue
            body: dict[str, Any] = {"provider": src.provider, "pacs008": xml}
            if src.timezone:
                body["timezone"] = src.timezone
            items.append(FeedItem(ts, body, src.rel, xml, "", src.timezone))
    return items


def read_bundle(bundle: Path) -> tuple[list[FeedItem], list[SourceFile]]:
    """Every payment of the bundle's CSV and pacs.008 files, oldest first (unreadable times last),
    and the bundle's other files (referrals)."""
    plan = plan_bundle(bundle)
    items: list[FeedItem] = []
    others: list[SourceFile] = []
    for src in plan.files:
        if src.format in CSV_FORMATS:
            items += _csv_items(src)[1]
        elif src.format == "pacs008":
            items += _pacs_items(src)
        else:
            others.append(src)
    items.sort(key=lambda i: (i.ts is None, i.ts or datetime.min))
    return items, others


def bundle_payments(bundle: Path) -> list[FeedItem]:
    """Every payment of the bundle, oldest first (unreadable times last)."""
    return read_bundle(bundle)[0]


def write_bundle(items: list[FeedItem], out: Path, *, extra_sources: list[str] | None = None) -> Path:
    """Write payments as a bundle: one CSV per provider and format, one pacs.008 envelope per provider."""
    out.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[str, str, str | None], list[FeedItem]] = {}
    for item in items:
        groups.setdefault((item.provider, item.format, item.timezone), []).append(item)
    sources = ["path,format,provider,timezone", *(extra_sources or [])]
    for (provider, fmt, tz), group in groups.items():
        suffix = "xml" if fmt == "pacs008" else "csv"
        rel = f"{provider}/{fmt}.{suffix}"
        (out / provider).mkdir(parents=True, exist_ok=True)
        if fmt == "pacs008":
            text = '<?xml version="1.0" encoding="UTF-8"?>\n<Envelope>\n' + "".join(i.raw + "\n" for i in group) + "</Envelope>\n"
        else:
            text = group[0].header + "\n" + "".join(i.raw + "\n" for i in group)
        (out / rel).write_text(text, "utf-8")
        sources.append(f"{rel},{fmt},{provider},{tz or ''}")
    (out / "sources.csv").write_text("\n".join(sources) + "\n", "utf-8")
    return out


def split_bundle(bundle: Path, out: Path, cut: datetime) -> tuple[Path, list[FeedItem]]:
    """Write the payments before `cut` (and the rest of the bundle) to `out`; return the later payments.

    One file per provider and format keeps the batch ingestion short. Records
    whose time cannot be read stay with the earlier part (the batch quarantines them).
    """
    items, others = read_bundle(bundle)
    for src in others:  # referrals and anything else: as they are
        target = out / src.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(src.path.read_bytes())
    write_bundle([i for i in items if i.ts is None or i.ts < cut], out,
                 extra_sources=[f"{s.rel},{s.format},{s.provider},{s.timezone or ''}" for s in others])
    fx = plan_bundle(bundle).fx_file
    if fx is not None:
        (out / "fx_rates.csv").write_bytes(fx.read_bytes())
    return out, [i for i in items if i.ts is not None and i.ts >= cut]
