"""Shared fixtures: a real sandbox on loopback and a real MCP client session against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

import httpx2
import pytest
from mcp import Client

from close_mcp.client import CloseClient, Credential
from close_mcp.executor import Executor
from close_mcp.manifest import load_manifests
from close_mcp.sandbox import RunningSandbox, SandboxConfig, run_sandbox
from close_mcp.server import build_server

SPECS = load_manifests()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(SandboxConfig()) as running:
        yield running


@pytest.fixture
async def http(sandbox: RunningSandbox) -> AsyncIterator[httpx2.AsyncClient]:
    """A plain httpx2 client on the sandbox, authenticated with the demo key."""
    async with httpx2.AsyncClient(base_url=sandbox.base_url, auth=(sandbox.api_key, "")) as client:
        yield client


@asynccontextmanager
async def connect(
    sandbox: RunningSandbox,
    *,
    key: str | None = None,
    output_budget: int = 20_000,
    wait_budget: float = 60.0,
    policy: Any = None,
    audit: Any = None,
    elicitation_callback: Any = None,
    **client_kw: Any,
) -> AsyncIterator[Client]:
    """A real MCP client session (legacy JSON-RPC over memory streams) on a real server."""
    executor = Executor(SPECS, output_budget=output_budget)
    async with CloseClient(
        Credential(key or sandbox.api_key), sandbox.base_url, wait_budget=wait_budget, **client_kw
    ) as close:
        server = build_server(SPECS, executor, lambda _ctx: nullcontext(close), policy=policy, audit=audit)
        async with Client(server, mode="legacy", elicitation_callback=elicitation_callback) as client:
            yield client


@pytest.fixture
def mcp_connect(sandbox: RunningSandbox) -> Callable[..., AbstractAsyncContextManager[Client]]:
    return lambda **kw: connect(sandbox, **kw)


@pytest.fixture
async def mcp(sandbox: RunningSandbox) -> AsyncIterator[Client]:
    async with connect(sandbox) as client:
        yield client


def text_of(result: Any) -> str:
    return result.content[0].text
