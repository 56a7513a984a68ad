"""Caches that cannot grow with the number of credentials a server has seen: entries past their time to
live go, and beyond a cap the oldest go first. A remote server with per-client keys or OAuth sees a
new credential per user; without this, each user's lists stayed for the life of the process."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

Key = TypeVar("Key")
Value = TypeVar("Value")
MAX_CREDENTIALS = 256  # cached lists of this many (credential, path) pairs at most


def prune(
    entries: dict[Key, Value], stamp: Callable[[Value], float], ttl: float, cap: int = MAX_CREDENTIALS
) -> None:
    """Drop the entries fetched more than ``ttl`` seconds ago (``stamp``: when an entry was fetched,
    on the monotonic clock), then the oldest until at most ``cap`` remain."""
    now = time.monotonic()
    for key in [k for k, v in entries.items() if now - stamp(v) >= ttl]:
        del entries[key]
    for key in sorted(entries, key=lambda k: stamp(entries[k]))[: max(0, len(entries) - cap)]:
        del entries[key]


def cap_oldest(entries: dict[Key, Value], cap: int = MAX_CREDENTIALS) -> None:
    """Drop the entries inserted first until at most ``cap`` remain (a dict keeps insertion order)."""
    for key in list(entries)[: max(0, len(entries) - cap)]:
        del entries[key]
