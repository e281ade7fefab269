"""Pure unit tests: settings, redaction, costs, the limiter's arithmetic, body parsing.

No network here; everything that needs an answer from a server is in the integration
tests against the simulator.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.eodhd import (
    EodhdClient,
    EodhdSettings,
    SettingsError,
    next_reset,
    request_cost,
    schemas,
)
from eod_pipeline.eodhd import parsing as P
from eod_pipeline.eodhd.errors import MalformedResponseError
from eod_pipeline.eodhd.pacing import Pacer, SlidingWindowLimiter
from eod_pipeline.eodhd.redaction import Redactor, TokenRedactingFilter, safe_url

SECRET = "s3cr3t-T0ken.value"

# ----------------------------------------------------------------------------- settings


def test_settings_repr_masks_token() -> None:
    s = EodhdSettings(token=SECRET)
    for text in (repr(s), str(s), repr(EodhdClient(s)), str(EodhdClient(s))):
        assert SECRET not in text
        assert "token='***'" in text


def test_settings_defaults_are_documented_values() -> None:
    s = EodhdSettings(token="x")
    assert s.base_url == "https://eodhd.com/api"
    assert s.requests_per_minute < 1000  # documented 1,000/min minus headroom


def test_from_env_requires_token_and_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="EODHD_API_TOKEN"):
        EodhdSettings.from_env({})
    with pytest.raises(SettingsError, match="EODHD_API_TOKEN"):
        EodhdSettings.from_env({"EODHD_API_TOKEN": "  "})


def test_from_env_reads_variables() -> None:
    s = EodhdSettings.from_env(
        {
            "EODHD_API_TOKEN": SECRET,
            "EODHD_BASE_URL": "http://127.0.0.1:1/api/",
            "EODHD_REQUESTS_PER_MINUTE": "300",
        }
    )
    assert s.token == SECRET
    assert s.base_url == "http://127.0.0.1:1/api"
    assert s.requests_per_minute == 300
    with pytest.raises(SettingsError, match="EODHD_REQUESTS_PER_MINUTE"):
        EodhdSettings.from_env({"EODHD_API_TOKEN": "t", "EODHD_REQUESTS_PER_MINUTE": "lots"})


# ----------------------------------------------------------------------------- redaction


def test_redactor_replaces_token_and_any_api_token_value() -> None:
    r = Redactor([SECRET])
    text = (
        f"bad request URL: http://h/api/eod/X.US?fmt=json&api_token={SECRET} "
        f"echo {SECRET} other api_token=abcdef&x=1 encoded api_token%3D{SECRET}"
    )
    out = r.redact(text)
    assert SECRET not in out
    assert "abcdef" not in out
    assert "api_token=***&x=1" in out


def test_redactor_handles_percent_encoded_token() -> None:
    token = "a+b/c=d"
    r = Redactor([token])
    assert "a%2Bb%2Fc%3Dd" not in r.redact("url ...?x=a%2Bb%2Fc%3Dd")


def test_safe_url_drops_query() -> None:
    assert safe_url(f"http://h:1/api/eod/M%26G.LSE?api_token={SECRET}&fmt=json") == (
        "http://h:1/api/eod/M%26G.LSE"
    )


def test_logging_filter_scrubs_api_token(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("eod_pipeline_tests.redaction")
    log.addFilter(TokenRedactingFilter())
    with caplog.at_level(logging.DEBUG, logger=log.name):
        log.warning("GET %s", f"http://h/api/user?api_token={SECRET}")
    assert SECRET not in caplog.text
    assert "api_token=***" in caplog.text


# ----------------------------------------------------------------------------- costs


def test_costs_follow_the_documented_table() -> None:
    assert request_cost("eod", 200) == 1
    assert request_cost("exchange-details", 200) == 1
    assert request_cost("eod-bulk-last-day", 200) == 100
    assert request_cost("eod-bulk-last-day", 200, n_symbols=7) == 107
    assert request_cost("user", 200) == 0
    assert request_cost("eod", 404) == 1  # a 404 still costs a call
    assert request_cost("eod", 429) == 0
    assert request_cost("eod", 402) == 0


def test_next_reset_is_next_midnight_gmt() -> None:
    now = dt.datetime(2026, 11, 20, 23, 59, tzinfo=dt.UTC)
    assert next_reset(now) == dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    ny = dt.timezone(dt.timedelta(hours=-5))
    assert next_reset(dt.datetime(2026, 11, 20, 20, 0, tzinfo=ny)) == dt.datetime(
        2026, 11, 22, tzinfo=dt.UTC
    )


# ----------------------------------------------------------------------------- limiter


def _max_in_window(times: list[float], window: float) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.mark.parametrize("rpm", [60, 360, 900, 1000, 6000])
def test_limiter_never_exceeds_limit_in_any_sliding_window(rpm: int) -> None:
    """Simulated time: callers always waiting (saturation), with pauses and late wake-ups.

    The guarantee is in the arithmetic (GCRA with the burst and +1 inside the budget), so
    it is checked over ten simulated minutes rather than waited for.
    """
    lim = SlidingWindowLimiter(rpm, 60.0)
    now = 0.0
    releases: list[float] = []
    late = [0.0, 0.003, 0.0, 0.2, 0.0, 0.0, 1.5]  # event-loop lateness pattern
    k = 0
    while now < 600.0:
        slot = lim.reserve(now)
        now = max(now, slot) + late[k % len(late)]
        k += 1
        releases.append(slot)
        if k % 97 == 0:  # a 429 or low X-RateLimit-Remaining now and then
            lim.pause_until(now + 2.0)
    assert _max_in_window(releases, 60.0) <= rpm
    # ... and it uses the budget: at least 95 % of the nominal rate.
    assert lim.effective_per_minute >= 0.95 * rpm or rpm < 100


def test_limiter_keeps_the_bound_when_the_limit_drops_mid_run() -> None:
    """The server says its limit is lower than ours after we already sent at our rate."""
    lim = SlidingWindowLimiter(6000, 60.0)
    now, releases = 0.0, []
    for _ in range(3000):  # ~30 s at ~6,000/min
        now = lim.reserve(now)
        releases.append(now)
    change = len(releases)
    lim.set_limit(1000)
    for _ in range(3000):
        now = lim.reserve(now)
        releases.append(now)
    # Every window that ends at a release made after the change holds <= 1,000.
    j = 0
    for i, t in enumerate(releases):
        while releases[j] <= t - 60.0:
            j += 1
        if i >= change:
            assert i - j + 1 <= 1000


def test_limiter_has_no_start_up_burst() -> None:
    lim = SlidingWindowLimiter(6000, 60.0)
    slots = [lim.reserve(0.0) for _ in range(5)]
    assert slots[0] == 0.0
    assert all(b - a == pytest.approx(lim.interval_s) for a, b in itertools.pairwise(slots))


def test_limiter_pause_holds_releases() -> None:
    lim = SlidingWindowLimiter(600, 60.0)
    lim.pause_until(10.0)
    assert lim.reserve(1.0) == 10.0


def test_pacer_lowers_limit_to_server_and_pauses_on_low_remaining() -> None:
    t = [100.0]
    pacer = Pacer(6000, 8, clock=lambda: t[0])
    assert pacer.observe(limit=1000, remaining=500) is None
    assert pacer.limiter.limit == 1000
    pause = pacer.observe(limit=1000, remaining=0)
    assert pause is not None and pause > 0
    assert pacer.limiter.paused_until == pytest.approx(100.0 + pause)


# ----------------------------------------------------------------------------- parsing

HISTORY_JSON = (
    b'[{"date":"2020-01-02","open":1.5,"high":2,"low":1,"close":1.25,"adjusted_close":1.2,'
    b'"volume":100},'
    b'{"date":"2020-01-03","open":1.5,"high":2,"low":1,"close":"n/a","adjusted_close":null,'
    b'"volume":100.0},'
    b'{"date":"2020-01-06","open":null,"high":2,"low":1,"close":1.0,"adjusted_close":1.0,'
    b'"volume":"7"}]'
)


def test_history_with_malformed_rows_parses_with_nulls() -> None:
    df = P.parse_table(HISTORY_JSON, P.EOD_HISTORY_SPEC)
    assert df.schema == schemas.EOD_HISTORY
    assert df.height == 3
    assert df["close"].to_list() == [1.25, None, 1.0]
    assert df["open"].to_list() == [1.5, 1.5, None]
    assert df["volume"].to_list() == [100, 100, 7]


def test_history_clean_fast_path_keeps_exact_values() -> None:
    body = b'[{"date":"2020-01-02","open":0.1,"high":123456.7891,"low":1e-4,"close":3,"adjusted_close":2.5,"volume":9007199254740993}]'  # noqa: E501
    df = P.parse_table(body, P.EOD_HISTORY_SPEC)
    assert df.row(0) == (dt.date(2020, 1, 2), 0.1, 123456.7891, 1e-4, 3.0, 2.5, 9007199254740993)


def test_free_plan_warning_key_and_row_dropped() -> None:
    body = (
        b'[{"date":"2020-01-02","open":1,"high":1,"low":1,"close":1,"adjusted_close":1,'
        b'"volume":1,"warning":"Data is limited by one year"},'
        b'{"warning":"Data is limited by one year as you have free subscription"}]'
    )
    df = P.parse_table(body, P.EOD_HISTORY_SPEC)
    assert df.schema == schemas.EOD_HISTORY
    assert df.height == 1


@pytest.mark.parametrize(
    "body",
    [
        b'[{"date":"2020-01-02","open":1',  # truncated
        b"",
        b"<html><body>502 Bad Gateway</body></html>",
        b'{"message":"bad request URL"}',
        b"[1,2,3]",
    ],
)
def test_unusable_bodies_raise_malformed(body: bytes) -> None:
    with pytest.raises(MalformedResponseError):
        P.parse_table(body, P.EOD_HISTORY_SPEC)


def test_empty_answers_give_empty_frames_with_schema() -> None:
    for body in (b"[]", b"{}", b" [ ] "):
        df = P.parse_table(body, P.EOD_HISTORY_SPEC)
        assert df.height == 0 and df.schema == schemas.EOD_HISTORY


def test_history_csv_matches_json() -> None:
    csv = (
        b"Date,Open,High,Low,Close,Adjusted_close,Volume\n"
        b"2020-01-02,1.5,2,1,1.25,1.2,100\n2020-01-03,1.5,2,1,n/a,,100\n"
    )
    df = P.parse_table(csv, P.EOD_HISTORY_SPEC, content_type="text/csv")
    assert df.schema == schemas.EOD_HISTORY
    assert df["close"].to_list() == [1.25, None]
    assert df["adjusted_close"].to_list() == [1.2, None]


def test_bulk_csv_header() -> None:
    csv = (
        b"Code,Ex,Date,Open,High,Low,Close,Adjusted_close,Volume\n"
        b"M&G,LSE,2020-01-02,1,2,0.5,1.5,1.5,10\n"
    )
    df = P.parse_table(csv, P.EOD_BULK_SPEC, content_type="text/csv")
    assert df.schema == schemas.EOD_BULK
    assert df.row(0)[:3] == ("M&G", "LSE", dt.date(2020, 1, 2))


def test_bulk_dividends_empty_dates_become_null_and_text_amounts_parse() -> None:
    body = (
        b'[{"code":"A","exchange":"US","date":"2026-11-20","dividend":"0.22000",'
        b'"currency":"USD","declarationDate":"","recordDate":"2026-11-23","paymentDate":"",'
        b'"period":"Quarterly","unadjustedValue":"0.2200000000"}]'
    )
    df = P.parse_table(body, P.BULK_DIVIDENDS_SPEC)
    assert df.schema == schemas.DIVIDENDS
    row = df.row(0, named=True)
    assert row["value"] == 0.22 and row["unadjusted_value"] == 0.22
    assert row["declaration_date"] is None and row["payment_date"] is None
    assert row["record_date"] == dt.date(2026, 11, 23)


def test_splits_ratio_parts() -> None:
    body = (
        b'[{"date":"2020-01-02","split":"4.000000/1.000000"},{"date":"2021-01-04","split":"bad"}]'
    )
    df = P.parse_table(body, P.SPLITS_SPEC, constants={"code": "AAPL"})
    assert df.schema == schemas.SPLITS
    assert df.rows() == [
        ("AAPL", dt.date(2020, 1, 2), "4.000000/1.000000", 4.0, 1.0),
        ("AAPL", dt.date(2021, 1, 4), "bad", None, None),
    ]


def test_objects_in_scalar_fields_do_not_crash() -> None:
    body = b'[{"date":"2020-01-02","open":{"a":1},"high":[1],"low":1,"close":1,"adjusted_close":1,"volume":1}]'  # noqa: E501
    df = P.parse_table(body, P.EOD_HISTORY_SPEC)
    assert df.row(0)[1:3] == (None, None)


def test_holidays_list_and_map_forms_parse_alike() -> None:
    items = [
        {"Holiday": "Christmas Day", "Date": "2026-12-25", "Type": "official"},
        {"Holiday": "Boxing Day", "Date": "2026-12-28", "Type": "official"},
    ]
    as_list = P.parse_records(P._holiday_records(items), P.HOLIDAYS_SPEC)
    as_map = P.parse_records(
        P._holiday_records({str(i): h for i, h in enumerate(items)}), P.HOLIDAYS_SPEC
    )
    assert as_list.schema == schemas.HOLIDAYS
    assert_frame_equal(as_list, as_map)
    # Map keys sort numerically, not as text ("10" after "9").
    many = {
        str(i): {"Holiday": f"h{i}", "Date": f"2026-01-{i + 1:02d}", "Type": "x"} for i in range(12)
    }
    frame = P.parse_records(P._holiday_records(many), P.HOLIDAYS_SPEC)
    assert frame["holiday"].to_list() == [f"h{i}" for i in range(12)]


def test_user_parse_and_stale_counter() -> None:
    body = (
        b'{"name":"n","email":"e@x","subscriptionType":"commercial","apiRequests":1234,'
        b'"apiRequestsDate":"2026-11-20","dailyRateLimit":100000,"extraLimit":0}'
    )
    same_day = dt.datetime(2026, 11, 20, 23, 0, tzinfo=dt.UTC)
    info = P.parse_user(body, now=same_day, zero_stale=True)
    assert (info.requests_today, info.daily_limit, info.remaining) == (1234, 100000, 98766)
    assert info.resets_at == dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    assert "e@x" not in repr(info)
    next_day = dt.datetime(2026, 11, 21, 1, 0, tzinfo=dt.UTC)
    # With an authoritative clock, yesterday's counter means nothing was used today ...
    stale = P.parse_user(body, now=next_day, zero_stale=True)
    assert stale.requests_today == 0 and stale.remaining == 100000
    # ... without one, the server's count stands (the safe error).
    kept = P.parse_user(body, now=next_day, zero_stale=False)
    assert kept.requests_today == 1234
    # A server day ahead of our clock wins for the reset time.
    behind = P.parse_user(body, now=dt.datetime(2026, 11, 19, tzinfo=dt.UTC), zero_stale=True)
    assert behind.resets_at == dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def test_symbols_constants_and_null_isin() -> None:
    body = (
        b'[{"Code":"O\'REILLY","Name":"O\'Reilly","Country":"USA","Exchange":"NASDAQ",'
        b'"Currency":"USD","Type":"Common Stock","Isin":null}]'
    )
    df = P.parse_table(body, P.SYMBOLS_SPEC, constants={"delisted": True})
    assert df.schema == schemas.SYMBOLS
    assert df.row(0, named=True) | {} == {
        "code": "O'REILLY",
        "name": "O'Reilly",
        "country": "USA",
        "venue": "NASDAQ",
        "currency": "USD",
        "type": "Common Stock",
        "isin": None,
        "delisted": True,
    }


def test_a_ten_year_history_parses_every_row_exactly() -> None:
    """~2,500 rows of one history parse into the schema's types with every value kept
    (how fast is `benchmarks/bench_fetch.py`'s job, not a test's)."""
    days = [dt.date(2016, 1, 1) + dt.timedelta(days=i) for i in range(2500)]
    rows = b",".join(
        b'{"date":"%s","open":%r,"high":%r,"low":%r,"close":%r,"adjusted_close":%r,"volume":%d}'
        % (day.isoformat().encode(), 10.0 + i / 7, 11.0 + i / 7, 9.0 + i / 7, 10.5 + i / 7,
           10.4 + i / 7, 1000 + i)
        for i, day in enumerate(days)
    )
    df = P.parse_table(b"[" + rows + b"]", P.EOD_HISTORY_SPEC)
    assert df.height == 2500
    assert df["date"].to_list() == days
    assert df["close"].to_list() == [10.5 + i / 7 for i in range(2500)]
    assert df["volume"].to_list() == [1000 + i for i in range(2500)]


def test_frame_dtypes_exact_for_empty_and_all_null_columns() -> None:
    body = b'[{"code":"A","date":"2026-11-20","value":null,"unadjustedValue":null,"currency":null,"declarationDate":null,"recordDate":null,"paymentDate":null,"period":null}]'  # noqa: E501
    df = P.parse_table(body, P.DIVIDENDS_SPEC)
    assert df.schema == schemas.DIVIDENDS
    assert df.null_count().row(0)[2:] == (1,) * 7
    assert pl.DataFrame(schema=schemas.DIVIDENDS).schema == df.schema
