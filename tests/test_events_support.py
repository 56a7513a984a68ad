"""Helpers of the events tests (no tests here): the real remote server with live events on a free
loopback port, MCP clients that record ``notifications/resources/updated``, and signed deliveries."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
from conftest import SPECS, settings_for_tests
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from close_mcp.app import RemoteApp, Upstream, open_remote_app
from close_mcp.credentials import Credential
from close_mcp.http_app import RemoteConfig
from close_mcp.sandbox import RunningSandbox
from close_mcp.sandbox.webhook_delivery import DeliveryPolicy, signed_headers
from close_mcp.settings import Settings
from close_mcp.uvicorn_runner import bind, serve_app_on

# Close's retry schedule, shortened so a retry comes within milliseconds (loopback http allowed).
FAST = DeliveryPolicy(base_delay=0.05, max_delay=0.2, max_age=60, timeout=5, allow_loopback_http=True)
KEY = "ab" * 32  # a subscription's signature_key: 64 hex characters


@dataclass
class EventsServer:
    base: str
    remote: RemoteApp
    settings: Settings

    @property
    def hook_url(self) -> str:
        return self.base + self.settings.webhook_path


@asynccontextmanager
async def events_server(sandbox: RunningSandbox, keys: Path, **overrides: Any) -> AsyncIterator[EventsServer]:
    """``close-mcp serve`` in push mode (or as ``overrides`` say) on loopback, its public URL its own."""
    sock = bind("127.0.0.1", 0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = replace(
        settings_for_tests(sandbox=True),
        **{"events": "push", "webhook_keys": keys, "public_url": base, **overrides},
    )
    config = RemoteConfig(port=sock.getsockname()[1])
    upstream = Upstream(sandbox.base_url, Credential(sandbox.api_key))
    try:
        async with (
            open_remote_app(settings, upstream, config, specs=SPECS) as remote,
            serve_app_on(remote.asgi, sock),
        ):
            yield EventsServer(base, remote, settings)
    finally:
        sock.close()


@dataclass
class Updates:
    """The ``notifications/resources/updated`` a client received, in order."""

    uris: list[str] = field(default_factory=list)

    async def __call__(self, message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            self.uris.append(str(message.params.uri))

    async def wait_for(self, uri: str, count: int = 1, timeout: float = 15) -> None:
        with anyio.fail_after(timeout):
            while self.uris.count(uri) < count:
                await anyio.sleep(0.01)


@asynccontextmanager
async def remote_listener(base: str, updates: Updates) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        Client(
            streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy", message_handler=updates
        ) as client,
    ):
        yield client


def delivery(
    event: dict[str, Any], key: str = KEY, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """A delivery as Close sends it: the body and its signed headers."""
    body = json.dumps({"event": event, "subscription_id": "whsub_test"}).encode()
    return body, signed_headers(key, body, timestamp if timestamp is not None else int(time.time()))


def an_event(n: int, lead_id: str = "lead_test1", action: str = "updated") -> dict[str, Any]:
    return {
        "id": f"ev_test{n}",
        "object_type": "lead",
        "object_id": lead_id,
        "lead_id": lead_id,
        "action": action,
        "date_created": "2026-12-01T10:00:00.000000",
        "date_updated": f"2026-12-01T10:00:{n:02d}.000000",
        "changed_fields": ["name"],
        "data": {"id": lead_id, "display_name": f"Lead {n}"},
    }


async def poll(condition: Callable[[], Any], timeout: float = 15) -> None:
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)
