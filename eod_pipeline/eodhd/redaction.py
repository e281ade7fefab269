"""Keep the API token out of every log line, exception message and URL we show.

Why so thorough: the token travels in the query string (`api_token=...`), and EODHD echoes
the request URL in some error bodies (the 404 page; 400 `bad request URL: ...?api_token=`).
Anything the client logs or raises goes through `Redactor.redact` first, and logged URLs
are built without their query (`safe_url`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Final
from urllib.parse import quote

import yarl

#: What replaces a secret.
MASK: Final[str] = "***"

#: `api_token=<anything up to a delimiter>` in any text, whatever the token is. Also
#: matches the JSON/HTML-escaped forms a body might echo (`api_token\u003d`, `%3D`).
_API_TOKEN_PARAM: Final[re.Pattern[str]] = re.compile(
    r"(api_token(?:=|%3D|\\u003d|&#61;))[^&\s\"'<>\\,;)]*", re.IGNORECASE
)

#: How the client's pieces (transport, retry, quota) log: `log(level, message)`. They
#: share this one callback rather than loggers of their own, so every line passes the
#: client's `Redactor` (which knows the real token) and keeps the client's logger name.
Log = Callable[[int, str], None]


class Redactor:
    """Replaces given secrets (raw and percent-encoded) and any `api_token=` value."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        variants: set[str] = set()
        for secret in secrets:
            if secret:
                variants.add(secret)
                variants.add(quote(secret, safe=""))
                variants.add(quote(secret, safe="").replace("%20", "+"))
        # Longest first, so a variant that contains another is replaced whole.
        ordered = sorted(variants, key=len, reverse=True)
        self._secrets: re.Pattern[str] | None = (
            re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None
        )

    def redact(self, text: object) -> str:
        """`str(text)` with every secret and `api_token=` value replaced by `***`."""
        out = text if isinstance(text, str) else str(text)
        out = _API_TOKEN_PARAM.sub(lambda m: m.group(1) + MASK, out)
        if self._secrets is not None:
            out = self._secrets.sub(MASK, out)
        return out

    def __repr__(self) -> str:
        return "Redactor(***)"


def safe_url(url: yarl.URL | str) -> str:
    """The URL without query and fragment: what a log line may show of a request."""
    u = url if isinstance(url, yarl.URL) else yarl.URL(url, encoded=True)
    return str(u.with_query(None).with_fragment(None))


class TokenRedactingFilter(logging.Filter):
    """Logging filter: renders the record and scrubs `api_token=` values from it.

    Defence in depth for our own loggers: the client already redacts what it logs with the
    real token value; this filter also catches a token-bearing URL logged by mistake.
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self._redactor = redactor or Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self._redactor.redact(message)
        if clean != message or record.args:
            record.msg = clean
            record.args = None
        return True
