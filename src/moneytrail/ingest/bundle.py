"""Which files a bundle holds: `sources.csv` when present, detection otherwise."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from moneytrail.errors import UserError
from moneytrail.ingest.csv_formats import CSV_FORMATS, detect_csv_format

FORMATS = ("pacs008", "remittance-csv", "wallet-csv", "card-csv", "platform-jsonl")
RESERVED = {"sources.csv", "fx_rates.csv"}


@dataclass(frozen=True)
class SourceFile:
    path: Path  # absolute
    rel: str  # as named in outputs: relative to the bundle, else the path given
    format: str
    provider: str
    timezone: str | None = None


@dataclass
class BundlePlan:
    files: list[SourceFile]
    fx_file: Path | None
    unrecognised: list[str]


def check_timezone(tz: str | None, where: str) -> str | None:
    if not tz:
        return None
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(
            f"{where}: unknown time zone {tz!r}; use an IANA name such as 'Asia/Manila'"
        ) from exc
    return tz


def check_format(fmt: str, where: str) -> str:
    if fmt not in FORMATS:
        raise UserError(f"{where}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return fmt


def read_csv_header(path: Path) -> list[str]:
    with path.open("rb") as fh:
        first = fh.readline(1 << 20)
    text = first.decode("utf-8-sig", errors="replace")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:  # e.g. a bare CR in an unquoted name: no header to read
        return []
    return [h.strip() for h in rows[0]] if rows else []


def detect_format(path: Path) -> str | None:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return detect_csv_format(read_csv_header(path))
        if suffix == ".xml":
            from moneytrail.ingest.pacs008 import is_pacs008

            return "pacs008" if is_pacs008(path) else None
        if suffix in (".jsonl", ".ndjson", ".json"):
            from moneytrail.ingest.platform import is_platform_jsonl

            return "platform-jsonl" if is_platform_jsonl(path) else None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return None


def plan_bundle(bundle: Path) -> BundlePlan:
    if not bundle.exists():
        raise UserError(f"bundle not found: {bundle}; give the path of a bundle directory")
    if not bundle.is_dir():
        raise UserError(f"{bundle} is a file, not a bundle directory; use `moneytrail ingest` for single files")
    listed: dict[Path, SourceFile] = {}
    sources = _find_reserved(bundle, "sources.csv")
    if sources is not None:
        listed = _read_sources(bundle, sources)
    files = list(listed.values())
    unrecognised: list[str] = []
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        rel = path.relative_to(bundle)
        if path.resolve() in listed or _hidden(rel):
            continue
        if len(rel.parts) == 1 and rel.name.lower() in RESERVED:
            continue
        fmt = detect_format(path)
        if fmt is None:
            unrecognised.append(rel.as_posix())
            continue
        provider = rel.parts[0] if len(rel.parts) > 1 else path.stem
        files.append(SourceFile(path.resolve(), rel.as_posix(), fmt, provider))
    return BundlePlan(files, _find_reserved(bundle, "fx_rates.csv"), unrecognised)


def _find_reserved(bundle: Path, name: str) -> Path | None:
    for child in bundle.iterdir():
        if child.is_file() and child.name.lower() == name:
            return child
    return None


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _read_sources(bundle: Path, sources: Path) -> dict[Path, SourceFile]:
    text = sources.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower(): f for f in (reader.fieldnames or [])}
    missing = {"path", "format", "provider"} - set(fields)
    if missing:
        raise UserError(
            f"{sources}: missing column(s) {', '.join(sorted(missing))}; "
            "sources.csv needs path,format,provider (and optional timezone)"
        )
    out: dict[Path, SourceFile] = {}
    for n, row in enumerate(reader, start=2):
        get = {k: (row.get(v) or "").strip() for k, v in fields.items()}
        where = f"{sources.name} line {n}"
        if not get["path"]:
            continue
        path = (bundle / get["path"]).resolve()
        if not path.is_file():
            raise UserError(f"{where}: file {get['path']!r} not found in the bundle; fix the path")
        fmt = check_format(get["format"], where)
        if not get["provider"]:
            raise UserError(f"{where}: empty provider; name the institution that sent the file")
        tz = check_timezone(get.get("timezone"), where)
        out[path] = SourceFile(path, get["path"], fmt, get["provider"], tz)
    return out


def plan_files(
    paths: list[Path], fmt: str | None, provider: str | None, timezone: str | None
) -> BundlePlan:
    """Plan for `moneytrail ingest`: single files, or directories treated as bundles."""
    files: list[SourceFile] = []
    unrecognised: list[str] = []
    fx_file = None
    if fmt is not None:
        check_format(fmt, "--format")
    check_timezone(timezone, "--timezone")
    for path in paths:
        if not path.exists():
            raise UserError(f"not found: {path}; give an existing file or bundle directory")
        if path.is_dir():
            plan = plan_bundle(path)
            files += [
                SourceFile(f.path, f.rel, fmt or f.format, provider or f.provider, timezone or f.timezone)
                for f in plan.files
            ]
            unrecognised += plan.unrecognised
            fx_file = fx_file or plan.fx_file
            continue
        detected = fmt or detect_format(path)
        if detected is None:
            raise UserError(
                f"cannot tell the format of {path}; pass --format with one of {', '.join(FORMATS)}"
            )
        files.append(
            SourceFile(path.resolve(), str(path), detected, provider or path.parent.name or path.stem, timezone)
        )
    return BundlePlan(files, fx_file, unrecognised)


__all__ = ["CSV_FORMATS", "BundlePlan", "SourceFile", "plan_bundle", "plan_files"]
