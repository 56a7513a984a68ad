"""A real ``redis-server`` on a free loopback port, for the tests that share state across replicas.

Never skipped: CI installs ``redis-server`` (``.ci/run``); a machine without it fails loudly here with
the command that fixes it. No persistence (``--save '' --appendonly no``); the process is killed at
the end. :meth:`RunningRedis.stop` / :meth:`RunningRedis.start` let a test take Redis away mid-run and
bring it back on the same port.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import httpx2

from bench.remote_load import PROTOCOL_VERSION, open_raw_session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError(
            "redis-server is not installed: the Redis tests need it (apt-get install -y redis-server)"
        )
    return found


async def _answers_ping(port: int) -> bool:
    try:
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(b"PING\r\n")
            with anyio.fail_after(1):
                return (await stream.receive()).startswith(b"+PONG")
    except (OSError, TimeoutError):
        return False


@dataclass
class RunningRedis:
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                _redis_server(),
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
                *("--protected-mode", "no", "--loglevel", "warning"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.starts += 1
        with anyio.fail_after(10):
            while not await _answers_ping(self.port):
                if self.process.poll() is not None:
                    err = self.process.stderr.read().decode() if self.process.stderr else ""
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}: {err}")
                await anyio.sleep(0.02)

    async def stop(self) -> None:
        """Kill Redis (SIGKILL: as if the machine went away); its data is gone."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None


@asynccontextmanager
async def run_redis() -> AsyncIterator[RunningRedis]:
    redis = RunningRedis(free_port())
    await redis.start()
    try:
        yield redis
    finally:
        await redis.stop()


@dataclass
class Replica:
    """One real ``close-mcp serve`` process."""

    base: str
    process: subprocess.Popen[str]

    def kill(self) -> None:
        """SIGKILL: the replica dies without a goodbye, as a crashed machine would."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


@asynccontextmanager
async def serve_replicas(
    count: int,
    base_url: str,
    api_key: str,
    redis_url: str | None,
    *extra: str,
    env_for: Callable[[int], dict[str, str]] | None = None,
) -> AsyncIterator[list[Replica]]:
    """``count`` replicas of one deployment: same Close key, same Redis (or none), own ports; ``env_for(n)``
    adds replica ``n``'s own variables (its state files)."""
    import os
    import sys

    from close_mcp.uvicorn_runner import wait_until_serving

    env = {
        "PATH": os.environ.get("PATH", ""),
        "CLOSE_API_KEY": api_key,
        "CLOSE_API_BASE_URL": base_url,
        "CLOSE_MCP_AUDIT_LOG": "off",
        **({"CLOSE_MCP_REDIS_URL": redis_url} if redis_url else {}),
    }
    replicas: list[Replica] = []
    try:
        for n in range(count):
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "close_mcp", "serve", "--port", str(port), *extra],
                env={**env, **(env_for(n) if env_for else {})},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            replicas.append(Replica(f"http://127.0.0.1:{port}", process))
        for replica in replicas:
            await wait_until_serving(f"{replica.base}/healthz", timeout=30)
        yield replicas
    finally:
        for replica in replicas:
            if replica.process.poll() is None:
                replica.process.terminate()
        for replica in replicas:
            try:
                replica.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                replica.kill()


# Raw streamable-HTTP sessions, for the tests that resume a stream by Last-Event-ID on another replica.
STREAM_VERSION = PROTOCOL_VERSION  # the first protocol version whose streams open with a priming event
STREAM_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


async def raw_session(http: httpx2.AsyncClient, base: str) -> dict[str, str]:
    """Initialize a streamable-HTTP session by hand; the headers its later requests carry."""
    return {**await open_raw_session(http, base), **STREAM_HEADERS}
