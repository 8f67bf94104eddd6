"""Stage a CSV file with DuckDB's reader and a format's column mapping."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

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


def stage_csv(con: duckdb.DuckDBPyConnection, path: Path, fmt: CsvFormat) -> list[Rejected]:
    """Create the temp view `stage` over `path`; return the records the reader rejected.

    Columns are matched case-insensitively; columns the format does not know
    go, as they are, into the JSON `extra` field.
    """
    header = read_csv_header(path)
    if not header or not any(header):
        raise HeaderError("empty file or no header row")
    # Unique, lower-case names in header order, as DuckDB will bind them.
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

    rejected = _read_into_src(con, path, names, base_line=1, ordinal_base=0)
    mapped: dict[str, str] = {}
    used: set[str] = set()
    for stage_col in STAGE_COLUMNS:
        if stage_col in fmt.derived:
            continue
        source = fmt.columns.get(stage_col)
        if source is None:
            mapped[stage_col] = "NULL"
        elif source.startswith("'"):
            mapped[stage_col] = source
        elif source in seen:
            mapped[stage_col] = f"nullif(trim({_ident(source)}), '')"
            used.add(source)
        else:
            mapped[stage_col] = "NULL"
    mapped["location"] = "NULL"
    mapped["raw"] = "concat_ws(',', " + ", ".join(f"coalesce({_ident(n)}, '')" for n in names) + ")"
    unknown = [n for n in names if n not in used]
    mapped["extra"] = (
        "CAST(to_json(struct_pack(" + ", ".join(f"{_ident(n)} := {_ident(n)}" for n in unknown) + ")) AS VARCHAR)"
        if unknown
        else "NULL"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE reject_shift AS "
        "SELECT line - 1 - coalesce(sum(span) OVER (ORDER BY line ROWS BETWEEN UNBOUNDED PRECEDING "
        "AND 1 PRECEDING), 0) AS k, span FROM reject_span"
    )
    inner = ", ".join(f"{expr} AS {_ident(col)}" for col, expr in mapped.items())
    derived = "".join(f", {expr} AS {_ident(col)}" for col, expr in fmt.derived.items())
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW stage AS SELECT *{derived} FROM (SELECT ordinal, fixed_line, {inner} FROM src)"
    )

    return rejected


def _read_into_src(
    con: duckdb.DuckDBPyConnection, path: Path, names: list[str], *, base_line: int, ordinal_base: int
) -> list[Rejected]:
    """Read `path` into the temp table `src`; salvage what a broken quote swallowed.

    A stray quote makes the reader take every following line into one bad
    record. Only the first line of such a record is quarantined; the lines
    after it are read again as records of their own, with their true line
    numbers, so one typo loses one record, not the rest of the file.
    """
    columns = "{" + ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names) + "}"
    for table in ("csv_rejects", "csv_scans"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    first = ordinal_base == 0
    target = "CREATE OR REPLACE TEMP TABLE src AS" if first else "INSERT INTO src"
    line_expr = "CAST(NULL AS BIGINT)" if first else f"{base_line} + row_number() OVER ()"
    con.execute(
        f"""
        {target}
        SELECT {ordinal_base} + row_number() OVER () AS ordinal, {line_expr} AS fixed_line, *
        FROM read_csv({_lit(str(path))}, columns = {columns}, header = true, auto_detect = false,
                      delim = ',', quote = '"', escape = '"', store_rejects = true,
                      rejects_table = 'csv_rejects', rejects_scan = 'csv_scans',
                      strict_mode = true, null_padding = false)
        """
    )
    rows = con.execute(
        """
        SELECT line, any_value(error_type), any_value(error_message), any_value(csv_line)
        FROM csv_rejects GROUP BY line ORDER BY line
        """
    ).fetchall()
    rejected: list[Rejected] = []
    spans: list[tuple[int, int]] = []
    salvage: list[tuple[int, list[str]]] = []
    for line, kind, msg, raw in rows:
        text = (raw or "").rstrip("\r\n")
        lines = text.split("\n")
        true_line = line + base_line - 1
        rejected.append(
            Rejected(f"line {true_line}",
                     f"unreadable CSV record ({str(kind).lower()}): {_first_sentence(msg)}",
                     lines[0])
        )
        spans.append((line, len(lines)))
        if len(lines) > 1:
            salvage.append((true_line, lines[1:]))
    if first:
        con.execute("CREATE OR REPLACE TEMP TABLE reject_span (line BIGINT, span BIGINT)")
        if spans:
            con.executemany("INSERT INTO reject_span VALUES (?, ?)", spans)
    for true_line, lines in salvage:
        header = ",".join('"' + n.replace('"', '""') + '"' for n in names)
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, encoding="utf-8") as fh:
            fh.write(header + "\n" + "\n".join(lines) + "\n")
            tmp = Path(fh.name)
        try:
            rejected += _read_into_src(
                con, tmp, names, base_line=true_line,
                ordinal_base=int(scalar(con, "SELECT coalesce(max(ordinal), 0) FROM src")),
            )
        finally:
            tmp.unlink()
    return rejected


# Physical line of a record from its ordinal among the records the reader kept:
# the header, plus the records before it, plus the lines of rejected records
# before it. Salvaged records carry their line already.
CSV_LOCATION_SQL = (
    "'line ' || CAST(coalesce(fixed_line, ordinal + 1 + ("
    "SELECT coalesce(sum(r.span), 0) FROM reject_shift r WHERE r.k <= checked.ordinal)) AS VARCHAR)"
)


def _first_sentence(message: str | None) -> str:
    text = (message or "").strip().split("\n")[0]
    return text[:200]
