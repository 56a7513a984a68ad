"""Redis (or Valkey) as the replicas' shared state: one connection with a health record, and
:class:`RedisStore`, the :class:`~close_mcp.shared_store.SharedStore` every replica sees alike.

Every operation is one atomic server-side step (``SET NX PX`` for claims, Lua for leases), bounded by
a short timeout. When Redis is down or slow, :class:`RedisConnection` says so once in the log, shows it
in ``/healthz``, and stops trying for :attr:`RedisConnection.retry_after` seconds so callers do not each
pay the timeout; the next operation after that tries again, and recovery is logged too. What a caller
does meanwhile is its own choice: the rate limiter paces per process, the store raises
:class:`SharedStateUnavailable` (a claim or a lease must not be granted by one replica alone).

The Redis URL may carry a password: it is never logged nor shown; only ``host:port`` is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio

log = logging.getLogger("close_mcp.redis")
T = TypeVar("T")

DEFAULT_PREFIX = "close-mcp:"

_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class SharedStateUnavailable(Exception):
    """Redis did not answer in time (or refused): the shared operation did not happen."""


def _millis(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def where(url: str) -> str:
    """``host:port`` of a Redis URL, without user or password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


def _connection_closed(exc: Exception) -> bool:
    """redis-py's ``ConnectionError`` (a pooled connection closed, refused, reset), not a timeout."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    return isinstance(exc, RedisConnectionError)


class RedisConnection:
    """One ``redis.asyncio`` client, short timeouts, and whether Redis is answering."""

    def __init__(self, url: str, *, timeout: float = 0.5, retry_after: float = 1.0) -> None:
        import redis.asyncio as aioredis  # only deployments with --redis-url import the client
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.address = where(url)
        self.timeout = timeout
        self.retry_after = retry_after
        self.client: Any = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # one try: a caller with a deadline must not wait on retries
            health_check_interval=0,
        )
        self.healthy = True
        self.last_error: str | None = None
        self.down_since: float | None = None
        self._next_try = 0.0
        self.failures = 0

    def usable(self) -> bool:
        """Worth trying now: healthy, or the pause after a failure is over."""
        return self.healthy or time.monotonic() >= self._next_try

    async def run(self, operation: Callable[[Any], Awaitable[T]], repeatable: bool = False) -> T:
        """Run one Redis operation within the timeout; :class:`SharedStateUnavailable` if it fails.

        After a Redis restart every pooled connection fails at its first use ("closed by server").
        Such a failure counts as an outage only if Redis does not answer a ping on a fresh
        connection either; otherwise only this operation fails (every other user of the connection
        would otherwise pace per process for ``retry_after`` seconds, drawing 429s while the other
        replicas share). ``repeatable``: running it twice does no harm (rate-limit bookkeeping), so
        it is tried once more at once instead of failing."""
        if not self.usable():
            raise SharedStateUnavailable(self.last_error or "redis unavailable")
        try:
            with anyio.fail_after(self.timeout * 2):
                try:
                    result = await operation(self.client)
                except Exception as exc:
                    if not (repeatable and _connection_closed(exc)):
                        raise
                    result = await operation(self.client)
        except Exception as exc:  # any client error (refused, timeout, reset) is "Redis not answering"
            if isinstance(exc, SharedStateUnavailable) or type(exc).__name__ == "ResponseError":
                raise  # a script or command Redis refused is a bug of ours, not an outage
            if _connection_closed(exc) and await self._answers_ping():
                raise SharedStateUnavailable(f"redis at {self.address}: a connection was closed") from None
            self._failed(exc)
            raise SharedStateUnavailable(self.last_error or "redis unavailable") from None
        if not self.healthy:
            log.warning("redis at %s answers again: shared rate limits and state resume", self.address)
            self.healthy, self.last_error, self.down_since = True, None, None
        return result

    async def _answers_ping(self) -> bool:
        try:
            with anyio.fail_after(self.timeout):
                return bool(await self.client.ping())
        except Exception:
            return False

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        self._next_try = time.monotonic() + self.retry_after
        detail = type(exc).__name__ if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        self.last_error = f"redis at {self.address} not answering ({detail[:200]})"
        if self.healthy:
            log.warning("%s: pacing per process until it answers again", self.last_error)
            self.healthy, self.down_since = False, time.time()

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` shows: no URL, no password."""
        state: dict[str, Any] = {"kind": "redis", "address": self.address, "ok": self.healthy}
        if not self.healthy:
            state["warning"] = f"{self.last_error}; rate limits are paced per process meanwhile"
            state["down_since"] = self.down_since
        return state

    async def ping(self) -> bool:
        try:
            return bool(await self.run(lambda r: r.ping()))
        except SharedStateUnavailable:
            return False

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass
class RedisStore:
    """The :class:`~close_mcp.shared_store.SharedStore` in Redis: same contract as ``MemoryStore``."""

    connection: RedisConnection
    prefix: str = DEFAULT_PREFIX
    kind: str = "redis"

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    async def claim(self, key: str, value: str, ttl: float) -> bool:
        done = await self.connection.run(lambda r: r.set(self._key(key), value, nx=True, px=_millis(ttl)))
        return bool(done)

    async def get(self, key: str) -> str | None:
        value = await self.connection.run(lambda r: r.get(self._key(key)))
        return None if value is None else str(value)

    async def put(self, key: str, value: str, ttl: float) -> None:
        await self.connection.run(lambda r: r.set(self._key(key), value, px=_millis(ttl)))

    async def delete(self, key: str) -> None:
        await self.connection.run(lambda r: r.delete(self._key(key)))

    async def lease(self, name: str, holder: str, ttl: float) -> bool:
        key = self._key(f"lease:{name}")
        taken = await self.connection.run(lambda r: r.eval(_LEASE, 1, key, holder, _millis(ttl)))
        return bool(taken)

    async def release(self, name: str, holder: str) -> None:
        key = self._key(f"lease:{name}")
        await self.connection.run(lambda r: r.eval(_RELEASE, 1, key, holder))
