"""``close-mcp webhooks subscribe|rotate|status``: the Close webhook subscription of this server.

``subscribe`` creates (or updates) the subscription pointing at ``CLOSE_MCP_PUBLIC_URL`` +
``CLOSE_MCP_WEBHOOK_PATH`` for the chosen object types and actions and stores its signature key in the
owner-only key file the server reads (``CLOSE_MCP_WEBHOOK_KEYS``); ``rotate`` replaces the key with an
overlap (see :mod:`close_mcp.events.subscriptions`); ``status`` lists what the key file holds. The
key is never printed. A running server re-reads the key file when it changes.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TextIO

from close_mcp.app import open_upstream
from close_mcp.client import CloseClient
from close_mcp.errors import CloseError
from close_mcp.events.keyring import KeyRing
from close_mcp.events.subscriptions import (
    DEFAULT_ACTIONS,
    DEFAULT_OBJECT_TYPES,
    ROTATION_OVERLAP,
    ensure_subscription,
    event_list,
)
from close_mcp.settings import Settings
from close_mcp.settings_error import SettingsError


@dataclass(frozen=True)
class WebhooksRequest:
    action: str  # subscribe, rotate or status
    object_types: tuple[str, ...] = DEFAULT_OBJECT_TYPES
    actions: tuple[str, ...] = DEFAULT_ACTIONS
    overlap: float = ROTATION_OVERLAP


async def run_webhooks(settings: Settings, request: WebhooksRequest, out: TextIO = sys.stdout) -> int:
    path = settings.webhook_keys_path()
    if path is None:
        raise SettingsError(
            "set CLOSE_MCP_WEBHOOK_KEYS (--webhook-keys): the file the server reads keys from"
        )
    ring = KeyRing.load(path)
    if request.action == "status":
        print(json.dumps({"key_file": str(ring.path), "subscriptions": ring.describe()}, indent=1), file=out)
        return 0
    if not settings.public_url:
        raise SettingsError(
            "set CLOSE_MCP_PUBLIC_URL (or --public-url) to the https address where Close can reach this server"
        )
    url = settings.public_url.rstrip("/") + settings.webhook_path
    events = event_list(list(request.object_types), list(request.actions))
    async with open_upstream(settings) as upstream:
        credential = upstream.credential or settings.require_credential()
        async with CloseClient(credential, upstream.base_url, timeout=settings.http_timeout) as client:
            try:
                outcome = await ensure_subscription(
                    client, ring, url, events, rotate=request.action == "rotate", overlap=request.overlap
                )
            except CloseError as exc:
                print(f"close-mcp: Close refused the subscription: {exc}", file=sys.stderr)
                return 1
    print(json.dumps({**outcome, "key_file": str(ring.path)}, indent=1), file=out)
    return 0
