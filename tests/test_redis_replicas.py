"""Three real ``close-mcp serve`` replicas, one Close (sandbox) key, one real redis-server.

* together they pace one count: the sandbox sees at most a stray 429, not one per replica per window;
* Redis killed mid-run: every call finishes within its wait budget, each write lands exactly once
  (unique markers), ``/healthz`` says the replicas pace per process; Redis back: sharing resumes;
* a client whose replica is killed resumes its stream on another one with ``Last-Event-ID``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any

import anyio
import httpx2
import pytest
from redis_helpers import STREAM_HEADERS, STREAM_VERSION, Replica, RunningRedis, raw_session, serve_replicas
from remote_helpers import remote_client

from close_mcp.credentials import Credential
from close_mcp.sandbox import FaultRule, RunningSandbox, SandboxConfig, run_sandbox
from close_mcp.shared_store import hashed

pytestmark = pytest.mark.anyio
WAIT_BUDGET = 10


async def _lead_names(sandbox: RunningSandbox) -> Counter[str]:
    names: Counter[str] = Counter()
    async with httpx2.AsyncClient(base_url=sandbox.base_url, auth=(sandbox.api_key, "")) as http:
        skip = 0
        while True:
            page = (await http.get("/lead/", params={"_skip": str(skip), "_limit": "200"})).json()
            names.update(lead["display_name"] for lead in page["data"])
            skip += len(page["data"])
            if not page["has_more"]:
                return names


async def _health(replica: Replica) -> dict[str, Any]:
    async with httpx2.AsyncClient() as http:
        return dict((await http.get(f"{replica.base}/healthz")).json())


async def _creates(replicas: list[Replica], markers: list[str], outcomes: dict[str, str]) -> None:
    """Each marker created once, through the replicas in turn, all at the same time."""

    async def one(replica: Replica, marker: str) -> None:
        with anyio.fail_after(WAIT_BUDGET + 20):  # the wait budget bounds every call; this bounds a hang
            async with remote_client(replica.base, "mcp") as client:
                result = await client.call_tool("create_lead", {"name": marker})
        outcomes[marker] = "error: " + result.content[0].text if result.is_error else "done"

    async with anyio.create_task_group() as tg:
        for n, marker in enumerate(markers):
            tg.start_soon(one, replicas[n % len(replicas)], marker)


def _markers(count: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"replica-{run}-{n}" for n in range(count)]


async def test_three_replicas_share_one_limit_survive_redis_going_away_and_share_again(redis_server):
    async with (
        run_sandbox(SandboxConfig(leads=5, rate_limit=5)) as sb,
        serve_replicas(
            3, sb.base_url, sb.api_key, redis_server.url, "--wait-budget", str(WAIT_BUDGET)
        ) as replicas,
    ):
        stats = sb.sandbox.stats
        outcomes: dict[str, str] = {}

        # 1. Redis up: 30 writes through 3 replicas at 5/s (about 6 windows) draw at most a stray 429
        #    or two (the goal is at most one per window); paced per process (step 2) they draw ~20.
        first = _markers(30)
        await _creates(replicas, first, outcomes)
        assert all(outcomes[m] == "done" for m in first), outcomes
        assert stats.statuses[429] <= 2, stats.statuses
        assert all([(await _health(r))["shared_state"]["ok"] for r in replicas])

        # 2. Redis killed mid-run: calls go on, paced per process, none hangs, none lost or doubled.
        second = _markers(30)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_creates, replicas, second, outcomes)
            with anyio.fail_after(30):
                while stats.count("POST", "/lead/") < 40:
                    await anyio.sleep(0.01)
            await redis_server.stop()
        with anyio.fail_after(10):
            while (await _health(replicas[0]))["status"] != "degraded":
                async with remote_client(replicas[0].base, "mcp") as client:
                    await client.call_tool("get_current_user", {})
        health = await _health(replicas[0])
        assert "per process" in health["warnings"][0] and "redis://" not in json.dumps(health)

        # 3. Redis back (empty, as after a restart): the replicas share again by themselves.
        await redis_server.start()
        with anyio.fail_after(20):
            for replica in replicas:
                while not (await _health(replica))["shared_state"]["ok"]:
                    async with remote_client(replica.base, "mcp") as client:
                        await client.call_tool("get_current_user", {})
        shared_again = time.monotonic()  # the sandbox runs in this process: one clock
        third = _markers(30)
        await _creates(replicas, third, outcomes)
        # The goal (issue 17): at most one 429 per window of the group, counted by the sandbox. Per
        # process (step 2) the same writes draw ~20-26. (A pooled Redis connection the restart closed
        # no longer sends a replica to per-process pacing: it was 5-6 429s in one window before.)
        refused = sb.sandbox.limiter.refused
        third_windows = {key: n for key, n in refused.items() if key[3] >= shared_again}
        assert max(third_windows.values(), default=0) <= 1, third_windows

        names = await _lead_names(sb)
        for marker in first + second + third:
            expected = 1 if outcomes[marker] == "done" else 0
            assert names[marker] == expected, (marker, outcomes[marker])
        assert sum(outcomes[m] == "done" for m in first + second + third) >= 85, outcomes

        # Nothing secret in Redis: bucket keys carry the hashed credential, never the key.
        import redis

        keys = redis.Redis(port=redis_server.port, decode_responses=True).keys("*")
        assert keys and not any(sb.api_key in k for k in keys)
        assert any(
            k.startswith(f"close-mcp:rl:{hashed(Credential(sb.api_key).fingerprint)}:b:") for k in keys
        )


def _sse_events(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if fields:
            events.append(fields)
    return events


async def test_a_client_resumes_its_stream_on_another_replica_after_its_replica_dies(redis_server):
    """The client's connection drops after the first event of a slow write; the write finishes on
    replica 1, which then dies; the client asks replica 2 with Last-Event-ID and gets the result.
    (A write, because a read whose client went away may be cancelled rather than finished.)"""
    async with (
        run_sandbox(SandboxConfig(leads=5)) as sb,
        serve_replicas(2, sb.base_url, sb.api_key, redis_server.url) as (one, two),
        httpx2.AsyncClient(timeout=30) as http,
    ):
        session = await raw_session(http, one.base)
        sb.sandbox.faults.add(FaultRule("latency", path="/lead/", method="POST", delay=1.0))
        marker = _markers(1)[0]
        call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call"}
        call["params"] = {"name": "create_lead", "arguments": {"name": marker}}
        async with http.stream("POST", f"{one.base}/mcp", headers=session, json=call) as stream:
            lines = stream.aiter_lines()
            first: dict[str, str] = {}
            while "id" not in first:  # the priming event: an id, no message yet
                line = await anext(lines)
                if line.startswith("id:"):
                    first["id"] = line.partition(":")[2].strip()
        # The connection is gone; replica 1 finishes the call and stores the answer in Redis.
        import redis.asyncio as aioredis

        store = aioredis.Redis(port=redis_server.port, decode_responses=True)
        key = f"close-mcp:ev:{hashed(session['mcp-session-id'])}"
        try:
            with anyio.fail_after(15):
                while not any(f["stream"] == "7" and f["message"] for _, f in await store.xrange(key)):
                    await anyio.sleep(0.05)
            stored = await store.xrange(key)
        finally:
            await store.aclose()
        one.kill()

        other = {**session, "mcp-session-id": uuid.uuid4().hex, "last-event-id": first["id"]}
        assert (await http.get(f"{two.base}/mcp", headers=other)).status_code == 404  # not its stream
        resumed = await http.get(f"{two.base}/mcp", headers={**session, "last-event-id": first["id"]})
        assert resumed.status_code == 200
        events = _sse_events(resumed.text)
        messages = [json.loads(e["data"]) for e in events if e.get("data")]
        answer = next(m for m in messages if m.get("id") == 7)
        assert "result" in answer and not answer["result"].get("isError")
        assert marker in json.dumps(answer) and (await _lead_names(sb))[marker] == 1
        # Missing nothing: every message stored for this stream after the priming event came back.
        after = [f for _, f in stored if f["stream"] == "7" and f["message"]]
        assert [json.loads(f["message"]) for f in after] == messages

        # The session lived in replica 1: replica 2 says so, and the client starts a new one there.
        again = await http.post(f"{two.base}/mcp", headers=session, json={**call, "id": 8})
        assert again.status_code == 404
        fresh = await raw_session(http, two.base)
        assert fresh["mcp-session-id"] != session["mcp-session-id"]


async def test_stateless_replicas_with_redis_keep_working(redis_server):
    async with (
        run_sandbox(SandboxConfig(leads=5)) as sb,
        serve_replicas(2, sb.base_url, sb.api_key, redis_server.url, "--stateless") as replicas,
    ):
        for replica in replicas:  # any replica answers any call: no session to find
            async with remote_client(replica.base, "mcp") as client:
                assert not (await client.call_tool("get_current_user", {})).is_error


async def test_an_unknown_event_id_is_a_plain_404(redis_server: RunningRedis):
    async with (
        run_sandbox(SandboxConfig(leads=5)) as sb,
        serve_replicas(1, sb.base_url, sb.api_key, redis_server.url) as (one,),
        httpx2.AsyncClient(timeout=30) as http,
    ):
        session = {
            **STREAM_HEADERS,
            "mcp-session-id": uuid.uuid4().hex,
            "mcp-protocol-version": STREAM_VERSION,
        }
        response = await http.get(f"{one.base}/mcp", headers={**session, "last-event-id": "nope:3"})
        assert response.status_code == 404 and "initialize a new session" in response.text
