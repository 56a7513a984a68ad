from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from close_mcp.sandbox.webhook_delivery import DeliveryPolicy
from close_mcp.uvicorn_runner import bind, serve_app_on

from ._receiver import Receiver

# Fast schedule so retries finish in milliseconds; loopback http allowed for the receiver.
FAST = DeliveryPolicy(
    base_delay=0.02, max_delay=0.1, max_age=60, timeout=5, backlog_cap=1_000, allow_loopback_http=True
)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    sock = bind("127.0.0.1", 0)
    rec = Receiver(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}")
    try:
        async with serve_app_on(rec.app(), sock):
            try:
                yield rec
            finally:
                rec.release.set()  # let hanging handlers finish before the server stops
    finally:
        sock.close()
