"""Headless Chromium for the browser tests: the system's binary, screenshots as artifacts.

Plain helpers (the fixture is in `conftest.py`). Debian's /usr/bin/chromium is driven
through playwright, never a downloaded browser: the machine has no network, and CI installs
the `chromium` package. Screenshots go to EOD_TEST_ARTIFACTS (default
`<repo>/test-artifacts/`), which CI keeps.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
#: No GPU, no sandbox (containers), and nothing that phones home: the machine has no network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: How long a click or a wait for an element may take: the UI polls every 2 s, and the
#: machine is shared.
UI_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1400, "height": 900}


def artifacts_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "test-artifacts"
    path = Path(os.environ.get("EOD_TEST_ARTIFACTS") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def screenshot(page: Any, name: str, full_page: bool = False) -> Path:
    """Save `name`.png among the artifacts (replacing an older one) and return its path."""
    path = artifacts_dir() / f"{name}.png"
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000, f"{path} is nearly empty"
    return path


@contextlib.contextmanager
def screenshot_on_failure(page: Any, name: str) -> Iterator[None]:
    """Keep a screenshot of where the browser was when the test failed."""
    try:
        yield
    except BaseException:
        path = artifacts_dir() / f"{name}_failure.png"
        try:
            page.screenshot(path=str(path), full_page=True)
            print(f"failure screenshot: {path}")
        except Exception as exc:  # the browser may be what failed
            print(f"no failure screenshot: {exc}")
        raise


@contextlib.contextmanager
def chromium_page(sync_api: Any) -> Iterator[Any]:
    """A fresh page of a headless system Chromium; the browser is closed on exit."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(UI_TIMEOUT_MS)
            yield page
        finally:
            browser.close()
