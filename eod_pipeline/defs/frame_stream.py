"""A stream of polars frames an asset hands to the I/O manager, with a closing summary.

Why: to overlap fetching with writing and keep memory bounded, a price asset returns its
rows as an iterator of batches that the I/O manager COPYs while later API requests are
still in flight. Whatever the asset learns while the stream runs (tickers fetched and
failed, calls spent) is only known once the I/O manager has drained it, so the stream
carries a `finish` callback that returns that metadata (or raises, e.g. when too many
tickers failed for the partition to count as complete).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import polars as pl


class FrameStream(Iterable[pl.DataFrame]):
    def __init__(
        self,
        batches: Iterable[pl.DataFrame],
        finish: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._batches = batches
        self._finish = finish

    def __iter__(self) -> Iterator[pl.DataFrame]:
        return iter(self._batches)

    def finish(self) -> dict[str, Any]:
        """Metadata for the materialization; may raise to fail the step after the write."""
        return self._finish() if self._finish else {}
