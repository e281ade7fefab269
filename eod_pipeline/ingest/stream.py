"""Fetch a plan's requests concurrently and stream checked rows out in batches.

Why threads: Dagster hands the asset's return value to the I/O manager in the step's
thread, and the I/O manager's COPY is synchronous. Three stages overlap:
- fetch: the asyncio client, in a thread, feeds a bounded queue of answers;
- check: a thread gathers answers into batches and checks each batch (row_checks);
- write: the step thread takes checked batches and COPYs them, nothing else, so the
  server (the slowest stage) is never kept waiting.
Bounded queues between them keep memory at a few batches whatever the exchange's size.

Per-request failures that concern one ticker or day (not found, retries exhausted,
malformed answer) are recorded and the rest go on; failures that concern the whole job
(quota exhausted, bad token) stop it promptly. A stop keeps everything written so far, and
the fetch log knows it, so the next run resumes. The stream itself never touches the
warehouse: each batch it yields carries its rows, its rejects and its fetch-log entries,
which the table writer commits in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from eod_pipeline.config import DEFAULT_BATCH_ROWS
from eod_pipeline.eodhd.client import EodhdClient
from eod_pipeline.eodhd.errors import AuthenticationError, EodhdError, QuotaExhaustedError
from eod_pipeline.eodhd.settings import EodhdSettings
from eod_pipeline.ingest import coverage
from eod_pipeline.ingest.plan import FetchPlan, Strategy
from eod_pipeline.ingest.row_checks import check_prices
from eod_pipeline.warehouse.batches import LoggedBatch
from eod_pipeline.warehouse.tables import FETCH_LOG, PRICE_REJECTS, PRICES

log = logging.getLogger(__name__)

#: Answers waiting to be written; with ~2,500-row histories this bounds memory to a few
#: batches while the writer is busy.
QUEUE_ANSWERS = 256
#: Checked batches ready for the writer while it writes one: enough to never leave the
#: server waiting, few enough that memory stays a few batches.
CHECKED_BATCHES = 2
#: Seconds between progress lines in the run's log.
PROGRESS_EVERY_S = 10.0
#: Errors that end the job rather than one ticker: nothing after them can succeed.
FATAL = (QuotaExhaustedError, AuthenticationError)

_DONE = object()
#: Column tagging each row with the request (index in its batch) that fetched it.
_REQUEST = "_request"


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

    def __init__(self, settings: EodhdSettings, plan: FetchPlan, run_id: str,
                 logger: logging.Logger | Any = log,
                 max_failed_share: float = 0.02, batch_rows: int = DEFAULT_BATCH_ROWS,
                 dataset: str = "prices",
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.settings = settings
        self.plan = plan
        self.run_id = run_id
        self.logger = logger
        self.max_failed_share = max_failed_share
        self.batch_rows = batch_rows
        #: The fetch-log dataset the written requests are recorded under.
        self.dataset = dataset
        #: When "now" is, for the fetch log's fetched_at (the pipeline's clock).
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.stats = FetchStats(total=plan.requests)
        self.usage: dict[str, Any] = {}
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_ANSWERS)
        #: Checked batches waiting for the writer: one being written, one ready.
        self._checked: queue.Queue[Any] = queue.Queue(maxsize=CHECKED_BATCHES)
        #: Set when fetching and checking must end (the writer left, or a stage failed).
        self._stop = threading.Event()
        #: Set when the step thread no longer reads checked batches.
        self._reader_gone = threading.Event()
        self._error: BaseException | None = None
        #: Each ticker's requested span, for the fetch log.
        self._spans = {t.symbol: t for t in plan.tickers}

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

    def _put(self, item: Any, into: queue.Queue[Any] | None = None,
             until: threading.Event | None = None) -> None:
        """Put, waiting for room, unless `until` (default: the stop) is set first."""
        target = self._queue if into is None else into
        give_up = self._stop if until is None else until
        while not give_up.is_set():
            try:
                target.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    async def _produce(self) -> None:
        requests = iter(self._requests())
        async with EodhdClient(self.settings) as client:

            async def worker() -> None:
                # Workers share one iterator: a fixed number of coroutines, whatever the
                # number of requests, so memory does not grow with the exchange.
                for key, call in requests:
                    if self._stop.is_set():
                        return
                    try:
                        frame = await call(client)
                    except FATAL:
                        raise
                    except EodhdError as exc:
                        await asyncio.to_thread(self._put, ("fail", key, str(exc)))
                        continue
                    await asyncio.to_thread(self._put, ("ok", key, frame))

            try:
                async with asyncio.TaskGroup() as group:
                    # Enough workers to keep the client's in-flight bound busy while some
                    # are handing answers over, no more.
                    for _ in range(self.settings.max_in_flight * 2):
                        group.create_task(worker())
            finally:
                self.usage = client.usage.as_dict()

    def _run_producer(self) -> None:
        try:
            asyncio.run(self._produce())
        except BaseException as exc:  # handed to the consuming thread, re-raised there
            fatal = exc
            if isinstance(exc, BaseExceptionGroup):
                fatal = next(iter(exc.exceptions))
            self._fail(fatal)
        finally:
            self._put(_DONE)

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:  # the first failure is the cause; later ones follow from it
            self._error = exc

    # ------------------------------------------------------------ checker (thread)

    def _to_rows(self, request: int, key: str, frame: pl.DataFrame) -> pl.DataFrame:
        """An answer as eod.prices rows, tagged with its request's index in the batch."""
        p = self.plan
        symbol = pl.col("code") if p.strategy is Strategy.BULK else pl.lit(key)
        return frame.select(pl.lit(p.exchange).alias("exchange"), symbol.alias("symbol"),
                            *PRICES.column_names[2:],
                            pl.lit(request, dtype=pl.UInt32).alias(_REQUEST))

    def _check(self, answers: list[pl.DataFrame], keys: list[str]) -> LoggedBatch:
        """Check a batch of answers at once: the rows to store, the rows refused, and the
        fetch-log entries of the batch's requests, to be committed together."""
        checked = check_prices(pl.concat(answers), self.plan.start, self.plan.end)
        key = "symbol" if self.plan.strategy is Strategy.BULK else "date"
        spans = {
            request: (n, first, last)
            for request, n, first, last in checked.good.group_by(_REQUEST).agg(
                pl.col(key).n_unique(), pl.col("date").min().alias("first"),
                pl.col("date").max().alias("last")).iter_rows()
        }
        rejected: dict[int, int] = {}
        if _REQUEST in checked.rejects.columns:
            rejected = dict(checked.rejects.group_by(_REQUEST).len().iter_rows())
        self._count_rejects(checked.rejects)
        log_entries = []
        for i, name in enumerate(keys):
            n, first, last = spans.get(i, (0, None, None))
            start, end = self._span(name)
            symbol = None if self.plan.strategy is Strategy.BULK else name
            log_entries.append((symbol, start, end, n, rejected.get(i, 0), first, last))
        now = dt.datetime.now(dt.UTC)
        rejects = checked.rejects.select(
            "exchange", "symbol", "date", "reason", "raw",
            pl.lit(self.run_id).alias("run_id"),
            pl.lit(now, dtype=pl.Datetime("us", "UTC")).alias("rejected_at"),
        ).cast(dict(PRICE_REJECTS.polars_schema))
        log = coverage.log_frame(self.plan.exchange, self.dataset, self.run_id, log_entries,
                                 self.clock())
        return LoggedBatch(checked.good.drop(_REQUEST),
                           ((PRICE_REJECTS, rejects), (FETCH_LOG, log)))

    def _span(self, key: str) -> tuple[dt.date, dt.date]:
        """The days a request covered: its bulk day, or the ticker's planned span."""
        if self.plan.strategy is Strategy.BULK:
            day = dt.date.fromisoformat(key)
            return day, day
        span = self._spans[key]
        return span.start, span.end

    def _run_checker(self) -> None:
        """Gather answers into batches, check each batch, hand it to the writer.

        A thread of its own so the step thread does nothing but COPY: PostgreSQL's ingest
        is the slowest stage, and every moment the step thread spends checking is a moment
        the server waits for data.
        """
        answers: list[pl.DataFrame] = []
        keys: list[str] = []
        pending_rows = 0
        try:
            while True:
                item = self._queue.get()
                done = item is _DONE
                if not done:
                    status, key, payload = item
                    self.stats.done += 1
                    if status == "fail":
                        self.stats.failures[key] = payload
                    else:
                        answers.append(self._to_rows(len(keys), key, payload))
                        keys.append(key)
                        pending_rows += payload.height
                if keys and (done or pending_rows >= self.batch_rows):
                    self._put(self._check(answers, keys), into=self._checked)
                    answers, keys, pending_rows = [], [], 0
                if done or self._stop.is_set():
                    break
        except BaseException as exc:  # handed to the step thread, re-raised there
            self._fail(exc)
            self._stop.set()  # nothing more can be checked: stop fetching too
        finally:
            # The step thread must learn the end, even after a stop, unless it has left.
            self._put(_DONE, into=self._checked, until=self._reader_gone)

    # ------------------------------------------------------------ writer (step thread)

    def __iter__(self) -> Iterator[LoggedBatch]:
        producer = threading.Thread(target=self._run_producer, name="eodhd-fetch", daemon=True)
        checker = threading.Thread(target=self._run_checker, name="eod-check", daemon=True)
        producer.start()
        checker.start()
        last_progress = time.monotonic()
        try:
            while True:
                try:
                    item = self._checked.get(timeout=PROGRESS_EVERY_S)
                except queue.Empty:
                    item = None
                if item is _DONE:
                    break
                if item is not None:
                    # Rows, rejects and fetch-log entries: one transaction in the writer.
                    yield item
                    self.stats.rows += item.rows.height
                if time.monotonic() - last_progress >= PROGRESS_EVERY_S:
                    self._progress()
                    last_progress = time.monotonic()
        finally:
            self._reader_gone.set()
            self._stop.set()
            # Wake a checker waiting for answers the stopped producer will not send.
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(_DONE)
            checker.join(timeout=30)
            producer.join(timeout=30)
        self._progress()
        if self._error is not None:
            raise self._error

    def _count_rejects(self, rejects: pl.DataFrame) -> None:
        if rejects.is_empty():
            return
        self.stats.rejected += rejects.height
        for reason, n in rejects.group_by("reason").len().iter_rows():
            self.stats.reject_reasons[reason] = self.stats.reject_reasons.get(reason, 0) + n

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
