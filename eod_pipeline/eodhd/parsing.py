"""Turn EODHD answer bodies (JSON or CSV bytes) into frames of the shared schemas.

Design, and why:
- Speed: a 10-year history is ~2,500 rows / ~340 kB; the fetch loop must parse hundreds a
  second. `pl.read_json` on the raw bytes with an explicit schema does it in ~2.5 ms
  (json.loads + DataFrame construction takes ~4x that).
- Robustness: one bad row (text in a price, a null close) must not fail the whole answer.
  The fast read is strict about types, so on a type error we re-read every column as text
  and cast NON-strictly: an uncastable value becomes null, and the validation step
  downstream rejects that row with a reason. Only a body that is not JSON at all
  (truncated, HTML) raises `MalformedResponseError`, which the client retries.
- Shape: columns are renamed from the API's keys to our names, missing keys become null
  columns, unknown keys (the free plan's `warning`) are dropped, and every frame is cast to
  its schema in `schemas.py`, column order included.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import polars as pl

from eod_pipeline.eodhd import schemas
from eod_pipeline.eodhd.costs import next_reset
from eod_pipeline.eodhd.errors import MalformedResponseError
from eod_pipeline.eodhd.models import ExchangeDetails, UserInfo

#: The date format of every EODHD date field ("YYYY-MM-DD", no time zone).
DATE_FORMAT: Final[str] = "%Y-%m-%d"

#: The free plan's extra key (eodhd-api.md, Limits and errors); accepted and dropped.
WARNING_KEY: Final[str] = "warning"

#: The key as it appears in a JSON body: searching the bytes (~30 us for 300 kB) tells
#: whether the read needs the column at all.
_WARNING_NEEDLE: Final[bytes] = b'"warning"'

#: How much of an unparsable body an error message may quote (after redaction).
SNIPPET_CHARS: Final[int] = 120


@dataclass(frozen=True)
class TableSpec:
    """How one endpoint's rows map onto one schema.

    `fields` maps the API's JSON keys to our column names; `csv_fields` maps CSV header
    names (compared case-insensitively) where they differ from the JSON keys. `derive`
    fills columns computed from others (split ratio parts).
    """

    name: str
    schema: pl.Schema
    fields: Mapping[str, str]
    csv_fields: Mapping[str, str] = field(default_factory=dict)
    derive: Callable[[pl.DataFrame], pl.DataFrame] | None = None

    def read_schema(self, *, typed: bool, warning: bool) -> pl.Schema:
        """Schema for `pl.read_json`, keyed by the API's names.

        typed: numbers and dates as their target types (the strict fast read; polars
        turns an unparsable date text into null by itself); otherwise everything String
        (the tolerant re-read). `warning` adds the free plan's key so its rows can be
        recognised; only asked for when the body contains it (it costs ~20 % of a read).
        """
        cols: dict[str, pl.DataType] = {}
        for key, col in self.fields.items():
            dtype = self.schema[col]
            typed_ok = dtype in (pl.Float64, pl.Int64, pl.Date)
            cols[key] = dtype if typed and typed_ok else pl.String()
        if warning:
            cols.setdefault(WARNING_KEY, pl.String())
        return pl.Schema(cols)


def _split_parts(df: pl.DataFrame) -> pl.DataFrame:
    """`split` "4.000000/1.000000" -> numerator 4.0, denominator 1.0 (null if unparsable)."""
    parts = pl.col("split").str.split_exact("/", 1)
    return df.with_columns(
        parts.struct.field("field_0")
        .str.strip_chars()
        .cast(pl.Float64, strict=False)
        .alias("numerator"),
        parts.struct.field("field_1")
        .str.strip_chars()
        .cast(pl.Float64, strict=False)
        .alias("denominator"),
    )


_HISTORY_FIELDS: Final[dict[str, str]] = {
    "date": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adjusted_close": "adjusted_close",
    "volume": "volume",
}

EOD_HISTORY_SPEC: Final = TableSpec("eod", schemas.EOD_HISTORY, _HISTORY_FIELDS)

EOD_BULK_SPEC: Final = TableSpec(
    "eod-bulk-last-day",
    schemas.EOD_BULK,
    {"code": "code", "exchange_short_name": "exchange", **_HISTORY_FIELDS},
    csv_fields={"ex": "exchange", "exchange": "exchange"},
)

SPLITS_SPEC: Final = TableSpec(
    "splits",
    schemas.SPLITS,
    {"code": "code", "date": "date", "split": "split"},
    csv_fields={"stock splits": "split"},
    derive=_split_parts,
)

DIVIDENDS_SPEC: Final = TableSpec(
    "div",
    schemas.DIVIDENDS,
    {
        "code": "code",
        "date": "date",
        "value": "value",
        "unadjustedValue": "unadjusted_value",
        "currency": "currency",
        "declarationDate": "declaration_date",
        "recordDate": "record_date",
        "paymentDate": "payment_date",
        "period": "period",
    },
    csv_fields={"dividends": "value"},
)

#: Bulk dividends call the amount `dividend` where the per-ticker endpoint says `value`.
BULK_DIVIDENDS_SPEC: Final = TableSpec(
    "eod-bulk-last-day",
    schemas.DIVIDENDS,
    {**{k: v for k, v in DIVIDENDS_SPEC.fields.items() if k != "value"}, "dividend": "value"},
    csv_fields={"dividends": "value", "value": "value"},
)

EXCHANGES_SPEC: Final = TableSpec(
    "exchanges-list",
    schemas.EXCHANGES,
    {
        "Code": "code",
        "Name": "name",
        "OperatingMIC": "operating_mic",
        "Country": "country",
        "Currency": "currency",
        "CountryISO2": "country_iso2",
        "CountryISO3": "country_iso3",
    },
)

SYMBOLS_SPEC: Final = TableSpec(
    "exchange-symbol-list",
    schemas.SYMBOLS,
    {
        "Code": "code",
        "Name": "name",
        "Country": "country",
        "Exchange": "venue",
        "Currency": "currency",
        "Type": "type",
        "Isin": "isin",
    },
)

SYMBOL_CHANGES_SPEC: Final = TableSpec(
    "symbol-change-history",
    schemas.SYMBOL_CHANGES,
    {
        "exchange": "exchange",
        "old_symbol": "old_symbol",
        "new_symbol": "new_symbol",
        "effective": "date",
        "company_name": "company_name",
    },
)

HOLIDAYS_SPEC: Final = TableSpec(
    "exchange-details", schemas.HOLIDAYS, {"Date": "date", "Holiday": "holiday", "Type": "type"}
)


# --------------------------------------------------------------------------- bodies


def _snippet(body: bytes) -> str:
    """A short printable excerpt of a body for error messages (the client redacts it)."""
    return body[:SNIPPET_CHARS].decode("utf-8", errors="replace").replace("\n", " ")


def _first_byte(body: bytes) -> int | None:
    stripped = body.lstrip()
    return stripped[0] if stripped else None


def is_csv(body: bytes, content_type: str) -> bool:
    """CSV when the server says so, or when the body is neither a JSON list nor object."""
    first = _first_byte(body)
    if first in (ord("["), ord("{")):
        return False
    return "csv" in content_type.lower() or first is not None


def load_json(body: bytes) -> Any:
    """json.loads, with a parse failure turned into a retryable `MalformedResponseError`."""
    try:
        return json.loads(body)
    except ValueError:
        raise MalformedResponseError(
            f"unparsable JSON body ({len(body)} bytes): {_snippet(body)!r}"
        ) from None


def _as_text(value: Any) -> str | None:
    """One JSON value as the text a non-strict cast understands (None if it has none)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return None  # objects/arrays in a scalar field: uncastable, becomes null


