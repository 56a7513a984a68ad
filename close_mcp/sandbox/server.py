"""Serving the sandbox for real: uvicorn on 127.0.0.1, in-process or from the CLI.

``run_sandbox()`` is an async context manager yielding a :class:`RunningSandbox` (its
``base_url`` ends in ``/api/v1``). It binds the socket first, so the port is known before
the server starts, and returns once uvicorn is accepting connections.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import uvicorn

from close_mcp.sandbox.app import API_PREFIX, Sandbox, SandboxConfig
from close_mcp.sandbox.faults import DropConnection
from close_mcp.sandbox.ids import IdFactory
from close_mcp.sandbox.store import OrgStore
from close_mcp.uvicorn_runner import bind, serve_app_on


class _HideDroppedConnections(logging.Filter):
    """A dropped connection is an injected fault, not a server error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DropConnection)


logging.getLogger("uvicorn.error").addFilter(_HideDroppedConnections())
_STATE_FIELDS = [f.name for f in fields(OrgStore) if f.name != "ids"]


@dataclass
class RunningSandbox:
    sandbox: Sandbox
    host: str
    port: int
    server: uvicorn.Server

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def api_key(self) -> str:
        return self.sandbox.api_key


def save_state(sandbox: Sandbox, path: Path) -> None:
    data = {"orgs": [{name: getattr(org, name) for name in _STATE_FIELDS} for org in sandbox.orgs]}
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def load_state(path: Path) -> list[OrgStore]:
    data = json.loads(path.read_text())
    return [OrgStore(ids=IdFactory(random.Random()), **org) for org in data["orgs"]]


def build_sandbox(config: SandboxConfig, state_file: Path | None = None) -> Sandbox:
    orgs = load_state(state_file) if state_file and state_file.exists() else None
    return Sandbox(config, orgs=orgs)


@asynccontextmanager
async def run_sandbox(
    config: SandboxConfig | None = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    state_file: Path | None = None,
    sandbox: Sandbox | None = None,
) -> AsyncIterator[RunningSandbox]:
    sandbox = sandbox or build_sandbox(config or SandboxConfig(), state_file)
    sock = bind(host, port)
    actual_port = sock.getsockname()[1]
    try:
        async with serve_app_on(sandbox.app, sock) as server:
            yield RunningSandbox(sandbox, host, actual_port, server)
    finally:
        sock.close()
        if state_file:
            save_state(sandbox, state_file)
