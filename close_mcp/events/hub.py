"""The in-process event hub: every source (webhook receiver, Event Log follower) publishes here.

* Dedupe by event ID through the :class:`~close_mcp.shared_store.SharedStore` (``claim`` with
  expiry), so an event pushed twice, pushed and followed, or retried by Close is published once.
* One lock around publishing: subscribers see events in the order they were published, so in order
  per object for each source (Close's webhooks are not ordered across objects, close-api.md §7).
* Across replicas (``--redis-url``): the replica winning the claim appends the event to the
  replicas' stream (:mod:`close_mcp.events.fanout`), which every replica's hub reads and delivers,
  dropping locally the IDs it already published.
* Fan-out: MCP sessions subscribed to a resource URI get ``notifications/resources/updated``
  once per event; ``wait_for_events`` waiters each get every matching event once.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from close_mcp.redis_store import SharedStateUnavailable
from close_mcp.shared_store import SharedStore

if TYPE_CHECKING:
    from close_mcp.events.fanout import StreamFanout

log = logging.getLogger("close_mcp.events")
RECENT = "close://events/recent"
# Close retries a delivery for up to 72 h (close-api.md §7): an event seen within that window is a repeat.
DEDUPE_TTL = 72 * 3600.0
NOTIFY_TIMEOUT = 5.0
LOCAL_IDS = 10_000  # event IDs this replica published, for its own dedupe of the replicas' stream


@dataclass(frozen=True)
class EventFilter:
    object_type: str | None = None
    action: str | None = None
    lead_id: str | None = None
    user_id: str | None = None
    object_id: str | None = None

    def matches(self, event: dict[str, Any]) -> bool:
        return all(
            wanted is None or event.get(name) == wanted
            for name, wanted in (
                ("object_type", self.object_type),
                ("action", self.action),
                ("lead_id", self.lead_id),
                ("user_id", self.user_id),
                ("object_id", self.object_id),
            )
        )


def compact(event: dict[str, Any]) -> dict[str, Any]:
    """What an agent needs of an event: what changed, on what, by whom, when."""
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    shown = {
        "id": event.get("id"),
        "date": event.get("date_updated") or event.get("date_created"),
        "object_type": event.get("object_type"),
        "action": event.get("action"),
        "object_id": event.get("object_id"),
        "lead_id": event.get("lead_id"),
        "user_id": event.get("user_id"),
        "changed_fields": event.get("changed_fields") or None,
        "name": (data or {}).get("display_name") or (data or {}).get("name"),
    }
    return {k: v for k, v in shown.items() if v not in (None, [], "")}


@dataclass
class _Waiter:
    filter: EventFilter
    events: list[dict[str, Any]] = field(default_factory=list)
    arrived: anyio.Event = field(default_factory=anyio.Event)


async def send_updated(connection: Any, uri: str) -> None:
    """``notifications/resources/updated`` on an MCP connection, outside any request.

    ``connection`` is what :func:`close_mcp.discovery.connection_of` returns: the SDK's connection
    behind a session (its ``outbound`` channel), or a session itself."""
    outbound = getattr(connection, "outbound", None)
    if outbound is not None:
        await outbound.notify("notifications/resources/updated", {"uri": uri})
    else:
        await connection.send_resource_updated(uri)


class EventHub:
    """Publishes each event once, in order, to resource subscribers and waiters."""

    def __init__(
        self,
        store: SharedStore,
        object_uris: dict[str, str] | None = None,
        recent_size: int = 200,
        dedupe_ttl: float = DEDUPE_TTL,
    ) -> None:
        self.store, self.dedupe_ttl = store, dedupe_ttl
        # object_type -> URI prefix, e.g. "lead" -> "close://lead/" (from the resource templates)
        self.object_uris = object_uris or {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=recent_size)
        self.counts: Counter[str] = Counter()
        self.high_water: str | None = None  # the newest date_updated published (naive ISO, sortable)
        self._lock = anyio.Lock()
        self._waiters: list[_Waiter] = []
        # connection -> subscribed URIs; forgotten with the connection
        self._watchers: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()
        self._listeners: list[Callable[[dict[str, Any], str], None]] = []
        self.fanout: StreamFanout | None = None  # set with --redis-url
        self._delivered: OrderedDict[str, None] = OrderedDict()

    # ----- publishing --------------------------------------------------------------------------
    async def publish(self, event: dict[str, Any], source: str) -> bool:
        """Publish one event; False (and nothing sent) when its ID was already published."""
        event_id = str(event.get("id") or "")
        if not event_id:
            self.counts["no_id"] += 1
            return False
        async with self._lock:
            try:
                claimed = await self.store.claim(f"event:{event_id}", source, self.dedupe_ttl)
            except SharedStateUnavailable:
                if self.fanout is None:
                    raise
                # Redis away: publish what this replica receives itself (degraded, in /healthz).
                self.counts[f"unshared_{source}"] += 1
                claimed = True
            if not claimed:
                self.counts[f"duplicate_{source}"] += 1
                return False
            if self.fanout is not None:
                await self.fanout.append(event)
            return await self._deliver(event, source)

    async def deliver(self, event: dict[str, Any], source: str) -> bool:
        """Publish an event another replica claimed (read from the replicas' stream): no claim, only
        this replica's own dedupe. False when this replica already published it."""
        async with self._lock:
            return await self._deliver(event, source)

    async def _deliver(self, event: dict[str, Any], source: str) -> bool:
        event_id = str(event.get("id") or "")
        if not event_id or event_id in self._delivered:
            self.counts[f"duplicate_{source}"] += 1
            return False
        self._delivered[event_id] = None
        if len(self._delivered) > LOCAL_IDS:
            self._delivered.popitem(last=False)
        self.counts[f"published_{source}"] += 1
        self.recent.append(event)
        stamp = str(event.get("date_updated") or event.get("date_created") or "")
        if stamp and (self.high_water is None or stamp > self.high_water):
            self.high_water = stamp
            try:
                await self.store.put("events:high_water", stamp, self.dedupe_ttl)
            except SharedStateUnavailable:
                if self.fanout is None:
                    raise
        for waiter in self._waiters:
            if waiter.filter.matches(event):
                waiter.events.append(event)
                waiter.arrived.set()
        for listener in self._listeners:
            listener(event, source)
        await self._notify(self.uris_of(event))
        return True

    async def mark_seen(self, event_id: str) -> None:
        """Count an event as published without publishing it (history a follower starts after)."""
        await self.store.claim(f"event:{event_id}", "history", self.dedupe_ttl)

    async def seen(self, event_id: str) -> bool:
        return await self.store.get(f"event:{event_id}") is not None

    async def restore_high_water(self) -> str | None:
        """The newest event date any replica published (survives a restart with a shared store)."""
        if self.high_water is None:
            self.high_water = await self.store.get("events:high_water")
        return self.high_water

    def listen(self, listener: Callable[[dict[str, Any], str], None]) -> None:
        """Call ``listener(event, source)`` for every published event (the bench's clock)."""
        self._listeners.append(listener)

    # ----- resource subscriptions ----------------------------------------------------------------
    def uris_of(self, event: dict[str, Any]) -> list[str]:
        uris = [RECENT]
        kind = str(event.get("object_type"))
        prefix = self.object_uris.get(kind) or self.object_uris.get(kind.split(".")[0])  # task.lead → task
        if prefix and event.get("object_id"):
            uris.append(f"{prefix}{event['object_id']}")
        lead_id = event.get("lead_id")
        if lead_id and "lead" in self.object_uris:
            uris.append(f"{self.object_uris['lead']}{lead_id}")
            uris.append(f"close://events/lead/{lead_id}")
        return list(dict.fromkeys(uris))

    def subscribe(self, connection: object, uri: str) -> None:
        self._watchers.setdefault(connection, set()).add(uri)

    def unsubscribe(self, connection: object, uri: str) -> None:
        self._watchers.get(connection, set()).discard(uri)

    async def _notify(self, uris: Iterable[str]) -> None:
        wanted = set(uris)
        for connection, subscribed in list(self._watchers.items()):
            for uri in sorted(subscribed & wanted):
                try:
                    with anyio.fail_after(NOTIFY_TIMEOUT):
                        await send_updated(connection, uri)
                    self.counts["notified"] += 1
                except Exception as exc:  # the session went away: forget it
                    log.debug("resource update for %s not sent: %s", uri, type(exc).__name__)
                    self._watchers.pop(connection, None)
                    break

    # ----- waiting -----------------------------------------------------------------------------
    def matching_recent(self, wanted: EventFilter, after: str | None) -> list[dict[str, Any]]:
        """Recent events matching ``wanted`` published after the event ``after`` (all when unknown)."""
        events = list(self.recent)
        ids = [str(e.get("id")) for e in events]
        start = ids.index(after) + 1 if after in ids else 0
        return [e for e in events[start:] if wanted.matches(e)] if after else []

    async def wait(
        self, wanted: EventFilter, timeout: float, limit: int, after: str | None = None
    ) -> list[dict[str, Any]]:
        """Events matching ``wanted`` (after ``after`` when given, else from now), up to ``limit``;
        returns as soon as one arrives, or empty after ``timeout`` seconds."""
        waiter = _Waiter(wanted, self.matching_recent(wanted, after))
        if waiter.events:
            return waiter.events[:limit]
        self._waiters.append(waiter)
        try:
            with anyio.move_on_after(timeout):
                await waiter.arrived.wait()
        finally:
            self._waiters.remove(waiter)
        return waiter.events[:limit]

    def stats(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "recent": len(self.recent),
            "subscribed_sessions": len(self._watchers),
            "waiting": len(self._waiters),
        }

    def render_recent(self, wanted: EventFilter | None = None, limit: int = 50) -> str:
        events = [compact(e) for e in self.recent if wanted is None or wanted.matches(e)]
        return json.dumps({"events": events[-limit:][::-1], "newest_first": True}, indent=1)
