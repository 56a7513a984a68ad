"""One live-events service per server: the hub, its sources and the key ring, wired by
:mod:`close_mcp.app` from the settings, and run in the app's task group."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import anyio

from close_mcp.client import CloseClient
from close_mcp.events.fanout import StreamFanout
from close_mcp.events.follow import EventLogFollower
from close_mcp.events.hub import EventHub
from close_mcp.events.keyring import KeyRing
from close_mcp.events.receiver import WebhookReceiver
from close_mcp.shared_store import MemoryStore, SharedStore

log = logging.getLogger("close_mcp.events")


@dataclass
class EventService:
    mode: str  # "push" or "follow"
    hub: EventHub
    keys: KeyRing
    receiver: WebhookReceiver | None = None
    follower: EventLogFollower | None = None
    public_url: str | None = None
    webhook_path: str = "/webhooks/close"

    @property
    def live(self) -> bool:
        """Whether events can arrive: following, or pushed by a subscription whose key we hold. The event
        tools and resources are offered only then (``subscribe_webhooks`` is what makes push live)."""
        return self.mode == "follow" or bool(self.keys.accepted_keys())

    @property
    def webhook_url(self) -> str | None:
        return self.public_url.rstrip("/") + self.webhook_path if self.public_url else None

    def stats(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"mode": self.mode, "hub": self.hub.stats()}
        if self.receiver is not None:
            shown["webhooks"] = self.receiver.stats()
        if self.follower is not None:
            shown["follow"] = {
                "polls": self.follower.polls,
                "requests": self.follower.requests,
                "interval": self.follower.interval,
            }
            if self.follower.lease is not None:
                shown["follow"]["holding_lease"] = self.follower.holding
        if self.hub.fanout is not None:
            shown["fanout"] = self.hub.fanout.stats()
        return shown


def object_uris(templates: list[dict[str, Any]]) -> dict[str, str]:
    """Event object types → the URI prefix of their resource template (``lead`` → ``close://lead/``)."""
    uris = {}
    for template in templates:
        uri = str(template["uri_template"])
        prefix, _, rest = uri.partition("{")
        if rest and not template.get("events") and prefix.startswith("close://"):
            uris[prefix.removeprefix("close://").rstrip("/")] = prefix
    return uris


async def load_state(hub: EventHub, path: Path) -> None:
    """The previous run's position and recent event IDs, into the hub's store (a missing or damaged
    file is a fresh start: follow then begins at the newest event, nothing replayed)."""
    if not path.is_file():  # absent, or not a regular file (never read a FIFO or a device)
        return
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if isinstance(data.get("high_water"), str):
        hub.high_water = data["high_water"]
        await hub.store.put("events:high_water", hub.high_water, hub.dedupe_ttl)
    for event_id in data.get("recent_ids") or []:
        await hub.mark_seen(str(event_id))


def save_state(hub: EventHub, path: Path) -> None:
    """Position and the IDs the next run's overlap could re-read (the recent ones), written atomically.
    Only ever replaces a regular file: a path such as /dev/null is left alone (and nothing is kept)."""
    if path.exists() and not path.is_file():
        log.warning("events state not kept: %s is not a regular file", path)
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = {"high_water": hub.high_water, "recent_ids": [e.get("id") for e in hub.recent]}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


@asynccontextmanager
async def run_events(
    mode: str,
    client: CloseClient | None,
    templates: list[dict[str, Any]],
    *,
    store: SharedStore | None = None,
    keys: KeyRing | None = None,
    tolerance: float = 300.0,
    max_body: int = 1_000_000,
    min_interval: float = 1.0,
    max_interval: float = 30.0,
    public_url: str | None = None,
    webhook_path: str = "/webhooks/close",
    hub: EventHub | None = None,
    state: Path | None = None,
    connection: Any = None,
) -> AsyncIterator[EventService]:
    """The service for ``mode`` (push: receiver; follow: Event Log follower on ``client``), running.
    Passing the ``hub`` of a previous service switches sources on one stream (no gap, no repeat).
    With ``connection`` (the replicas' :class:`~close_mcp.redis_store.RedisConnection`), events reach
    every replica through the shared stream and only the holder of the follow lease follows."""
    hub = hub or EventHub(store or MemoryStore(), object_uris(templates))
    if connection is not None and hub.fanout is None:
        hub.fanout = StreamFanout(hub, connection)
    ring = keys or KeyRing()
    service = EventService(mode, hub, ring, public_url=public_url, webhook_path=webhook_path)
    if state is not None:
        await load_state(hub, state)
    async with anyio.create_task_group() as tg:
        if hub.fanout is not None:
            tg.start_soon(hub.fanout.run)
        if mode == "push":
            service.receiver = WebhookReceiver(hub, ring, tolerance=tolerance, max_body=max_body)
            await service.receiver.run(tg)
        elif mode == "follow":
            if client is None:
                raise ValueError("follow mode needs a Close client")
            # Replicas: a lease of three max pauses (at least 3 s), renewed every round.
            lease = (uuid4().hex, max(3.0, 3 * max_interval)) if connection is not None else None
            service.follower = EventLogFollower(
                client, hub, min_interval=min_interval, max_interval=max_interval, lease=lease
            )
            if lease is None:
                await service.follower.start_position()  # the lease holder finds it in its first round
            tg.start_soon(service.follower.run)
        try:
            yield service
        finally:
            tg.cancel_scope.cancel()
            if state is not None:
                save_state(hub, state)
