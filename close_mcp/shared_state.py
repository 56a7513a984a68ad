"""What replicas of one deployment share, opened once per server from the settings.

Without ``--redis-url``: one process, nothing to run — a :class:`MemoryStore`, per-process rate-limit
buckets, in-memory session streams. With it: :class:`RedisStore`, rate-limit buckets in Redis
(:class:`RedisLimits`) and session streams in Redis (:class:`RedisEventStore`), all over one
connection whose health ``/healthz`` shows.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from close_mcp.event_store import MemoryEventStore, RedisEventStore
from close_mcp.ratelimit import SharedLimits
from close_mcp.settings import Settings
from close_mcp.shared_store import MemoryStore, SharedStore

log = logging.getLogger("close_mcp")


@dataclass
class SharedState:
    store: SharedStore
    events: MemoryEventStore | RedisEventStore
    limits: SharedLimits | None = None
    connection: Any = None  # a RedisConnection when --redis-url is set

    def health(self) -> dict[str, Any]:
        if self.connection is None:
            return {"kind": "memory", "ok": True}
        return dict(self.connection.health())


@asynccontextmanager
async def open_shared_state(settings: Settings) -> AsyncIterator[SharedState]:
    if not settings.redis_url:
        yield SharedState(MemoryStore(), MemoryEventStore(ttl=settings.session_timeout))
        return
    from close_mcp.redis_limits import RedisLimits
    from close_mcp.redis_store import RedisConnection, RedisStore

    connection = RedisConnection(settings.redis_url)
    if not await connection.ping():
        log.warning(
            "close-mcp: starting without shared state until redis answers (%s)", connection.last_error
        )
    try:
        yield SharedState(
            RedisStore(connection),
            RedisEventStore(connection, ttl=settings.session_timeout),
            RedisLimits(connection),
            connection,
        )
    finally:
        await connection.aclose()
