"""Shared fixtures: real sandboxes on loopback and real MCP client sessions on the real server,
built by the same app builder as the CLI (:mod:`close_mcp.app`).

* ``sandbox``: a fresh sandbox per test (for tests that write);
* ``shared_sandbox``: one sandbox for the whole run, for tests that only read;
* :func:`connect`: an in-memory MCP session; :func:`session_on`: the same over any transport;
* ``redis_server``: a real ``redis-server`` per test (it may be killed); ``shared_redis``: one for the
  run, for tests that keep to their own key prefix (``redis_helpers.py``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from redis_helpers import RunningRedis, run_redis
from spec_responses import SpecResponses

from close_mcp.app import Upstream, open_local_app
from close_mcp.credentials import Credential
from close_mcp.manifest import load_manifests
from close_mcp.sandbox import RunningSandbox, SandboxConfig, run_sandbox
from close_mcp.settings import Settings

SPECS = load_manifests()
TRANSPORTS = ("memory", "stdio", "streamable_http", "sse")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


# Every answer of the fixtures' sandboxes is checked against Close's published response schemas:
# a test whose sandbox answered off the spec fails (tests/spec_responses.py lists observed deviations).
SPEC_CHECK = SpecResponses()


@pytest.fixture(autouse=True)
def _answers_match_the_spec() -> Iterator[None]:
    seen = len(SPEC_CHECK.mismatches)
    yield
    SPEC_CHECK.fail_on_new(seen)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SPEC_CHECK.checked:
        terminalreporter.write_line(SPEC_CHECK.summary())


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    async with run_sandbox(SandboxConfig()) as running:
        SPEC_CHECK.attach(running.sandbox)
        yield running


@pytest.fixture(scope="session")
async def shared_sandbox() -> AsyncIterator[RunningSandbox]:
    """One sandbox for every read-only test of the run: never write to it."""
    async with run_sandbox(SandboxConfig()) as running:
        SPEC_CHECK.attach(running.sandbox)
        yield running


@pytest.fixture
async def redis_server() -> AsyncIterator[RunningRedis]:
    async with run_redis() as running:
        yield running


@pytest.fixture(scope="session")
async def shared_redis() -> AsyncIterator[RunningRedis]:
    """One Redis for the run: tests using it keep to their own key prefix and never stop it."""
    async with run_redis() as running:
        yield running


@pytest.fixture
async def http(sandbox: RunningSandbox) -> AsyncIterator[httpx2.AsyncClient]:
    """A plain httpx2 client on the sandbox, authenticated with the demo key."""
    async with httpx2.AsyncClient(base_url=sandbox.base_url, auth=(sandbox.api_key, "")) as client:
        yield client


def settings_for_tests(**overrides: Any) -> Settings:
    """Settings as a user would set them, without reading this process's environment."""
    return replace(Settings.load(environ={}), **{"toolsets": ["all"], **overrides})


@asynccontextmanager
async def connect(
    sandbox: RunningSandbox,
    *,
    key: str | None = None,
    policy: Any = None,
    audit: Any = None,
    elicitation_callback: Any = None,
    message_handler: Any = None,
    logging_callback: Any = None,
    output_budget: int | None = None,
    wait_budget: float | None = None,
    settings: Settings | None = None,
    specs: Any = None,
    **client_options: Any,
) -> AsyncIterator[Client]:
    """A real MCP client session (legacy JSON-RPC over memory streams) on a real server."""
    overrides = {"output_budget": output_budget, "wait_budget": wait_budget}
    settings = settings or settings_for_tests(
        sandbox=True, **{k: v for k, v in overrides.items() if v is not None}
    )
    upstream = Upstream(sandbox.base_url, Credential(key or sandbox.api_key))
    async with (
        open_local_app(
            settings, upstream, specs=specs or SPECS, policy=policy, audit=audit, **client_options
        ) as app,
        Client(
            app.server,
            mode="legacy",
            elicitation_callback=elicitation_callback,
            message_handler=message_handler,
            logging_callback=logging_callback,
        ) as client,
    ):
        yield client


@asynccontextmanager
async def session_on(transport: str, sandbox: RunningSandbox) -> AsyncIterator[Client]:
    """The same MCP session over ``memory``, ``stdio`` (a real ``close-mcp`` process),
    ``streamable_http`` or ``sse`` (the real remote server on loopback)."""
    if transport == "memory":
        async with connect(sandbox) as client:
            yield client
    elif transport == "stdio":
        params = StdioServerParameters(
            command=sys.executable,
            args=[
                *("-m", "close_mcp", "--api-base-url", sandbox.base_url),
                *("--scope", "write_destructive", "--toolsets", "all"),
            ],
            env={"PATH": os.environ.get("PATH", ""), "CLOSE_API_KEY": sandbox.api_key},
        )
        async with Client(params, mode="legacy") as client:
            yield client
    else:
        from remote_helpers import remote_client, remote_server

        async with (
            remote_server(sandbox) as base,
            remote_client(base, "sse" if transport == "sse" else "mcp") as client,
        ):
            yield client


@pytest.fixture
def mcp_connect(sandbox: RunningSandbox) -> Callable[..., AbstractAsyncContextManager[Client]]:
    return lambda **kw: connect(sandbox, **kw)


@pytest.fixture
async def mcp(sandbox: RunningSandbox) -> AsyncIterator[Client]:
    async with connect(sandbox) as client:
        yield client


@pytest.fixture
async def mcp_shared(shared_sandbox: RunningSandbox) -> AsyncIterator[Client]:
    """A session on the shared sandbox: for read-only tests."""
    async with connect(shared_sandbox) as client:
        yield client


def text_of(result: Any) -> str:
    return result.content[0].text


def payload(result: Any) -> Any:
    """A tool result's data: its ``structuredContent`` when sent, else its text parsed as JSON.
    Tests read results through this, so they hold whichever form the server sends."""
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(text_of(result))
