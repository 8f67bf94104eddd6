"""Read CSV files with DuckDB's reader and a format's column mapping.

Each file is read on its own into the batch table `src_all`, and its
reader's rejected records (wrong column count, broken quoting, invalid UTF-8)
collected with their line numbers; the batch is then read once, by
`finish.check_into`, through the view this module defines.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from moneytrail.ingest.bundle import read_csv_header
from moneytrail.ingest.csv_formats import CsvFormat
from moneytrail.ingest.stage import STAGE_COLUMNS, Rejected
from moneytrail.store import scalar


class HeaderError(Exception):
    """The header lacks a required column: no record of the file can be read."""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def header_names(path: Path, fmt: CsvFormat) -> list[str]:
    """Unique lower-case column names in header order; checks the required ones."""
    header = read_csv_header(path)
    if not header or not any(header):
        raise HeaderError("empty file or no readable header row")
    names: list[str] = []
    seen: set[str] = set()
    for h in header:
        base = h.strip().lower() or "column"
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name)
        names.append(name)
    missing = [c for c in fmt.required if c not in seen]
    if missing:
        raise HeaderError(f"missing required column(s): {', '.join(missing)}")
    return names


def _reader(paths: Path | list[Path], names: list[str]) -> str:
    columns = "{" + ", ".join(f"{_lit('c_' + n)}: 'VARCHAR'" for n in names) + "}"
    if isinstance(paths, list):
        files = "[" + ", ".join(_lit(str(p)) for p in paths) + "], filename = true"
    else:
        files = _lit(str(paths))
    return f"""read_csv({files}, columns = {columns}, header = true, auto_detect = false,
                          delim = ',', quote = '"', escape = '"', store_rejects = true,
                          rejects_table = 'csv_rejects', rejects_scan = 'csv_scans',
                          strict_mode = true, null_padding = false)"""


def read_into_batch(
    con: duckdb.DuckDBPyConnection, path: Path, names: list[str], *,
    source_file: str, base_line: int | None, first: bool,
) -> None:
    """Append `path` to the batch table `src_all`, in file order, under the names `c_<name>`.

    A later read of lines a broken quote swallowed, cut into a file of their
    own whose header stands at `base_line`, records each record's physical
    line in `fixed_line`. `first` creates `src_all`.
    """
    reader = _reader(path, names)
    drop_rejects(con)
    line = "CAST(NULL AS BIGINT)" if base_line is None else f"{base_line} + row_number() OVER ()"
    target = "CREATE OR REPLACE TEMP TABLE src_all AS" if first else "INSERT INTO src_all"
    con.execute(f"{target} SELECT {_lit(source_file)} AS source_file, {line} AS fixed_line, * FROM {reader}")


def read_files_into_batch(
    con: duckdb.DuckDBPyConnection, paths: list[Path], names: list[str], rels: list[str]
) -> list[Rejects]:
    """Read the files into a new batch table `src_all` in one statement; each file's rejects.

    The same table as `read_into_batch` file after file (rows in file order, then line
    order), but DuckDB reads several files at once: its reader takes a file of a few MB
    on one thread. Lines a broken quote swallowed (`Rejects.salvage`) are not read again
    here: the caller then reads the files one by one instead. `paths` are distinct.
    """
    drop_rejects(con)
    which = " ".join(f"WHEN {_lit(str(p))} THEN {_lit(r)}" for p, r in zip(paths, rels, strict=True))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE src_all AS SELECT CASE filename {which} END AS source_file, "
        f"CAST(NULL AS BIGINT) AS fixed_line, * EXCLUDE (filename) FROM {_reader(paths, names)}"
    )
    rows = con.execute(
        """
        SELECT s.file_path, r.line, any_value(r.error_type), any_value(r.error_message),
               any_value(r.csv_line)
        FROM csv_rejects r JOIN csv_scans s ON s.scan_id = r.scan_id AND s.file_id = r.file_id
        GROUP BY s.file_path, r.line ORDER BY r.line
        """
    ).fetchall()
    by_path: dict[str, list[tuple[Any, ...]]] = {str(p): [] for p in paths}
    for path, *rest in rows:
        by_path[str(path)].append(tuple(rest))
    return [_rejects(by_path[str(p)], 1) for p in paths]


def csv_view(
    con: duckdb.DuckDBPyConnection, view: str, fmt: CsvFormat, names: list[str]
) -> tuple[str, str]:
    """Define `view` over `src_all` in the staging shape; unknown columns go into `extra`.

    Row ids grow in the order rows were appended, and a file's own read is one
    run of them (ids need not start at 0 inside a transaction): a record's
    `ordinal` is its row id minus the first, plus one, and its number in its
    file is its ordinal minus the first ordinal of that run (`csv_file_starts`,
    needed only to place bad records). Both offsets are constants here, so a
    scan of the view costs no per-row lookup.

    Returns `finish.load_checked`'s `raw_text`: the columns of `src_all` by ordinal, and
    a record's text (the view's `raw`) over them, to be made for bad records alone.
    """
    base = int(scalar(con, "SELECT coalesce(min(rowid), 0) FROM src_all"))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE csv_file_starts AS
        SELECT source_file, min(rowid) - {base} + 1 AS first_ordinal
        FROM src_all WHERE fixed_line IS NULL GROUP BY source_file
        """
    )
    src = {n: f"c_{n}" for n in names}
    mapped: dict[str, str] = {}
    used: set[str] = set()
    for stage_col in STAGE_COLUMNS:
        source = fmt.columns.get(stage_col)
        if stage_col in fmt.derived or source is None:
            continue
        if source.startswith("'"):
            mapped[stage_col] = source
        elif source in src:
            mapped[stage_col] = f"nullif(trim({_ident(src[source])}), '')"
            used.add(source)
    def raw(alias: str) -> str:
        return "concat_ws(',', " + ", ".join(f"coalesce({alias}{_ident(src[n])}, '')" for n in names) + ")"

    mapped["raw"] = raw("")
    unknown = [n for n in names if n not in used]
    if unknown:
        mapped["extra"] = (
            "CAST(to_json(struct_pack("
            + ", ".join(f"{_ident(n)} := {_ident(src[n])}" for n in unknown)
            + ")) AS VARCHAR)"
        )
    inner = [f"rowid - {base} + 1 AS ordinal", "fixed_line", "source_file"]
    inner += [f"{mapped.get(c, 'CAST(NULL AS VARCHAR)')} AS {_ident(c)}" for c in STAGE_COLUMNS if c not in fmt.derived]
    derived = "".join(f", {expr} AS {_ident(col)}" for col, expr in fmt.derived.items())
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT *{derived} FROM (SELECT {', '.join(inner)} FROM src_all)"
    )
    columns = ", ".join(_ident(src[n]) for n in names)
    return f"(SELECT rowid - {base} + 1 AS s_ordinal, {columns} FROM src_all)", raw("s.")


