"""Running an ASGI app on uvicorn over a socket bound up front (port known before start-up)."""

from __future__ import annotations

import asyncio
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


TICK_SECONDS = 1.0  # uvicorn ticks every 0.1 s; its work (the Date header, exit checks) is per second


class QuietServer(uvicorn.Server):
    """uvicorn's server ticking once a second instead of ten times, and woken at once to stop.

    An idle server's tick is its only steady allocation (a timer, a future, a context every 0.1 s),
    and those short-lived objects keep re-filling whatever half-empty memory pool they find, so the
    pools a burst of sessions emptied stay resident (issue 17). Once a second still refreshes the Date
    header on time; setting ``should_exit`` wakes the loop, so stopping is as quick as before."""

    _wake: asyncio.Event | None = None
    _exit = False

    @property
    def should_exit(self) -> bool:
        return self._exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._exit = value
        if value and self._wake is not None:
            self._wake.set()

    async def main_loop(self) -> None:
        self._wake = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 10) % 864000  # on_tick's once-a-second work runs at every tick
            with anyio.move_on_after(TICK_SECONDS):
                await self._wake.wait()
            should_exit = await self.on_tick(counter)


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
    server = QuietServer(config)
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
