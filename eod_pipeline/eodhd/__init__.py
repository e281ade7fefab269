"""Async EODHD API client: settings, errors, costs, and frames of the shared schemas.

Usage: `async with EodhdClient(EodhdSettings.from_env()) as client:` then e.g.
`await client.eod_history("US", "AAPL", start, end)` -> an EOD_HISTORY polars frame.
See client.py for the design, schemas.py for the frames.
"""

from eod_pipeline.eodhd.client import EodhdClient
from eod_pipeline.eodhd.costs import ENDPOINT_COST, next_reset, request_cost
from eod_pipeline.eodhd.errors import (
    AuthenticationError,
    BadRequestError,
    EodhdError,
    ExchangeNotFoundError,
    InsufficientQuotaError,
    NotFoundError,
    QuotaExhaustedError,
    RetriesExhaustedError,
    TickerNotFoundError,
)
from eod_pipeline.eodhd.models import ExchangeDetails, UserInfo
from eod_pipeline.eodhd.settings import EodhdSettings, SettingsError
from eod_pipeline.eodhd.usage import Usage

__all__ = [
    "ENDPOINT_COST",
    "AuthenticationError",
    "BadRequestError",
    "EodhdClient",
    "EodhdError",
    "EodhdSettings",
    "ExchangeDetails",
    "ExchangeNotFoundError",
    "InsufficientQuotaError",
    "NotFoundError",
    "QuotaExhaustedError",
    "RetriesExhaustedError",
    "SettingsError",
    "TickerNotFoundError",
    "Usage",
    "UserInfo",
    "next_reset",
    "request_cost",
]