@dataclass
class Rejects:
    rejected: list[Rejected] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)  # (line, lines swallowed)
    salvage: list[tuple[int, list[str]]] = field(default_factory=list)  # (line, lines after it)


def drop_rejects(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("csv_rejects", "csv_scans"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def collect_rejects(con: duckdb.DuckDBPyConnection, base_line: int) -> Rejects:
    """The reader's rejected records after a read, with true line numbers.

    A stray quote makes the reader take every following line into one bad
    record: only that record's first line is quarantined; the lines after it
    are returned for reading again as records of their own.
    """
    rows = con.execute(
        """
        SELECT line, any_value(error_type), any_value(error_message), any_value(csv_line)
        FROM csv_rejects GROUP BY line ORDER BY line
        """
    ).fetchall()
    return _rejects(rows, base_line)


def _rejects(rows: list[tuple[Any, ...]], base_line: int) -> Rejects:
    """Rejects from the reader's rows (line, error type, message, text), in line order."""
    out = Rejects()
    for line, kind, msg, raw in rows:
        # DuckDB may prefix the record with the previous line's end on CRLF files.
        lines = [part.rstrip("\r") for part in (raw or "").strip("\r\n").split("\n")]
        true_line = line + base_line - 1
        reason = f"unreadable CSV record ({str(kind).lower()}): {_first_sentence(msg)}"
        out.rejected.append(Rejected(f"line {true_line}", reason, lines[0]))
        out.spans.append((line, len(lines)))
        if len(lines) > 1:
            out.salvage.append((true_line, lines[1:]))
    return out


def salvage_file(names: list[str], lines: list[str]) -> Path:
    header = ",".join('"' + n.replace('"', '""') + '"' for n in names)
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8") as fh:
        fh.write(header + "\n" + "\n".join(lines) + "\n")
        return Path(fh.name)


def install_reject_shift(con: duckdb.DuckDBPyConnection, spans: list[tuple[str, int, int]]) -> None:
    """Table for the physical line of a record from its ordinal.

    Record k (1-based, among those the reader kept) lies after rejected record i
    when k >= line_i - 1 - (lines swallowed by rejects before i); its line is
    k + 1 (the header) + the lines swallowed by the rejects before it.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE reject_span (source_file VARCHAR, line BIGINT, span BIGINT)")
    if spans:
        # one statement for all rows: executemany runs one statement per row
        rows = pa.table({"source_file": [f for f, _, _ in spans], "line": [n for _, n, _ in spans],
                         "span": [k for _, _, k in spans]})
        con.register("reject_span_rows", rows)
        con.execute("INSERT INTO reject_span SELECT * FROM reject_span_rows")
        con.unregister("reject_span_rows")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE reject_shift AS "
        "SELECT source_file, line - 1 - coalesce(sum(span) OVER (PARTITION BY source_file ORDER BY line "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS k, span FROM reject_span"
    )


# A record's number in its file (from its ordinal), then its physical line.
_FILE_ORDINAL = (
    "(checked.ordinal + 1 - (SELECT f.first_ordinal FROM csv_file_starts f "
    "WHERE f.source_file = checked.source_file))"
)
CSV_LOCATION_SQL = (
    f"'line ' || CAST(coalesce(fixed_line, {_FILE_ORDINAL} + 1 + ("
    "SELECT coalesce(sum(r.span), 0) FROM reject_shift r "
    f"WHERE r.source_file = checked.source_file AND r.k <= {_FILE_ORDINAL})) AS VARCHAR)"
)


def _first_sentence(message: str | None) -> str:
    text = (message or "").strip().split("\n")[0]
    return text[:200]


# DuckDB's strict reader raises for the whole file (inside the batch's transaction) instead
# of rejecting a record when line ends are mixed (CRLF and LF lines in one file, as when
# exports are concatenated) or a CR stands outside quotes not ending a line. Such a file is
# read from a repaired copy: every line ended by LF, and each line holding a bare CR outside
# quotes replaced by a numbered placeholder the reader rejects in its place, so line
# numbers and the rest of the file stay as they were.
BARE_CR_REASON = (
    "unreadable CSV record: a carriage return outside quotes (allowed only inside a quoted field)"
)
_SET_ASIDE = "moneytrail: record set aside #"
_CHUNK = 16 << 20


def _mixed_line_ends(path: Path) -> bool:
    """Whether the file is neither all-LF nor all-CRLF; reads in chunks, at the speed of bytes.count.

    Until the first CR a chunk costs one count (of CRs) and a look for an LF: with a bare
    LF before it, a first CR makes the file mixed at once; an all-LF file is read once.
    """
    lf = crlf = cr = 0
    bare_lf = False  # an LF seen before any CR
    with open(path, "rb") as fh:
        tail = b""
        while chunk := fh.read(_CHUNK):
            block = tail + chunk
            # a CR at the end of the block may start a CRLF split across chunks: count it next time
            body, tail = (block[:-1], block[-1:]) if block.endswith(b"\r") else (block, b"")
            crs = body.count(b"\r")
            if cr == 0 and crs == 0:
                bare_lf = bare_lf or b"\n" in body
                if tail and bare_lf:
                    return True
                continue
            if bare_lf:
                return True  # a CR after a bare LF: cr > 0 and lf > crlf
            lf, crlf, cr = lf + body.count(b"\n"), crlf + body.count(b"\r\n"), cr + crs
    cr += len(tail)
    return cr > 0 and not cr == crlf == lf


def repair_line_ends(path: Path, aside: dict[int, str]) -> Path | None:
    """A repaired copy of `path` when its line ends need it, else None (one pass of bytes.count).

    Lines set aside are kept in `aside` under their placeholder's number; numbers continue
    those already there, so lines a broken quote swallowed, read again later, keep theirs.
    """
    if not _mixed_line_ends(path):
        return None
    lines = [line.removesuffix(b"\r") for line in path.read_bytes().split(b"\n")]
    for i, body in enumerate(lines[1:], start=1):
        pos = body.find(b"\r")
        while pos >= 0 and body.count(b'"', 0, pos) % 2:  # inside quotes: the reader accepts it
            pos = body.find(b"\r", pos + 1)
        if pos >= 0:
            n = len(aside)
            aside[n] = body.decode("utf-8", errors="replace").replace("\r", "\\r")
            lines[i] = f"{_SET_ASIDE}{n}".encode()
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as fh:
        fh.write(b"\n".join(lines))
    return Path(fh.name)


def relabel_set_aside(found: Rejects, aside: dict[int, str]) -> None:
    """Give the reader's rejects of placeholder lines their true reason and text."""
    for r in found.rejected:
        if r.raw.startswith(_SET_ASIDE) and r.raw[len(_SET_ASIDE) :].isdigit():
            r.reason, r.raw = BARE_CR_REASON, aside.get(int(r.raw[len(_SET_ASIDE) :]), "")[:500]
