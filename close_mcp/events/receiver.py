"""``POST /webhooks/close``: Close's signed deliveries into the hub.

Checks, in order, each refusal a 4xx that changes nothing and is counted (``/healthz`` shows the
counts): body size (413), the two signature headers (400), timestamp within the tolerance (401,
"stale"), signature against the accepted keys in constant time (401), JSON shape (400), the exact
delivery seen before (409, "replayed": same signature, so same timestamp and body). A delivery that
passes is answered 202 at once and published after; an event ID published before (Close retrying
after a lost answer, or a rotation overlap) is dropped there, so subscribers get it once.

Nothing of a refused request is logged beyond its reason; never a key, a signature or the body.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from close_mcp.events.hub import EventHub
from close_mcp.events.keyring import KeyRing
from close_mcp.events.signature import SIG_HEADER, TIMESTAMP_HEADER, signature_matches, timestamp_age
from close_mcp.redis_store import SharedStateUnavailable
from close_mcp.shared_store import MemoryStore, hashed

log = logging.getLogger("close_mcp.events.receiver")
QUEUE = 10_000  # accepted deliveries waiting to be published; beyond, 503 and Close retries


class _TooLarge(Exception):
    pass


class WebhookReceiver:
    """The endpoint and its counters. Needs :meth:`start` (a task group) to publish."""

    def __init__(
        self,
        hub: EventHub,
        keys: KeyRing,
        *,
        tolerance: float = 300.0,
        max_body: int = 1_000_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.hub, self.keys, self.tolerance, self.max_body, self.clock = hub, keys, tolerance, max_body, clock
        self.counts: Counter[str] = Counter()
        self._send: MemoryObjectSendStream[dict[str, Any]] | None = None
        self._local = MemoryStore()  # replay records while the replicas' store is away (Redis down)

    async def run(self, task_group: TaskGroup) -> None:
        """Start publishing accepted deliveries in the background (one task: order is kept)."""
        self._send, receive = anyio.create_memory_object_stream[dict[str, Any]](QUEUE)
        task_group.start_soon(self._publish_forever, self._send, receive)

    async def _publish_forever(
        self, send: MemoryObjectSendStream[dict[str, Any]], receive: MemoryObjectReceiveStream[dict[str, Any]]
    ) -> None:
        with send:
            async with receive:
                async for event in receive:
                    try:
                        await self.hub.publish(event, "push")
                    except Exception:
                        log.exception("publishing a webhook event failed")

    def _refuse(self, reason: str, status: int, message: str) -> Response:
        self.counts[f"refused_{reason}"] += 1
        log.info("webhook delivery refused: %s", reason)
        return JSONResponse({"error": message}, status_code=status)

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise _TooLarge
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def handle(self, request: Request) -> Response:
        try:
            body = await self._body(request)
        except _TooLarge:
            return self._refuse("too_large", 413, f"Webhook body over {self.max_body} bytes.")
        except ClientDisconnect:
            return self._refuse("disconnected", 400, "The request ended early.")
        signature = request.headers.get(SIG_HEADER, "")
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        if not signature or not timestamp:
            return self._refuse("unsigned", 400, f"Missing {SIG_HEADER} or {TIMESTAMP_HEADER} header.")
        age = timestamp_age(timestamp, self.clock())
        if age is None or age > self.tolerance:
            return self._refuse("stale", 401, f"{TIMESTAMP_HEADER} is outside the accepted window.")
        if not signature_matches(self.keys.accepted_keys(self.clock()), timestamp, body, signature):
            return self._refuse("bad_signature", 401, "The signature does not match a subscription key.")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return self._refuse("malformed", 400, "The body is not JSON.")
        event = payload.get("event") if isinstance(payload, dict) else None
        if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"]:
            return self._refuse("malformed", 400, "Expected {'event': {'id': …}, 'subscription_id': …}.")
        # A replay is this very delivery again (Close signs each attempt afresh, so a retry differs).
        replay_key = f"hook:sig:{hashed(signature.strip().lower())}"
        if not await self._claim(replay_key, 2 * self.tolerance):
            return self._refuse("replayed", 409, "This delivery was already received.")
        try:
            if self._send is None:
                raise anyio.WouldBlock
            self._send.send_nowait(event)
        except (anyio.WouldBlock, anyio.ClosedResourceError):
            await self._forget(replay_key)  # let Close's retry through later
            self.counts["busy"] += 1
            return JSONResponse({"error": "Busy; retry later."}, status_code=503)
        self.counts["accepted"] += 1
        return JSONResponse({"accepted": event["id"]}, status_code=202)

    async def _claim(self, key: str, ttl: float) -> bool:
        """Claim in the replicas' store; while it is away (Redis down, the hub publishes what this
        replica receives itself), in this process's, so a replay is still refused here."""
        try:
            return await self.hub.store.claim(key, "1", ttl)
        except SharedStateUnavailable:
            self.counts["unshared"] += 1
            return await self._local.claim(key, "1", ttl)

    async def _forget(self, key: str) -> None:
        await self._local.delete(key)
        with contextlib.suppress(SharedStateUnavailable):
            await self.hub.store.delete(key)

    def stats(self) -> dict[str, Any]:
        return dict(self.counts)
