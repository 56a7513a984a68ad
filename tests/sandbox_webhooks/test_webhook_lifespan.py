"""The dispatcher wired as the sandbox will wire it: started and stopped by a Starlette app's
lifespan on uvicorn, ``submit`` called from a request handler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import anyio
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from close_mcp.sandbox.webhook_delivery import WebhookDispatcher
from close_mcp.uvicorn_runner import bind, serve_app_on

from ._receiver import HANG, Receiver, make_event, wait_for
from .conftest import FAST

pytestmark = pytest.mark.anyio


async def test_lifespan_runs_the_dispatcher_and_shuts_it_down_cleanly(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    receiver.script("hang", HANG)
    events = [{"object_type": "lead", "action": "created"}]
    subs = [receiver.subscription("ok", events), receiver.subscription("hang", events)]
    hooks = WebhookDispatcher(replace(FAST, timeout=60, base_delay=60, max_delay=60))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with hooks:
            yield

    async def emit(request: Request) -> Response:  # stands in for a write route's event hook
        return JSONResponse({"queued": hooks.submit(await request.json(), subs)})

    app = Starlette(routes=[Route("/emit", emit, methods=["POST"])], lifespan=lifespan)
    sock = bind("127.0.0.1", 0)
    try:
        with anyio.fail_after(10):  # a stop that waited for the 60 s timeout or backoff fails here
            async with serve_app_on(app, sock):
                base = f"http://127.0.0.1:{sock.getsockname()[1]}"
                async with httpx2.AsyncClient(base_url=base) as client:
                    answer = await client.post("/emit", json=make_event())
                assert answer.json() == {"queued": [s["id"] for s in subs]}
                await wait_for(lambda: hooks.health(subs[0]["id"])["counters"].get("delivered") == 1)
                await wait_for(lambda: receiver.to("hang"))  # still in flight when the server stops
    finally:
        sock.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    with pytest.raises(RuntimeError, match="not running"):
        hooks.submit(make_event(), subs)
