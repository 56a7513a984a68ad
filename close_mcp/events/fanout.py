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
        # XREAD must return before the socket timeout, or a quiet stream would look like an outage.
        self.block_ms = max(10, int(connection.timeout * 1000 * 0.5))
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

    async def _start_id(self) -> str:
        """The stream's newest entry now (what came before this replica started is not replayed)."""
        newest = await self.connection.run(lambda r: r.xrevrange(self.key, count=1))
        return str(newest[0][0]) if newest else "0-0"

    async def read_once(self) -> int:
        """One ``XREAD BLOCK``; the number of entries handed to the hub."""
        if self.last_id is None:
            self.last_id = await self._start_id()
        last = self.last_id
        answer = await self.connection.run(
            lambda r: r.xread({self.key: last}, count=100, block=self.block_ms)
        )
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
        while True:
            try:
                await self.read_once()
                if self.pending:
                    await self.flush()
            except SharedStateUnavailable:
                # The connection logged it and refuses calls for retry_after: wait that long.
                self.counts["read_failed"] += 1
                await anyio.sleep(self.connection.retry_after)
            except Exception:
                log.exception("reading the events stream failed")
                await anyio.sleep(self.connection.retry_after)

    def stats(self) -> dict[str, Any]:
        shown = {"stream": self.key, "last_id": self.last_id, "ok": self.connection.healthy, **self.counts}
        return {**shown, "pending": len(self.pending)}
