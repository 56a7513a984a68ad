"""Running an ASGI app on uvicorn over a socket bound up front (port known before start-up)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import uvicorn
from starlette.types import ASGIApp


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit TCP_NODELAY on Linux. Without it, uvicorn's separate header and
    # body writes meet the client's delayed ACK and every keep-alive request stalls ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


@asynccontextmanager
async def serve_app_on(
    app: ASGIApp, sock: socket.socket, log_level: str = "warning", graceful_seconds: int = 2
) -> AsyncIterator[uvicorn.Server]:
    """Run an ASGI app on an already bound socket until the block exits."""
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="auto",
        timeout_graceful_shutdown=graceful_seconds,
        ws="none",
    )
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.005)
        try:
            yield server
        finally:
            server.should_exit = True


async def wait_until_serving(url: str, timeout: float = 15.0) -> None:
    """Poll ``url`` (e.g. a ``/healthz``) until it answers 200: readiness of a server in another process."""
    import httpx2

    async with httpx2.AsyncClient() as probe:
        with anyio.fail_after(timeout):
            while True:
                try:
                    if (await probe.get(url)).status_code == 200:
                        return
                except httpx2.TransportError:
                    pass
                await anyio.sleep(0.05)
