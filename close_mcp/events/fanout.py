"""Live events across replicas (``--redis-url`` only): one Redis Stream every replica's hub reads.

A replica that accepts an event (its webhook receiver or, holding the follow lease, its Event Log
follower) claims the event ID in the shared store as before; the one that wins the claim appends the
event once to the stream (``XADD … MAXLEN ~``) and publishes it to its own subscribers. Every replica
reads the stream (``XREAD BLOCK`` a short while, from the last entry it saw) and publishes each entry
to its own subscribers; the hub drops locally what it already published (its own appends).

Redis down: the replica keeps publishing what it receives itself (the connection's health says
degraded in ``/healthz`` and the log) and keeps what it could not append (up to ``PENDING``, oldest
dropped first); when Redis answers again it appends those, in order, and reads on from its last
stream ID, so every replica catches up on what the others received meanwhile. Entries are events as Close sent them;
the stream key carries no secret.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from close_mcp.events.hub import EventHub
from close_mcp.redis_store import DEFAULT_PREFIX, RedisConnection, SharedStateUnavailable

log = logging.getLogger("close_mcp.events.fanout")
STREAM = "events:stream"
MAXLEN = 10_000  # about; a replica further behind than that misses the oldest (Redis trims lazily)
PENDING = 10_000  # events received while Redis was away, appended when it answers again


class StreamFanout:
    """Appends accepted events to the replicas' stream and feeds the stream into this replica's hub."""

    def __init__(
        self,
        hub: EventHub,
        connection: RedisConnection,
        *,
        prefix: str = DEFAULT_PREFIX,
        maxlen: int = MAXLEN,
    ) -> None:
        self.hub, self.connection, self.maxlen = hub, connection, maxlen
        self.key = f"{prefix}{STREAM}"
        self.block_ms = max(10, int(connection.timeout * 1000 * 0.5))
        self._reader: Any = None
        self.reading = False  # the last read of the stream succeeded
        self.last_id: str | None = None
        self.counts: Counter[str] = Counter()
        self.pending: deque[dict[str, str]] = deque(maxlen=PENDING)
        self._appending = anyio.Lock()

    async def append(self, event: dict[str, Any]) -> bool:
        """Append one event for the other replicas (after any still pending); False when Redis is away
        (logged by the connection): it stays pending until Redis answers again."""
        if len(self.pending) == self.pending.maxlen:
            self.counts["dropped"] += 1
        self.pending.append({"event": json.dumps(event, separators=(",", ":"))})
        return await self.flush()

    async def flush(self) -> bool:
        """Append the pending events, oldest first; False if Redis stopped answering on the way."""
        async with self._appending:
            while self.pending:
                try:
                    await self.connection.run(self._append_oldest)
                except SharedStateUnavailable:
                    self.counts["not_appended"] += 1
                    return False
                self.pending.popleft()
                self.counts["appended"] += 1
        return True

    def _append_oldest(self, redis: Any) -> Any:
        return redis.xadd(self.key, self.pending[0], maxlen=self.maxlen, approximate=True)

    def _reader_client(self) -> Any:
        """The reader's own client: same address and credentials as the connection's, its own pool,
        and a socket timeout that leaves room for the block. A blocked read on the shared client would
        count as Redis not answering whenever this process is slow to read the reply, and switch the
        rate limits to per-process pacing for nothing."""
        if self._reader is None:
            import redis.asyncio as aioredis

            pool = self.connection.client.connection_pool
            kwargs = {
                **pool.connection_kwargs,
                "socket_timeout": self.connection.timeout + self.block_ms / 1000,
            }
            self._reader = aioredis.Redis(
                connection_pool=aioredis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
            )
        return self._reader

    async def _read(self, operation: Callable[[Any], Awaitable[Any]]) -> Any:
        """One read on the reader's client; :class:`SharedStateUnavailable` if Redis does not answer
        (while the shared connection says Redis is away, without trying)."""
        if not self.connection.usable():
            raise SharedStateUnavailable(self.connection.last_error or "redis unavailable")
        try:
            with anyio.fail_after(2 * self.connection.timeout + self.block_ms / 1000):
                return await operation(self._reader_client())
        except Exception as exc:
            if type(exc).__name__ == "ResponseError":
                raise  # a command Redis refused is a bug of ours
            raise SharedStateUnavailable(type(exc).__name__) from None

    async def read_once(self) -> int:
        """One ``XREAD BLOCK``; the number of entries handed to the hub."""
        if self.last_id is None:
            # The stream's newest entry now: what came before this replica started is not replayed.
            newest = await self._read(lambda r: r.xrevrange(self.key, count=1))
            self.last_id = str(newest[0][0]) if newest else "0-0"
        last = self.last_id
        answer = await self._read(lambda r: r.xread({self.key: last}, count=100, block=self.block_ms))
        handed = 0
        for _stream, entries in answer or []:
            for entry_id, fields in entries:
                self.last_id = str(entry_id)
                try:
                    event = json.loads(fields.get("event", ""))
                except ValueError:
                    self.counts["malformed"] += 1
                    continue
                if isinstance(event, dict):
                    self.counts["received"] += 1
                    handed += await self.hub.deliver(event, "stream")
        return handed

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            if self._reader is not None:
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    await self._reader.aclose()

    async def _run(self) -> None:
        while True:
            try:
                await self.read_once()
                self.reading = True
                if self.pending:
                    await self.flush()
            except SharedStateUnavailable:
                # Redis away (the shared connection logs it and shows it in /healthz): retry later.
                self.reading = False
                self.counts["read_failed"] += 1
                await anyio.sleep(self.connection.retry_after)
            except Exception:
                log.exception("reading the events stream failed")
                await anyio.sleep(self.connection.retry_after)

    def stats(self) -> dict[str, Any]:
        shown = {"stream": self.key, "last_id": self.last_id, "reading": self.reading, **self.counts}
        return {**shown, "pending": len(self.pending)}
