"""Rendering EOD bars to the bytes EODHD sends, with per-row caching.

A history answer is a slice of one symbol's rows, so each row is rendered once (per
"known corporate actions" version, since adjusted_close depends on it) and an answer is a
join of cached fragments. That keeps a 2,500-row history at tens of microseconds of
Python work, so the simulator is never the bottleneck of the client benchmark.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl

from eodhd_simulator.paths import SymbolPath

#: CSV headers (the contract, "CSV, where it appears").
EOD_CSV_HEADER = b"Date,Open,High,Low,Close,Adjusted_close,Volume\n"
BULK_CSV_HEADER = b"Code,Ex,Date,Open,High,Low,Close,Adjusted_close,Volume\n"


def dumps(obj: Any) -> bytes:
    """Compact JSON, UTF-8 as EODHD sends it (non-ASCII names stay literal)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


#: Byte budget of rendered histories kept in memory (least recently used dropped first):
#: ~0.45 MB per 3,300-row JSON history, so about 1,700 symbols stay hot.
RENDER_CACHE_BYTES = 768 * 2**20


@dataclass
class Rendered:
    """All rows of a path in one blob, with each row's [start, end) byte offsets, so an
    answer for any date range is one slice of the blob."""

    blob: bytes
    starts: array[int]
    ends: array[int]
    sep: bytes

    def span(self, i: int, j: int) -> bytes:
        """Rows i..j-1 joined by the separator."""
        if j <= i:
            return b""
        return self.blob[self.starts[i] : self.ends[j - 1]]

    def span_reversed(self, i: int, j: int) -> bytes:
        blob, starts, ends = self.blob, self.starts, self.ends
        return self.sep.join([blob[starts[k] : ends[k]] for k in range(j - 1, i - 1, -1)])


class _RenderCache:
    """LRU over (path, format, known) with a byte budget; entries live on the path's
    `rendered` dict (so they are shared with the path) and are dropped from there."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self.entries: OrderedDict[tuple[int, str, int], tuple[SymbolPath, int]] = OrderedDict()

    def get(self, path: SymbolPath, fmt: str, known: int) -> Rendered:
        key = (id(path), fmt, known)
        hit = path.rendered.get((fmt, known))
        if hit is not None and key in self.entries:
            self.entries.move_to_end(key)
            return hit
        rendered = _render(path, fmt, known)
        path.rendered[(fmt, known)] = rendered
        n = len(rendered.blob) + 16 * len(rendered.starts)
        self.entries[key] = (path, n)
        self.size += n
        while self.size > self.budget and len(self.entries) > 1:
            (_, old_fmt, old_known), (old_path, old_n) = self.entries.popitem(last=False)
            old_path.rendered.pop((old_fmt, old_known), None)
            self.size -= old_n
        return rendered


_CACHE = _RenderCache(RENDER_CACHE_BYTES)


def set_cache_budget(budget: int) -> None:
    """Resize the (process-wide) render cache; the next insert evicts down to it."""
    with _LOCK:
        _CACHE.budget = max(budget, 1)
_LOCK = threading.Lock()


def _render(path: SymbolPath, fmt: str, known: int) -> Rendered:
    """Render with polars: its float-to-text is the shortest round-trip form (what repr
    gives) and it is about 3x faster than Python formatting, which matters because a
    path is rendered on its first request."""
    if len(path) == 0:
        return Rendered(b"", array("q"), array("q"), b"," if fmt == "json" else b"\n")
    frame = path.frame.with_columns(path.adjusted_series(known))
    num = [pl.col(c).cast(pl.String) for c in _PRICE_COLUMNS]
    day = pl.col("date").cast(pl.String)
    if fmt == "json":
        parts = [pl.lit('{"date":"'), day]
        for name, col in zip(_PRICE_COLUMNS, num, strict=True):
            parts += [pl.lit(f'","{name}":' if name == "open" else f',"{name}":'), col]
        parts.append(pl.lit("}"))
        sep = b","
    else:
        parts = [day]
        for col in num:
            parts += [pl.lit(","), col]
        sep = b"\n"
    # One query: row texts, then each row's end offset in the joined blob
    # (cumulative length plus one separator per earlier row).
    rows = (
        frame.lazy()
        .select(row=pl.concat_str(parts))
        .with_columns(
            end=pl.col("row").str.len_bytes().cast(pl.Int64).cum_sum()
            + pl.int_range(pl.len(), dtype=pl.Int64),
            length=pl.col("row").str.len_bytes().cast(pl.Int64),
        )
        .collect()
    )
    blob = rows["row"].str.join(sep.decode())[0].encode()
    ends = array("q", rows["end"].to_list())
    starts = array("q", (rows["end"] - rows["length"]).to_list())
    return Rendered(blob, starts, ends, sep)


_PRICE_COLUMNS = ("open", "high", "low", "close", "adjusted_close", "volume")


def eod_rendered(path: SymbolPath, known: int, fmt: str = "json") -> Rendered:
    """The path's rows rendered as JSON objects (fmt="json") or CSV lines ("csv"), with
    adjusted_close for `known` published actions. Cached (LRU, byte budget)."""
    with _LOCK:
        return _CACHE.get(path, fmt, known)


def eod_json(path: SymbolPath, known: int, i: int, j: int, descending: bool = False) -> bytes:
    """The `/eod/` JSON answer for rows i..j-1."""
    r = eod_rendered(path, known, "json")
    return b"[" + (r.span_reversed(i, j) if descending else r.span(i, j)) + b"]"


def eod_csv(path: SymbolPath, known: int, i: int, j: int, descending: bool = False) -> bytes:
    """The `/eod/` CSV answer for rows i..j-1 (header line first)."""
    if j <= i:
        return EOD_CSV_HEADER
    r = eod_rendered(path, known, "csv")
    return EOD_CSV_HEADER + (r.span_reversed(i, j) if descending else r.span(i, j)) + b"\n"


def json_array(fragments: Iterable[bytes]) -> bytes:
    return b"[" + b",".join(fragments) + b"]"


def csv_body(header: bytes, lines: Iterable[bytes]) -> bytes:
    return header + b"".join(lines)


def row_dict(path: SymbolPath, i: int, adjusted: float) -> dict[str, Any]:
    """One bar as a dict, for answers assembled per request (bulk, faults, free plan)."""
    return {
        "date": path.iso[i],
        "open": path.open[i],
        "high": path.high[i],
        "low": path.low[i],
        "close": path.close[i],
        "adjusted_close": adjusted,
        "volume": path.volume[i],
    }


def csv_lines(header: list[str], rows: Iterable[dict[str, Any]], keys: list[str]) -> bytes:
    """CSV of dict rows; fields with commas or quotes (names like "O'Reilly Automotive,
    Inc.") are quoted the standard way, None becomes an empty field."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([r.get(k) for k in keys] for r in rows)
    return buf.getvalue().encode()
