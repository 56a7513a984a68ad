"""One shared :class:`CloseClient` per Close credential, bounded, idle ones closed.

A remote server serves agents of many organizations: each credential gets its own
client (connection pool and rate-limit buckets), so agents never share data or pauses.
Clients are leased for the duration of a call and only idle, unleased ones are closed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from close_mcp.client import CloseClient
from close_mcp.credentials import Credential
from close_mcp.ratelimit import RateLimiter, SharedLimits


@dataclass
class _Entry:
    client: CloseClient
    last_used: float
    leases: int = 0


class ClientPool:
    def __init__(
        self,
        base_url: str,
        *,
        wait_budget: float = 60.0,
        timeout: float = 30.0,
        max_clients: int = 64,
        idle_seconds: float = 600.0,
        shared_limits: SharedLimits | None = None,
    ) -> None:
        self.base_url, self.wait_budget, self.timeout = base_url, wait_budget, timeout
        self.shared_limits = shared_limits  # rate-limit state shared with other replicas (Redis)
        self.max_clients, self.idle_seconds = max_clients, idle_seconds
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @asynccontextmanager
    async def lease(self, credential: Credential) -> AsyncIterator[CloseClient]:
        await self._evict()
        # The origin is part of the key: a client presenting the server's own key in its header is
        # told about its header, not the server's configuration, if Close refuses it.
        key = f"{credential.origin}:{credential.fingerprint}"
        entry = self._entries.get(key)
        if entry is None:
            entry = _Entry(
                CloseClient(
                    credential,
                    self.base_url,
                    wait_budget=self.wait_budget,
                    timeout=self.timeout,
                    limiter=RateLimiter(shared=self.shared_limits),
                ),
                time.monotonic(),
            )
            self._entries[key] = entry
        entry.leases += 1
        try:
            yield entry.client
        finally:
            entry.leases -= 1
            entry.last_used = time.monotonic()

    async def _evict(self) -> None:
        now = time.monotonic()
        idle = sorted((e.last_used, k) for k, e in self._entries.items() if e.leases == 0)
        over = max(0, len(self._entries) + 1 - self.max_clients)
        for n, (last_used, key) in enumerate(idle):
            if n < over or now - last_used > self.idle_seconds:
                await self._entries.pop(key).client.aclose()

    async def aclose(self) -> None:
        for entry in self._entries.values():
            await entry.client.aclose()
        self._entries.clear()
