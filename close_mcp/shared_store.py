"""State that several parts of close-mcp keep for a while and that replicas may have to share.

Idempotency records, webhook and event dedupe, the Event Log follow cursor and its lease all go
through one small interface, :class:`SharedStore`. The embedded default is :class:`MemoryStore`
(one process, nothing to run); the scale-out deployment plugs in a Redis-backed store with the same
methods, each atomic on the server side. Callers namespace their own keys (``idem:…``, ``hook:…``)
and never store secrets in the clear: hash them into the key first (:func:`hashed`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Protocol


def hashed(secret: str) -> str:
    """A stable, non-reversible name for a secret (an API key, a token) to use inside keys."""
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


class SharedStore(Protocol):
    """Atomic key/value records with expiry, plus named leases. Values are text (JSON by convention)."""

    kind: str  # "memory" or "redis", shown in /healthz

    async def claim(self, key: str, value: str, ttl: float) -> bool:
        """Store ``value`` under ``key`` only if the key is absent; True when this caller stored it."""
        ...

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str, ttl: float) -> None:
        """Store ``value`` under ``key`` (replacing any value) for ``ttl`` seconds."""
        ...

    async def delete(self, key: str) -> None: ...

    async def lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take the lease ``name`` for ``holder`` for ``ttl`` seconds, or renew it when ``holder``
        already has it; False while another holder's lease is live."""
        ...

    async def release(self, name: str, holder: str) -> None:
        """Give the lease back, only if ``holder`` holds it."""
        ...


@dataclass
class MemoryStore:
    """The one-process store: a dict with monotonic expiry, swept as it is used."""

    kind: str = "memory"
    _values: dict[str, tuple[str, float]] = field(default_factory=dict)
    _sweep_at: int = 1024

    def _live(self, key: str) -> tuple[str, float] | None:
        entry = self._values.get(key)
        if entry is not None and entry[1] <= time.monotonic():
            del self._values[key]
            return None
        return entry

    def _sweep(self) -> None:
        if len(self._values) < self._sweep_at:
            return
        now = time.monotonic()
        for key in [k for k, (_, expires) in self._values.items() if expires <= now]:
            del self._values[key]
        self._sweep_at = max(1024, 2 * len(self._values))

    async def claim(self, key: str, value: str, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        self._sweep()
        self._values[key] = (value, time.monotonic() + ttl)
        return True

    async def get(self, key: str) -> str | None:
        entry = self._live(key)
        return None if entry is None else entry[0]

    async def put(self, key: str, value: str, ttl: float) -> None:
        self._sweep()
        self._values[key] = (value, time.monotonic() + ttl)

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)

    async def lease(self, name: str, holder: str, ttl: float) -> bool:
        key = f"lease:{name}"
        entry = self._live(key)
        if entry is not None and entry[0] != holder:
            return False
        self._values[key] = (holder, time.monotonic() + ttl)
        return True

    async def release(self, name: str, holder: str) -> None:
        key = f"lease:{name}"
        entry = self._live(key)
        if entry is not None and entry[0] == holder:
            del self._values[key]
