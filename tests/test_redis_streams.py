"""Resumable streamable-HTTP streams: sessions kept apart although they reuse request ids, replay with
``Last-Event-ID`` on the replica that holds the session, and the stores' bounds."""

from __future__ import annotations

import json

import anyio
import httpx2
import mcp_types
import pytest
from redis_helpers import raw_session
from remote_helpers import remote_server

from close_mcp.event_store import MAX_EVENTS, MemoryEventStore, RedisEventStore
from close_mcp.redis_store import RedisConnection

pytestmark = pytest.mark.anyio


async def _events(lines: httpx2.Response, until_id: int) -> list[dict[str, str]]:
    """SSE events until the JSON-RPC response with id ``until_id``."""
    events, current = [], {}
    async for line in lines.aiter_lines():
        if not line:
            if current:
                events.append(current)
                data = current.get("data")
                if data and json.loads(data).get("id") == until_id:
                    return events
            current = {}
            continue
        name, _, value = line.partition(":")
        current[name] = value.removeprefix(" ")
    return events


async def _call(
    http: httpx2.AsyncClient, base: str, session: dict[str, str], tool: str
) -> list[dict[str, str]]:
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool, "arguments": {}}}
    async with http.stream("POST", f"{base}/mcp", headers=session, json=call) as response:
        return await _events(response, 7)


async def test_sessions_reusing_request_ids_replay_only_their_own_stream(shared_sandbox):
    async with remote_server(shared_sandbox) as base, httpx2.AsyncClient(timeout=30) as http:
        alice, bob = await raw_session(http, base), await raw_session(http, base)
        alice_events = await _call(http, base, alice, "get_current_user")
        bob_events = await _call(http, base, bob, "list_users")  # the same request id, 7
        priming = alice_events[0]
        assert priming["id"] and not priming.get("data")
        assert bob_events[0]["id"] != priming["id"]

        headers = {**alice, "last-event-id": priming["id"]}
        with anyio.fail_after(10):
            async with http.stream("GET", f"{base}/mcp", headers=headers) as replay:
                replayed = await _events(replay, 7)
        messages = [json.loads(e["data"]) for e in replayed if e.get("data")]
        assert messages == [json.loads(e["data"]) for e in alice_events if e.get("data")]
        assert "Dana" in json.dumps(messages) and "list_users" not in json.dumps(messages)

        # Bob's session id with Alice's event id: not Bob's stream, nothing replayed.
        with anyio.fail_after(10):
            stolen = await http.get(f"{base}/mcp", headers={**bob, "last-event-id": priming["id"]})
        assert "Dana" not in stolen.text


def _message(n: int) -> mcp_types.JSONRPCMessage:
    return mcp_types.jsonrpc_message_adapter.validate_python(
        {"jsonrpc": "2.0", "method": "x", "params": {"n": n}}
    )


async def test_the_memory_store_is_bounded_in_sessions_and_characters():
    store = MemoryEventStore(max_sessions=50, max_chars=5_000)
    for n in range(500):  # outside any request, every event is its own session
        await store.store_event("1", _message(n))
    assert store.chars <= 5_000 and len(store._sessions) <= 50
    last = await store.store_event("1", _message(9))
    assert await store.events_after(last) == ("1", [])


async def test_a_redis_stream_keeps_the_last_events_and_is_seen_by_every_replica(shared_redis):
    first, second = RedisConnection(shared_redis.url), RedisConnection(shared_redis.url)
    try:
        one, two = RedisEventStore(first, prefix="streams:"), RedisEventStore(second, prefix="streams:")
        from close_mcp.event_store import Namespace, _namespace

        token = _namespace.set(Namespace("0123abcd"))  # as SessionStreams does for a session's request
        try:
            ids = [await one.store_event("7", _message(n)) for n in range(MAX_EVENTS + 50)]
        finally:
            _namespace.reset(token)
        found = await two.events_after(ids[-10])
        assert found is not None and found[0] == "7" and len(found[1]) == 9
        assert await two.events_after(ids[0]) is None  # trimmed: the stream keeps about MAX_EVENTS
        assert await two.events_after("not-an-id") is None
    finally:
        await first.aclose()
        await second.aclose()
