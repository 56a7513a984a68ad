"""Follow mode: the Event Log (``GET /event/``) polled into the hub, for a server Close cannot reach.

Each poll asks for the events updated since the hub's high-water mark minus an overlap (Close's
docs advise rescanning the last minutes: events can appear late or be consolidated, close-api.md
§2.2), newest first, following ``cursor_next`` to older pages until the overlap is covered; then
publishes them oldest first. The hub's dedupe by event ID drops what the overlap repeats and what
push already delivered, so switching between push and follow leaves no gap and no duplicate as long
as the switch takes less than the Event Log's 30-day retention.

Pacing: requests go through the shared :class:`~close_mcp.client.CloseClient`, which keeps under the
rate limit; the pause between polls starts at ``min_interval``, doubles while nothing new arrives, up
to ``max_interval``, and drops back when an event does.

Replicas (``lease`` given, with ``--redis-url``): only the holder of the shared lease
``events-follow`` polls; it renews the lease each round (a round is never longer than a third of the
lease), and gives it back when it stops. The others try for the lease every third of its ttl, so when
the holder dies another takes over within about the ttl and reads on from the position kept in the
shared store (``events:high_water``; the overlap and the shared dedupe cover the holder's last round).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

import anyio

from close_mcp.client import CloseClient
from close_mcp.errors import CloseError
from close_mcp.events.hub import EventHub
from close_mcp.redis_store import SharedStateUnavailable

log = logging.getLogger("close_mcp.events.follow")
OVERLAP = timedelta(minutes=5)
MAX_PAGES = 20  # per poll: 1000 events; the rest is read by the next poll
PAGE = "50"  # the Event Log's cap (close-api.md §2.2)
LEASE = "events-follow"


def _minus(stamp: str, delta: timedelta) -> str:
    try:
        return (datetime.fromisoformat(stamp) - delta).isoformat()
    except ValueError:
        return stamp


class EventLogFollower:
    def __init__(
        self,
        client: CloseClient,
        hub: EventHub,
        *,
        min_interval: float = 1.0,
        max_interval: float = 30.0,
        overlap: timedelta = OVERLAP,
        lease: tuple[str, float] | None = None,
    ) -> None:
        self.client, self.hub = client, hub
        self.lease = lease  # (this replica's holder ID, ttl seconds): poll only while holding it
        self.holding = lease is None
        self.min_interval, self.max_interval, self.overlap = min_interval, max_interval, overlap
        self.interval = min_interval
        self.requests = 0
        self.polls = 0
        self._wake = anyio.Event()

    async def start_position(self) -> str | None:
        """Where to read from: the hub's high-water mark (push, a previous run), else the newest event
        now in the log (history before this server started is not replayed)."""
        mark = await self.hub.restore_high_water()
        if mark is not None:
            return mark
        page = await self._get({"_limit": "1"})
        newest = (page.get("data") or [{}])[0]
        mark = newest.get("date_updated") or newest.get("date_created")
        if mark:
            # What the first polls' overlap will re-read is history: marked seen, never published.
            for event in await self._since(_minus(str(mark), self.overlap)):
                await self.hub.mark_seen(str(event.get("id")))
            self.hub.high_water = str(mark)
            await self.hub.store.put("events:high_water", str(mark), self.hub.dedupe_ttl)
        return self.hub.high_water

    async def _get(self, params: dict[str, str]) -> dict[str, Any]:
        self.requests += 1
        data = (await self.client.request("GET", "/event/", params=params)).data
        return data if isinstance(data, dict) else {}

    async def poll_once(self) -> int:
        """One poll; the number of new events published."""
        self.polls += 1
        mark = self.hub.high_water or await self.start_position()
        fresh = [
            e
            for e in await self._since(_minus(mark, self.overlap) if mark else None)
            if not await self.hub.seen(str(e.get("id")))
        ]
        published = 0
        for event in reversed(fresh):  # the log is newest first
            published += await self.hub.publish(event, "follow")
        return published

    async def _since(self, stamp: str | None) -> list[dict[str, Any]]:
        """The events updated at or after ``stamp``, newest first, following ``cursor_next``."""
        params = {"_limit": PAGE}
        if stamp:
            params["date_updated__gte"] = stamp
        events: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            page = await self._get(params)
            events += [e for e in page.get("data") or [] if isinstance(e, dict)]
            cursor = page.get("cursor_next")
            if not cursor:
                break
            params = {**params, "_cursor": str(cursor)}  # the other filters are resent (close-api.md §2.2)
        return events

    def poke(self) -> None:
        """Poll now (e.g. a waiter arrived) instead of at the end of the idle pause."""
        self._wake.set()

    async def _hold_lease(self) -> bool:
        """Take or renew the follow lease (always True without one). On taking it over, read on from
        the shared position, which the previous holder kept up to date."""
        if self.lease is None:
            return True
        holder, ttl = self.lease
        was_holding = self.holding
        try:
            self.holding = await self.hub.store.lease(LEASE, holder, ttl)
        except SharedStateUnavailable:
            self.holding = False  # no shared lease, no polling: two followers would double the load
        if self.holding and not was_holding:
            log.info("following the Event Log (took the follow lease)")
            shared = await self.hub.store.get("events:high_water")
            if shared and (self.hub.high_water is None or shared > self.hub.high_water):
                self.hub.high_water = shared
        return self.holding

    async def release(self) -> None:
        if self.lease is not None and self.holding:
            self.holding = False
            with contextlib.suppress(SharedStateUnavailable):  # else it expires by itself
                await self.hub.store.release(LEASE, self.lease[0])

    async def run(self) -> None:
        try:
            while True:
                await self._round()
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                await self.release()

    async def _round(self) -> None:
        found = 0
        pause = self.interval
        if await self._hold_lease():
            try:
                found = await self.poll_once()
            except (CloseError, SharedStateUnavailable) as exc:
                log.warning("Event Log poll failed (%s); retrying later", type(exc).__name__)
            self.interval = self.min_interval if found else min(self.max_interval, self.interval * 2)
            pause = self.interval
        if self.lease is not None:
            pause = min(pause, self.lease[1] / 3)
        with anyio.move_on_after(pause):
            await self._wake.wait()
        self._wake = anyio.Event()
