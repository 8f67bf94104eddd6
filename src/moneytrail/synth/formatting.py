"""Vectorised rendering of timestamps and amounts, and RFC 4180 CSV writing in chunks."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from moneytrail.synth import places as P


def offset_str(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    m = abs(int(minutes))
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


def iso(ts: np.ndarray, offset_min: np.ndarray | None = None, *, z: bool = False) -> np.ndarray:
    """ISO 8601 strings: with the given UTC offsets, with `Z`, or naive (offset added, none written)."""
    if offset_min is None:
        s = np.datetime_as_string(ts.astype("datetime64[s]"), unit="s").astype(object)
        return s + "Z" if z else s
    local = ts + offset_min.astype(np.int64) * 60
    s = np.datetime_as_string(local.astype("datetime64[s]"), unit="s").astype(object)
    uniq, inv = np.unique(offset_min, return_inverse=True)
    offs = np.array([offset_str(int(u)) for u in uniq], dtype=object)[inv]
    return s + offs


def naive(ts: np.ndarray, offset_min: np.ndarray) -> np.ndarray:
    local = ts + offset_min.astype(np.int64) * 60
    return np.datetime_as_string(local.astype("datetime64[s]"), unit="s").astype(object)


def amounts(amt: np.ndarray, ccy: np.ndarray) -> np.ndarray:
    zero = np.isin(ccy, [P.CURRENCY_INDEX[c] for c in P.ZERO_DECIMAL])
    out = np.array([f"{x:.2f}" for x in amt.tolist()], dtype=object)
    if zero.any():
        out[zero] = np.array([f"{x:.0f}" for x in amt[zero].tolist()], dtype=object)
    return out


def currency_codes(ccy: np.ndarray) -> np.ndarray:
    return np.array(P.CURRENCIES, dtype=object)[ccy]


def quote(v: object) -> str:
    if v is None:
        return ""
    s = str(v)
    return '"' + s.replace('"', '""') + '"'


class CsvWriter:
    """Writes one CSV file in chunks with pyarrow; lets callers replace whole physical lines (for defects)."""

    def __init__(self, path: str, header: Sequence[str], *, eol: str = "\n", bom: bool = False) -> None:
        self.f = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.header = list(header)
        self.eol = eol
        if bom:
            self.f.write("\ufeff".encode())
        self.f.write((",".join(self.header) + eol).encode())
        self.rows = 0

    def write(self, cols: dict[str, np.ndarray], replace: dict[int, str] | None = None) -> None:
        """Write rows (column name -> object array, None = empty); `replace` maps a row of this chunk to raw line text."""
        n = len(next(iter(cols.values())))
        if n == 0:
            return
        table = pa.table({h: pa.array(cols[h], type=pa.string()) for h in self.header})
        buf = io.BytesIO()
        pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed", eol=self.eol))
        data = buf.getvalue()
        if replace:
            eol = self.eol.encode()
            lines = data.split(eol)
            for i, text in replace.items():
                lines[i] = text.encode()
            data = eol.join(lines)
        self.f.write(data)
        self.rows += n

    def close(self) -> None:
        self.f.close()
