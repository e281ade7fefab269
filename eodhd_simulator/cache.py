"""The process-wide cache of generated paths.

Paths are a pure function of (seed, history_start, symbol, horizon, path events), so
universes in one process share them: a test suite starting a fresh simulator per test
generates each path once. Capped so a long-lived process cannot grow without bound.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from eodhd_simulator.paths import PathEvent, SymbolPath
from eodhd_simulator.symbols import SymbolInfo

SHARED_PATHS_MAX = 4000

#: (seed, history_start, symbol, horizon, halts and injected actions).
PathKey = tuple[int, date, SymbolInfo, date, tuple[PathEvent, ...]]

_SHARED_PATHS: dict[PathKey, SymbolPath] = {}


def shared_path(key: PathKey, make: Callable[[], SymbolPath]) -> SymbolPath:
    """The path cached under `key`, made (and cached, oldest dropped first) if absent."""
    path = _SHARED_PATHS.get(key)
    if path is None:
        path = make()
        if len(_SHARED_PATHS) >= SHARED_PATHS_MAX:
            _SHARED_PATHS.pop(next(iter(_SHARED_PATHS)))
        _SHARED_PATHS[key] = path
    return path
