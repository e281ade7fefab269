"""Fetch a plan's requests concurrently and stream checked rows out in batches.

Why a thread: Dagster hands the asset's return value to the I/O manager in the step's
thread, and the I/O manager's COPY is synchronous. The asyncio client runs in a worker
thread and feeds a bounded queue; the step thread drains it, so API requests stay in
flight while a batch is being written, and memory holds at most the queue plus one batch,
whatever the exchange's size.

Per-request failures that concern one ticker or day (not found, retries exhausted,
malformed answer) are recorded and the rest go on; failures that concern the whole job
(quota exhausted, bad token) stop it promptly. A stop keeps everything written so far, and
the fetch log knows it, so the next run resumes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import psycopg

from eod_pipeline.config import DEFAULT_BATCH_ROWS
from eod_pipeline.eodhd.client import EodhdClient
from eod_pipeline.eodhd.errors import AuthenticationError, EodhdError, QuotaExhaustedError
from eod_pipeline.eodhd.settings import EodhdSettings
from eod_pipeline.ingest import coverage
from eod_pipeline.ingest.plan import FetchPlan, Strategy
from eod_pipeline.ingest.row_checks import check_prices
from eod_pipeline.warehouse.tables import PRICES

log = logging.getLogger(__name__)

#: Answers waiting to be written; with ~2,500-row histories this bounds memory to a few
#: batches while the writer is busy.
QUEUE_ANSWERS = 256
#: Seconds between progress lines in the run's log.
PROGRESS_EVERY_S = 10.0
#: Errors that end the job rather than one ticker: nothing after them can succeed.
FATAL = (QuotaExhaustedError, AuthenticationError)

_DONE = object()


@dataclass
class FetchStats:
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    total: int = 0
    rows: int = 0
    rejected: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    reject_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class PriceStream:
    """Iterate to fetch; `summary()` afterwards for the materialization's metadata."""

    def __init__(self, settings: EodhdSettings, plan: FetchPlan, database_url: str,
                 run_id: str, logger: logging.Logger | Any = log,
                 max_failed_share: float = 0.02, batch_rows: int = DEFAULT_BATCH_ROWS,
                 dataset: str = "prices") -> None:
        self.settings = settings
        self.plan = plan
        self.database_url = database_url
        self.run_id = run_id
        self.logger = logger
        self.max_failed_share = max_failed_share
        self.batch_rows = batch_rows
        #: The fetch-log dataset the written requests are recorded under.
        self.dataset = dataset
        self.stats = FetchStats(total=plan.requests)
        self.usage: dict[str, Any] = {}
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_ANSWERS)
        self._stop = threading.Event()
        self._error: BaseException | None = None

    # ------------------------------------------------------------ producer (thread)

    def _requests(self) -> list[tuple[str, Callable[[EodhdClient], Any]]]:
        p = self.plan
        if p.strategy is Strategy.BULK:
            return [(d.isoformat(), lambda c, d=d: c.bulk_eod(p.exchange, d))
                    for d in p.bulk_days]
        if p.strategy is Strategy.TICKER:
            return [(t.symbol, lambda c, t=t: c.eod_history(p.exchange, t.symbol, t.start, t.end))
                    for t in p.tickers]
        return []

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    async def _produce(self) -> None:
        requests = self._requests()
        async with EodhdClient(self.settings) as client:
            # Enough tasks waiting to keep the client's in-flight bound busy, no more.
            gate = asyncio.Semaphore(self.settings.max_in_flight * 2)

            async def one(key: str, call: Callable[[EodhdClient], Any]) -> None:
                async with gate:
                    if self._stop.is_set():
                        return
                    try:
                        frame = await call(client)
                    except FATAL:
                        raise
                    except EodhdError as exc:
                        await asyncio.to_thread(self._put, ("fail", key, str(exc)))
                        return
                    await asyncio.to_thread(self._put, ("ok", key, frame))

            try:
                async with asyncio.TaskGroup() as group:
                    for key, call in requests:
                        group.create_task(one(key, call))
            finally:
                self.usage = client.usage.as_dict()

    def _run_producer(self) -> None:
        try:
            asyncio.run(self._produce())
        except BaseException as exc:  # handed to the consuming thread, re-raised there
            fatal = exc
            if isinstance(exc, BaseExceptionGroup):
                fatal = next(iter(exc.exceptions))
            self._error = fatal
        finally:
            self._put(_DONE)

    # ------------------------------------------------------------ consumer (step thread)

    def _to_rows(self, key: str, frame: pl.DataFrame) -> pl.DataFrame:
        p = self.plan
        if p.strategy is Strategy.BULK:
            rows = frame.select(pl.lit(p.exchange).alias("exchange"),
                                pl.col("code").alias("symbol"), *PRICES.column_names[2:])
        else:
            rows = frame.select(pl.lit(p.exchange).alias("exchange"),
                                pl.lit(key).alias("symbol"), *PRICES.column_names[2:])
        return rows

    def __iter__(self) -> Iterator[pl.DataFrame]:
        producer = threading.Thread(target=self._run_producer, name="eodhd-fetch", daemon=True)
        producer.start()
        pending: list[pl.DataFrame] = []
        pending_rows = 0
        pending_log: list[tuple[str, pl.DataFrame]] = []
        last_progress = time.monotonic()
        try:
            with psycopg.connect(self.database_url) as conn:
                while True:
                    item = self._queue.get()
                    if item is _DONE:
                        break
                    status, key, payload = item
                    self.stats.done += 1
                    if status == "fail":
                        self.stats.failures[key] = payload
                    else:
                        rows = self._to_rows(key, payload)
                        checked = check_prices(rows, self.plan.start, self.plan.end)
                        self._store_rejects(conn, checked.rejects)
                        pending.append(checked.good)
                        pending_rows += checked.good.height
                        pending_log.append((key, checked.good))
                    if pending_rows >= self.batch_rows:
                        yield pl.concat(pending)
                        self.stats.rows += pending_rows
                        self._record(conn, pending_log)  # the batch is committed now
                        pending, pending_rows, pending_log = [], 0, []
                    if time.monotonic() - last_progress >= PROGRESS_EVERY_S:
                        self._progress()
                        last_progress = time.monotonic()
                if pending:
                    yield pl.concat(pending)
                    self.stats.rows += pending_rows
                self._record(conn, pending_log)
        finally:
            self._stop.set()
            producer.join(timeout=30)
        self._progress()
        if self._error is not None:
            raise self._error

    def _record(self, conn: psycopg.Connection, written: list[tuple[str, pl.DataFrame]]
                ) -> None:
        p = self.plan
        if not written:
            return
        if p.strategy is Strategy.BULK:
            coverage.record_bulk_days(conn, p.exchange, self.dataset, self.run_id,
                                      [(dt.date.fromisoformat(k), f.height) for k, f in written])
            return
        spans = {t.symbol: t for t in p.tickers}
        entries = []
        for symbol, frame in written:
            first = frame["date"].min() if frame.height else None
            last = frame["date"].max() if frame.height else None
            span = spans[symbol]
            entries.append((symbol, span.start, span.end, frame.height, first, last))
        coverage.record_tickers(conn, p.exchange, self.dataset, self.run_id, entries)

    def _store_rejects(self, conn: psycopg.Connection, rejects: pl.DataFrame) -> None:
        if rejects.is_empty():
            return
        self.stats.rejected += rejects.height
        for reason, n in rejects.group_by("reason").len().iter_rows():
            self.stats.reject_reasons[reason] = self.stats.reject_reasons.get(reason, 0) + n
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO eod.price_rejects (exchange, symbol, date, reason, raw, run_id, "
                "rejected_at) VALUES (%s, %s, %s, %s, %s, %s, now())",
                [(*r, self.run_id) for r in rejects.iter_rows()],
            )
        conn.commit()

    def _progress(self) -> None:
        s = self.stats
        rate = s.rows / s.elapsed if s.elapsed > 0 else 0.0
        per_request = s.elapsed / s.done if s.done else 0.0
        left = per_request * (s.total - s.done)
        self.logger.info(
            f"{self.plan.exchange} {self.plan.strategy.value}: {s.done}/{s.total} requests, "
            f"{s.rows:,} rows ({rate:,.0f} rows/s), {len(s.failures)} failed, "
            f"{s.rejected} rows rejected, ~{left:,.0f} s left"
        )

    def summary(self) -> dict[str, Any]:
        """Metadata of the fetch. Raises when too many requests failed to call it complete."""
        s = self.stats
        failed_share = len(s.failures) / s.total if s.total else 0.0
        shown = dict(list(sorted(s.failures.items()))[:20])
        md: dict[str, Any] = {
            **self.plan.as_metadata(),
            "calls_spent": int(self.usage.get("calls_spent", 0)),
            "requests": int(self.usage.get("requests", 0)),
            "retries": int(self.usage.get("retries", 0)),
            "http_429": int(self.usage.get("http_429", 0)),
            "fetched": s.done - len(s.failures),
            "failed": len(s.failures),
            "failed_share": round(failed_share, 4),
            "failures": shown,
            "rows_fetched": s.rows,
            "rows_rejected": s.rejected,
            "reject_reasons": dict(s.reject_reasons),
            "fetch_seconds": round(s.elapsed, 2),
            "fetch_rows_per_s": round(s.rows / s.elapsed, 1) if s.elapsed else 0.0,
        }
        if failed_share > self.max_failed_share:
            raise TooManyFailuresError(
                f"{len(s.failures)} of {s.total} requests failed ({failed_share:.1%} > "
                f"{self.max_failed_share:.1%} allowed by EOD_MAX_FAILED_SHARE); the rows "
                f"fetched are stored and a re-run fetches only what is missing. First "
                f"failures: {shown}",
                md,
            )
        return md


class TooManyFailuresError(RuntimeError):
    def __init__(self, message: str, metadata: dict[str, Any]) -> None:
        super().__init__(message)
        self.metadata = metadata
