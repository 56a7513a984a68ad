"""Start the real remote server (uvicorn on a free loopback port) and connect SDK clients to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from conftest import SPECS
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from close_mcp.client import Credential
from close_mcp.client_pool import ClientPool
from close_mcp.executor import Executor
from close_mcp.remote import RemoteConfig, build_remote_app, pooled_client_provider
from close_mcp.sandbox import RunningSandbox
from close_mcp.server import build_server
from close_mcp.serving import bind, serve_app_on


@asynccontextmanager
async def remote_server(
    sandbox: RunningSandbox,
    config: RemoteConfig | None = None,
    server_key: bool = True,
    policy: Any = None,
    audit: Any = None,
) -> AsyncIterator[str]:
    config = config or RemoteConfig()
    if server_key and config.server_credential is None:
        config.server_credential = Credential(sandbox.api_key)
    config.validate()
    sock = bind(config.host, 0)
    config.port = sock.getsockname()[1]
    pool = ClientPool(sandbox.base_url)
    server = build_server(
        SPECS, Executor(SPECS), pooled_client_provider(pool, config), policy=policy, audit=audit
    )
    app = build_remote_app(server, config, len(SPECS))
    try:
        async with serve_app_on(app, sock):
            yield f"http://127.0.0.1:{config.port}"
    finally:
        await pool.aclose()
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