def _records_frame(records: Iterable[Mapping[str, Any]], spec: TableSpec) -> pl.DataFrame:
    """Slow, total path: Python records -> all-String frame of the spec's source keys."""
    text_schema = spec.read_schema(typed=False, warning=True)
    keys = list(text_schema)
    columns: dict[str, list[str | None]] = {k: [] for k in keys}
    for rec in records:
        if not isinstance(rec, Mapping):
            raise MalformedResponseError(
                f"{spec.name}: expected a list of objects, got an item {type(rec).__name__}"
            )
        for k in keys:
            columns[k].append(_as_text(rec.get(k)))
    return pl.DataFrame(columns, schema=text_schema)


def _read_json_rows(body: bytes, spec: TableSpec) -> pl.DataFrame:
    """JSON list body -> frame keyed by API names (typed fast path, text fallback)."""
    first = _first_byte(body)
    if first == ord("{"):
        obj = load_json(body)
        if isinstance(obj, dict) and not obj:
            return pl.DataFrame(schema=spec.read_schema(typed=False, warning=False))
        raise MalformedResponseError(
            f"{spec.name}: expected a JSON list, got an object: {_snippet(body)!r}"
        )
    warning = _WARNING_NEEDLE in body
    for typed in (True, False):
        read_schema = spec.read_schema(typed=typed, warning=warning)
        try:
            return pl.read_json(io.BytesIO(body), schema=read_schema)
        except (pl.exceptions.PolarsError, ValueError, TypeError):
            continue
    # Neither polars read worked: either the body is not JSON (truncated: retry), or a
    # value polars cannot take as text (an object in a scalar field): go row by row.
    obj = load_json(body)
    if not isinstance(obj, list):
        raise MalformedResponseError(f"{spec.name}: expected a JSON list, got {type(obj).__name__}")
    return _records_frame(obj, spec)


