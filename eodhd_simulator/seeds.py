"""Deterministic randomness: every draw of the simulated market comes from a seed made of
text parts (`sha256(seed, exchange, code, purpose)`), never from Python's `hash()`, which
is salted per process, so two processes with the same seed serve the same bytes."""

from __future__ import annotations

import hashlib
import random


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from text parts, stable across processes and Python versions."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def rng(*parts: object) -> random.Random:
    """A generator seeded by `stable_seed(*parts)`."""
    return random.Random(stable_seed(*parts))
