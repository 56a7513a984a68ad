"""The Close webhook subscription of this server, managed for the user (command and tool alike).

:func:`ensure_subscription` creates the subscription pointing at ``<public URL><webhook path>`` for
the chosen events, or updates the one this server made before (found in the key ring), and stores
its ``signature_key`` in the :class:`~close_mcp.events.keyring.KeyRing`. With ``rotate`` it makes a
new subscription (a new key) and retires the old one after an overlap: both keys verify meanwhile,
so deliveries in flight or retried under the old key are not dropped, and dedupe by event ID keeps
the events both deliver from arriving twice. Retired subscriptions past their overlap are deleted
at the next call. What it returns never carries the key.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from close_mcp.client import CloseClient
from close_mcp.errors import NotFound
from close_mcp.events.keyring import KeyRing

DEFAULT_ACTIONS = ("created", "updated", "deleted")
DEFAULT_OBJECT_TYPES = ("lead", "contact", "opportunity", "task.lead")
ROTATION_OVERLAP = 24 * 3600.0  # Close retries for up to 72 h; most retries land within hours


def shown(subscription: dict[str, Any]) -> dict[str, Any]:
    """A subscription as the agent or the terminal may see it: never the signature key."""
    return {k: v for k, v in subscription.items() if k in ("id", "url", "events", "status", "date_updated")}


def event_list(object_types: list[str], actions: list[str]) -> list[dict[str, str]]:
    return [{"object_type": o, "action": a} for o in object_types for a in actions]


async def prune_retired(client: CloseClient, ring: KeyRing, now: float) -> list[str]:
    removed = []
    for sub_id, entry in list(ring.entries.items()):
        if entry.retire_at is not None and entry.retire_at <= now:
            with contextlib.suppress(NotFound):
                await client.request("DELETE", f"/webhook/{sub_id}/")
            ring.remove(sub_id)
            removed.append(sub_id)
    return removed


async def ensure_subscription(
    client: CloseClient,
    ring: KeyRing,
    url: str,
    events: list[dict[str, str]],
    *,
    rotate: bool = False,
    overlap: float = ROTATION_OVERLAP,
    now: float | None = None,
) -> dict[str, Any]:
    at = time.time() if now is None else now
    pruned = await prune_retired(client, ring, at)
    current = next((sid for sid, e in ring.entries.items() if e.url == url and e.retire_at is None), None)
    outcome: dict[str, Any] = {"pruned": pruned}
    if current is not None and not rotate:
        try:
            body = {"url": url, "events": events, "status": "active"}
            updated = (await client.request("PUT", f"/webhook/{current}/", json=body)).data or {}
            return {**outcome, "action": "updated", "subscription": shown(updated)}
        except NotFound:
            ring.remove(current)  # deleted in Close meanwhile: make a new one
            current = None
    created = (await client.request("POST", "/webhook/", json={"url": url, "events": events})).data or {}
    ring.put(str(created["id"]), str(created["signature_key"]), url)
    if current is not None:
        ring.retire(current, at + overlap)
        outcome["retiring"] = {"subscription_id": current, "after_seconds": overlap}
    return {**outcome, "action": "rotated" if current else "created", "subscription": shown(created)}
