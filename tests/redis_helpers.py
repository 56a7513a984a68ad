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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio


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
