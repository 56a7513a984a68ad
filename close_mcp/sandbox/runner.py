"""Serving the sandbox for real: uvicorn on 127.0.0.1, in-process or from the CLI.

``run_sandbox()`` is an async context manager yielding a :class:`RunningSandbox` (its
``base_url`` ends in ``/api/v1``). It binds the socket first, so the port is known before
the server starts, and returns once uvicorn is accepting connections. With a
``state_file`` the organizations are loaded from it and saved back, atomically (temporary
file, then rename), when the block exits and on SIGTERM as well as SIGINT.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from close_mcp.sandbox.app import API_PREFIX, Sandbox, SandboxConfig
from close_mcp.sandbox.faults import DropConnection
from close_mcp.sandbox.ids import IdFactory
from close_mcp.sandbox.store import CUSTOM_FIELD_KINDS, OrgStore
from close_mcp.uvicorn_runner import bind, serve_app_on


class _HideDroppedConnections(logging.Filter):
    """A dropped connection is an injected fault, not a server error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DropConnection)


logging.getLogger("uvicorn.error").addFilter(_HideDroppedConnections())


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
    data = {"orgs": [{"org": o.org, "collections": o.collections, "events": o.events} for o in sandbox.orgs]}
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def load_state(path: Path) -> list[OrgStore]:
    orgs = []
    for org in json.loads(path.read_text())["orgs"]:
        if "collections" not in org:  # the format before the resource engine: one key per collection
            custom = org.pop("custom_fields", {})
            org = {"org": org.pop("org"), "events": org.pop("events", []), "collections": org}
            org["collections"].update({f"{k}_custom_fields": custom.get(k, {}) for k in CUSTOM_FIELD_KINDS})
        orgs.append(OrgStore(ids=IdFactory(random.Random()), **org))
    return orgs


def build_sandbox(config: SandboxConfig, state_file: Path | None = None) -> Sandbox:
    orgs = load_state(state_file) if state_file and state_file.exists() else None
    return Sandbox(config, orgs=orgs)


@contextmanager
def _save_on_sigterm(sandbox: Sandbox, state_file: Path | None) -> Iterator[list[uvicorn.Server]]:
    """uvicorn shuts down gracefully on SIGTERM, then re-raises it with the handler found at
    start-up; by default that kills the process before ``run_sandbox`` could save. This
    handler saves first. If uvicorn took the signal (its server is exiting), the shutdown
    goes on quietly, as after Ctrl-C; otherwise the default SIGTERM ends the process."""
    serving: list[uvicorn.Server] = []
    if state_file is None or threading.current_thread() is not threading.main_thread():
        yield serving
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> Any:
        save_state(sandbox, state_file)
        if not (serving and serving[0].should_exit):
            signal.signal(signum, previous)
            signal.raise_signal(signum)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield serving
    finally:
        signal.signal(signal.SIGTERM, previous)


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
        with _save_on_sigterm(sandbox, state_file) as serving:
            async with serve_app_on(sandbox.app, sock) as server:
                serving.append(server)
                yield RunningSandbox(sandbox, host, actual_port, server)
    finally:
        sock.close()
        if state_file:
            save_state(sandbox, state_file)
