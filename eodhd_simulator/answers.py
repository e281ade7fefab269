"""The clean answers of the simulated market, as the frames the client parses them into.

Tests compute what the server must answer from these (`sim.universe.history(...)`); the
server's endpoints render the same paths to bytes (see `endpoints.py` and `render.py`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from eodhd_simulator.actions import Dividend, Split, split_adjusted_value
from eodhd_simulator.paths import SymbolPath

if TYPE_CHECKING:
    from eodhd_simulator.symbols import SymbolInfo


def _schemas() -> Any:
    """The shared answer schemas, imported on use: `eod_pipeline.eodhd`'s package import
    pulls in the client, and the server must not depend on the client importing cleanly."""
    from eod_pipeline.eodhd import schemas

    return schemas


class Answers:
    """Answer shaping for `Universe`, which provides the market: `path`, `symbols`,
    `symbol` and `available_through`."""

    if TYPE_CHECKING:

        def path(self, exchange: str, code: str, through: date | None = None) -> SymbolPath: ...

        def symbols(self, exchange: str) -> list[SymbolInfo]: ...

        def symbol(self, exchange: str, code: str) -> SymbolInfo | None: ...

        def available_through(self, exchange: str, now: datetime) -> date | None: ...

    def _known_through(self, exchange: str, as_of: datetime | None) -> date | None:
        now = as_of or datetime.now(UTC)
        return self.available_through(exchange, now)

    def history(
        self,
        exchange: str,
        code: str,
        start: date | None = None,
        end: date | None = None,
        as_of: datetime | None = None,
    ) -> pl.DataFrame:
        """What `/eod/{code}.{exchange}?from=start&to=end` answers at `as_of` (clean data,
        no faults), with the columns and dtypes of `schemas.EOD_HISTORY`."""
        avail = self._known_through(exchange, as_of)
        if avail is None:
            return pl.DataFrame(schema=_schemas().EOD_HISTORY)
        path = self.path(exchange, code, avail)
        end = avail if end is None else min(end, avail)
        i, j = path.span(start, end)
        adj = path.adjusted_series(path.known_actions(avail))
        out = path.frame.with_columns(adj).slice(i, j - i)
        return out.select(list(_schemas().EOD_HISTORY))

    def bulk(self, exchange: str, day: date, as_of: datetime | None = None) -> pl.DataFrame:
        """What `/eod-bulk-last-day/{exchange}?date=day` answers at `as_of`
        (`schemas.EOD_BULK`)."""
        rows = list(self.bulk_rows(exchange, day, as_of))
        return pl.DataFrame(
            [
                {
                    "code": code,
                    "exchange": exchange,
                    "date": day,
                    "open": path.open[i],
                    "high": path.high[i],
                    "low": path.low[i],
                    "close": path.close[i],
                    "adjusted_close": adj,
                    "volume": path.volume[i],
                }
                for code, path, i, adj in rows
            ],
            schema=_schemas().EOD_BULK,
        )

    def bulk_rows(
        self, exchange: str, day: date, as_of: datetime | None, codes: list[str] | None = None
    ) -> list[tuple[str, SymbolPath, int, float]]:
        """(code, path, row index, adjusted_close) of each symbol with a bar on `day`."""
        avail = self._known_through(exchange, as_of)
        if avail is None or day > avail:
            return []
        syms = (
            self.symbols(exchange)
            if codes is None
            else [s for c in codes if (s := self.symbol(exchange, c)) is not None]
        )
        out = []
        for sym in syms:
            if not sym.listed_on <= day or (sym.delisted_on and sym.delisted_on < day):
                continue
            path = self.path(exchange, sym.code, avail)
            i = path.index_of(day)
            if i is None:
                continue
            out.append((sym.code, path, i, path.adjusted(path.known_actions(avail))[i]))
        return out

    def splits(self, exchange: str, code: str, as_of: datetime | None = None) -> list[Split]:
        """Published splits of a ticker at `as_of` (ex-date on or before the newest
        available trading day)."""
        avail = self._known_through(exchange, as_of)
        if avail is None:
            return []
        return [s for s in self.path(exchange, code, avail).splits if s.date <= avail]

    def dividends(self, exchange: str, code: str, as_of: datetime | None = None) -> list[Dividend]:
        """Published dividends of a ticker at `as_of`."""
        avail = self._known_through(exchange, as_of)
        if avail is None:
            return []
        return [d for d in self.path(exchange, code, avail).dividends if d.date <= avail]

    def split_adjusted_dividend(self, path: SymbolPath, div: Dividend, through: date) -> float:
        """EODHD's `value`: the dividend adjusted for later known splits (`unadjustedValue`
        is the raw amount)."""
        return split_adjusted_value(div, path.splits, through)

    def splits_frame(self, exchange: str, code: str, as_of: datetime | None = None) -> pl.DataFrame:
        """`splits()` in the shape of `schemas.SPLITS`."""
        rows = [
            {
                "code": code,
                "date": s.date,
                "split": s.text,
                "numerator": s.numerator,
                "denominator": s.denominator,
            }
            for s in self.splits(exchange, code, as_of)
        ]
        return pl.DataFrame(rows, schema=_schemas().SPLITS)

    def dividends_frame(
        self, exchange: str, code: str, as_of: datetime | None = None
    ) -> pl.DataFrame:
        """`dividends()` in the shape of `schemas.DIVIDENDS` (value split-adjusted)."""
        avail = self._known_through(exchange, as_of)
        rows = []
        if avail is not None:
            path = self.path(exchange, code, avail)
            for d in self.dividends(exchange, code, as_of):
                rows.append(
                    {
                        "code": code,
                        "date": d.date,
                        "value": self.split_adjusted_dividend(path, d, avail),
                        "unadjusted_value": d.value,
                        "currency": d.currency,
                        "declaration_date": d.declaration_date,
                        "record_date": d.record_date,
                        "payment_date": d.payment_date,
                        "period": d.period,
                    }
                )
        return pl.DataFrame(rows, schema=_schemas().DIVIDENDS)
