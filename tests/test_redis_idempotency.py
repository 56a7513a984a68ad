"""``idempotency_key`` across replicas: two remote servers sharing one real redis-server and one sandbox
key; a create repeated with the same key on the other replica returns the first object and writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from conftest import SPECS, payload, settings_for_tests
from remote_helpers import remote_client

from close_mcp.app import Upstream, open_remote_app
from close_mcp.credentials import Credential
from close_mcp.http_app import RemoteConfig
from close_mcp.sandbox import RunningSandbox
from close_mcp.uvicorn_runner import bind, serve_app_on

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def replica(sandbox: RunningSandbox, redis_url: str) -> AsyncIterator[str]:
    config = RemoteConfig()
    sock = bind(config.host, 0)
    config.port = sock.getsockname()[1]
    upstream = Upstream(sandbox.base_url, Credential(sandbox.api_key))
    settings = settings_for_tests(sandbox=True, redis_url=redis_url)
    try:
        async with (
            open_remote_app(settings, upstream, config, specs=SPECS) as remote,
            serve_app_on(remote.asgi, sock),
        ):
            assert remote.app.shared is not None and remote.app.shared.store.kind == "redis"
            yield f"http://127.0.0.1:{config.port}"
    finally:
        sock.close()


async def test_a_repeat_on_another_replica_returns_the_first_object(sandbox, redis_server):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    args = {"lead_id": lead_id, "note": "idem-replicas", "idempotency_key": "across-1"}
    async with (
        replica(sandbox, redis_server.url) as a,
        replica(sandbox, redis_server.url) as b,
        remote_client(a, "streamable-http") as on_a,
        remote_client(b, "streamable-http") as on_b,
    ):
        first = await on_a.call_tool("create_note", args)
        again = await on_b.call_tool("create_note", args)
        other = await on_b.call_tool("create_note", {**args, "note": "idem-replicas changed"})
    assert not first.is_error and not again.is_error, (first.content, again.content)
    assert payload(again)["id"] == payload(first)["id"]
    written = [a["id"] for a in store.activities.values() if a.get("note") == "idem-replicas"]
    assert written == [payload(first)["id"]]
    assert sandbox.sandbox.stats.count("POST", "/activity/note/") == 1
    assert other.is_error and "idempotency_key" in other.content[0].text  # same key, other arguments
