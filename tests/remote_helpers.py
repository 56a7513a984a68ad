"""Start the real remote server (uvicorn on a free loopback port) and connect SDK clients to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from conftest import SPECS, settings_for_tests
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from close_mcp.app import Upstream, open_remote_app
from close_mcp.credentials import Credential
from close_mcp.http_app import RemoteConfig
from close_mcp.sandbox import RunningSandbox
from close_mcp.uvicorn_runner import bind, serve_app_on


@asynccontextmanager
async def remote_server(
    sandbox: RunningSandbox,
    config: RemoteConfig | None = None,
    server_key: bool = True,
    policy: Any = None,
    audit: Any = None,
) -> AsyncIterator[str]:
    config = config or RemoteConfig()
    config.validate()
    sock = bind(config.host, 0)
    config.port = sock.getsockname()[1]
    upstream = Upstream(sandbox.base_url, Credential(sandbox.api_key) if server_key else None)
    settings = settings_for_tests(sandbox=True)
    try:
        async with (
            open_remote_app(settings, upstream, config, specs=SPECS, policy=policy, audit=audit) as remote,
            serve_app_on(remote.asgi, sock),
        ):
            yield f"http://127.0.0.1:{config.port}"
    finally:
        sock.close()


@asynccontextmanager
async def remote_client(
    base: str, transport: str, headers: dict[str, str] | None = None
) -> AsyncIterator[Client]:
    headers = headers or {}
    if transport == "sse":
        async with Client(sse_client(f"{base}/sse", headers=headers), mode="legacy") as client:
            yield client
    else:
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy") as client,
        ):
            yield client


def mcp_post(body: dict[str, Any]) -> dict[str, Any]:
    return {"json": body, "headers": {"accept": "application/json, text/event-stream"}}