def _read_csv_rows(body: bytes, spec: TableSpec) -> pl.DataFrame:
    """CSV body -> all-String frame keyed by API names (headers matched case-insensitively)."""
    try:
        raw = pl.read_csv(io.BytesIO(body), infer_schema=False, truncate_ragged_lines=True)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise MalformedResponseError(
            f"{spec.name}: unparsable CSV body: {type(exc).__name__}"
        ) from None
    by_lower = {k.lower(): k for k in spec.fields}
    target_to_key = {v: k for k, v in spec.fields.items()}
    renames: dict[str, str] = {}
    for col in raw.columns:
        low = col.strip().lower()
        if low in by_lower:
            renames[col] = by_lower[low]
        elif low in spec.csv_fields:
            key = target_to_key.get(spec.csv_fields[low])
            if key is not None and key not in renames.values():
                renames[col] = key
    if not renames:
        # An HTML error page or plain text answered with 200: not data, worth a retry.
        raise MalformedResponseError(
            f"{spec.name}: body is neither JSON nor CSV with known columns: {_snippet(body)!r}"
        )
    return raw.select([pl.col(src).alias(dst) for src, dst in renames.items()])


def _cast_expr(name: str, current: pl.DataType, target: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if target == pl.Date:
        if current == pl.Date:
            return col
        return col.cast(pl.String).str.strip_chars().str.to_date(DATE_FORMAT, strict=False)
    if target == pl.Int64 and current == pl.String:
        # "1234.0" and " 12 " are valid volumes; go through Float64 like the JSON reader.
        return col.str.strip_chars().cast(pl.Float64, strict=False).cast(pl.Int64, strict=False)
    if target in (pl.Float64, pl.Int64) and current == pl.String:
        return col.str.strip_chars().cast(target, strict=False)
    return col.cast(target, strict=False)


def finish(
    raw: pl.DataFrame, spec: TableSpec, constants: Mapping[str, Any] | None = None
) -> pl.DataFrame:
    """API-keyed frame -> the spec's schema: drop warning rows, rename, fill, cast, order."""
    if WARNING_KEY in raw.columns and WARNING_KEY not in spec.fields:
        data_keys = [k for k in spec.fields if k in raw.columns]
        if data_keys and raw[WARNING_KEY].null_count() < raw.height:
            # A row that only carries the free plan's warning is not a data row.
            only_warning = pl.col(WARNING_KEY).is_not_null() & pl.all_horizontal(
                pl.col(k).is_null() for k in data_keys
            )
            raw = raw.filter(~only_warning)
        raw = raw.drop(WARNING_KEY)
    raw = raw.rename({k: v for k, v in spec.fields.items() if k in raw.columns and k != v})
    constants = constants or {}
    # Only columns whose type differs are touched: on the typed fast path that is none,
    # so a clean history costs the JSON read and nothing more.
    changes: list[pl.Expr] = []
    for name, dtype in spec.schema.items():
        if name in constants:
            changes.append(pl.lit(constants[name], dtype=dtype).alias(name))
        elif name not in raw.columns:
            changes.append(pl.lit(None, dtype=dtype).alias(name))
        elif raw.schema[name] != dtype:
            changes.append(_cast_expr(name, raw.schema[name], dtype).alias(name))
    out = raw.with_columns(changes) if changes else raw
    if spec.derive is not None:
        out = spec.derive(out)
    out = out.select(spec.schema.names())
    if out.schema != spec.schema:
        out = out.cast(dict(spec.schema), strict=False)
    return out


def parse_table(
    body: bytes,
    spec: TableSpec,
    *,
    content_type: str = "",
    constants: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """A list answer (JSON or CSV) -> frame of `spec.schema`.

    Raises `MalformedResponseError` only when the body as a whole is unusable (empty,
    truncated, not a list); bad values in single rows become nulls.
    """
    if not body.strip():
        raise MalformedResponseError(f"{spec.name}: empty body")
    reader = _read_csv_rows if is_csv(body, content_type) else _read_json_rows
    raw = reader(body, spec)
    return finish(raw, spec, constants)


def parse_records(
    records: Iterable[Mapping[str, Any]],
    spec: TableSpec,
    constants: Mapping[str, Any] | None = None,
) -> pl.DataFrame:
    """Already-decoded JSON records -> frame of `spec.schema` (small nested lists)."""
    return finish(_records_frame(records, spec), spec, constants)


# --------------------------------------------------------------------------- objects


def _parse_time(value: Any) -> dt.time | None:
    """Parse "09:30:00" or "09:30"; anything else is None."""
    if not isinstance(value, str) or not value.strip():
        return None
    for fmt in ("%H:%M:%S", "%H:%M"):
        try:
            return dt.datetime.strptime(value.strip(), fmt).time()
        except ValueError:
            continue
    return None


def _holiday_records(value: Any) -> list[Mapping[str, Any]]:
    """`ExchangeHolidays` as documented both ways: a list, or a map keyed "0","1",..."""
    if value is None:
        return []
    if isinstance(value, Mapping):

        def order(key: str) -> tuple[int, str]:
            return (int(key), "") if key.isdigit() else (1 << 62, key)

        items = [value[k] for k in sorted(value, key=order)]
    elif isinstance(value, list):
        items = value
    else:
        raise MalformedResponseError(
            f"exchange-details: ExchangeHolidays is a {type(value).__name__}"
        )
    return [item for item in items if isinstance(item, Mapping)]


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def parse_exchange_details(body: bytes) -> ExchangeDetails:
    """`/exchange-details/{EXCH}` JSON object -> `ExchangeDetails`."""
    obj = load_json(body)
    if not isinstance(obj, Mapping):
        raise MalformedResponseError(
            f"exchange-details: expected a JSON object, got {type(obj).__name__}"
        )
    hours = obj.get("TradingHours") or {}
    if not isinstance(hours, Mapping):
        hours = {}
    working = hours.get("WorkingDays") or ""
    working_days = tuple(d.strip() for d in str(working).split(",") if d.strip())
    return ExchangeDetails(
        code=str(obj.get("Code") or ""),
        name=str(obj.get("Name") or ""),
        operating_mic=obj.get("OperatingMIC"),
        country=obj.get("Country"),
        currency=obj.get("Currency"),
        timezone=str(obj.get("Timezone") or ""),
        is_open=bool(obj.get("isOpen")) if obj.get("isOpen") is not None else None,
        open_local=_parse_time(hours.get("Open")),
        close_local=_parse_time(hours.get("Close")),
        open_utc=_parse_time(hours.get("OpenUTC")),
        close_utc=_parse_time(hours.get("CloseUTC")),
        working_days=working_days,
        holidays=parse_records(_holiday_records(obj.get("ExchangeHolidays")), HOLIDAYS_SPEC),
        early_close_days=parse_records(
            _holiday_records(obj.get("ExchangeEarlyCloseDays")), HOLIDAYS_SPEC
        ),
        active_tickers=_int_or_none(obj.get("ActiveTickers")),
    )


def parse_user(body: bytes, *, now: dt.datetime, zero_stale: bool) -> UserInfo:
    """`/user` JSON object -> `UserInfo`; `resets_at` is the next midnight GMT after `now`.

    `apiRequests` counts the calls of `apiRequestsDate`. A date later than `now` means the
    server's day is ahead of our clock: the server's day wins. A date earlier than `now`
    is ambiguous: the counter may be yesterday's (today's usage is then 0), or our idea of
    today may be off (a simulator with a frozen clock behind a real-time `Date` header).
    Only with `zero_stale` (an authoritative clock was given) is it taken as yesterday's;
    otherwise the server's count stands, which errs towards refusing a job rather than
    starting one that runs into 402.
    """
    obj = load_json(body)
    if not isinstance(obj, Mapping):
        raise MalformedResponseError(f"user: expected a JSON object, got {type(obj).__name__}")
    daily_limit = _int_or_none(obj.get("dailyRateLimit"))
    if daily_limit is None:
        raise MalformedResponseError("user: no dailyRateLimit in the answer")
    used = _int_or_none(obj.get("apiRequests")) or 0
    requests_date: dt.date | None = None
    raw_date = obj.get("apiRequestsDate")
    if isinstance(raw_date, str) and raw_date:
        try:
            requests_date = dt.date.fromisoformat(raw_date[:10])
        except ValueError:
            requests_date = None
    now = now.astimezone(dt.UTC)
    if requests_date is not None:
        if requests_date > now.date():
            now = dt.datetime.combine(requests_date, dt.time(0, 0), tzinfo=dt.UTC)
        elif requests_date < now.date() and zero_stale:
            used = 0
    resets_at = next_reset(now)
    extra = _int_or_none(obj.get("extraLimit")) or 0
    return UserInfo(
        name=str(obj.get("name") or ""),
        email=str(obj.get("email") or ""),
        subscription_type=str(obj.get("subscriptionType") or ""),
        requests_today=used,
        daily_limit=daily_limit,
        extra_limit=extra,
        remaining=max(0, daily_limit + extra - used),
        requests_date=requests_date,
        resets_at=resets_at,
    )
