"""Live events across replicas sharing one real redis-server and one sandbox key.

* push: a webhook delivered to replica A reaches a client subscribed on replica B, once (a retry of
  the same event delivered to B is dropped); with Redis killed, A still tells its own subscribers and
  ``/healthz`` says degraded; with Redis back, B hears A's events again;
* follow: of two replicas only the holder of the follow lease polls the Event Log (the sandbox's
  request count is the holder's); when it stops, the other takes the lease and the changes keep
  reaching its subscriber, each event once, in order; and with real ``close-mcp serve`` processes, a
  SIGKILLed holder (its lease never given back) is replaced once the lease expires.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx2
import pytest
from redis_helpers import run_redis, serve_replicas
from test_events_live import a_lead, hooked, lead_events, rename  # noqa: F401 (the fixture)
from test_events_support import (
    KEY,
    EventsServer,
    Updates,
    an_event,
    delivery,
    events_server,
    poll,
    remote_listener,
)

from close_mcp.events.keyring import KeyRing
from close_mcp.events.service import EventService
from close_mcp.sandbox import RunningSandbox

pytestmark = pytest.mark.anyio
FOLLOW = {"events": "follow", "follow_min_interval": 0.05, "follow_max_interval": 0.2}


def service_of(server: EventsServer) -> EventService:
    events = server.remote.app.events
    assert events is not None
    return events


@dataclass
class Replica:
    """An in-process remote server, run in its own task so it can be stopped before the others."""

    server: EventsServer
    stop_asked: anyio.Event = field(default_factory=anyio.Event)
    stopped: anyio.Event = field(default_factory=anyio.Event)

    async def stop(self) -> None:
        self.stop_asked.set()
        with anyio.fail_after(15):
            await self.stopped.wait()


async def _run_replica(
    sandbox: RunningSandbox,
    keys: Path,
    overrides: dict[str, Any],
    *,
    task_status: anyio.abc.TaskStatus[Replica],
) -> None:
    async with events_server(sandbox, keys, **overrides) as server:
        replica = Replica(server)
        task_status.started(replica)
        await replica.stop_asked.wait()
    replica.stopped.set()


@asynccontextmanager
async def replicas(
    count: int, sandbox: RunningSandbox, keys: Path, redis_url: str, **overrides: Any
) -> AsyncIterator[list[Replica]]:
    """``count`` in-process remote servers sharing ``redis_url``."""
    async with anyio.create_task_group() as tg:
        running = [
            await tg.start(partial(_run_replica, sandbox, keys, {"redis_url": redis_url, **overrides}))
            for _ in range(count)
        ]
        try:
            yield running
        finally:
            for replica in running:
                replica.stop_asked.set()


async def post(http: httpx2.AsyncClient, server: EventsServer, event: dict[str, Any], age: int = 0) -> None:
    """Deliver ``event`` signed ``age`` seconds ago (a retry is signed afresh: another timestamp)."""
    body, headers = delivery(event, timestamp=int(time.time()) - age)
    answer = await http.post(server.hook_url, content=body, headers=headers)
    assert answer.status_code == 202, answer.text


async def health(server: EventsServer) -> dict[str, Any]:
    async with httpx2.AsyncClient() as http:
        return dict((await http.get(f"{server.base}/healthz")).json())


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "webhook-keys.json"
    KeyRing.load(path).put("whsub_test", KEY, "http://127.0.0.1/webhooks/close")
    return path


async def test_push_a_webhook_to_one_replica_reaches_subscribers_on_the_others_once(
    sandbox, keys, redis_server
):
    uri = "close://lead/lead_test1"
    on_a, on_b = Updates(), Updates()
    async with (
        replicas(2, sandbox, keys, redis_server.url) as running,
        remote_listener(running[0].server.base, on_a) as client_a,
        remote_listener(running[1].server.base, on_b) as client_b,
        httpx2.AsyncClient(timeout=30) as http,
    ):
        a, b = (replica.server for replica in running)
        await client_a.subscribe_resource(uri)
        await client_b.subscribe_resource(uri)

        await post(http, a, an_event(1))
        await on_b.wait_for(uri)
        await post(http, b, an_event(1), age=2)  # Close retrying the same event, to the other replica
        await poll(lambda: service_of(b).hub.counts["duplicate_push"] == 1)
        await post(http, a, an_event(2))
        await on_b.wait_for(uri, 2)
        await on_a.wait_for(uri, 2)
        for server in (a, b):
            assert [e["id"] for e in service_of(server).hub.recent] == ["ev_test1", "ev_test2"]
        assert on_a.uris.count(uri) == on_b.uris.count(uri) == 2
        assert service_of(b).hub.counts["published_stream"] == 2
        assert service_of(a).hub.fanout is not None and service_of(a).hub.fanout.counts["appended"] == 2

        # Redis killed: A still publishes what it receives to its own subscribers; /healthz says so.
        await redis_server.stop()
        await post(http, a, an_event(3))
        await on_a.wait_for(uri, 3)
        state = await health(a)
        assert state["status"] == "degraded" and not state["shared_state"]["ok"]
        assert "redis://" not in str(state)

        # Redis back (empty): A appends what it kept meanwhile, and B hears A's events again, in order.
        await redis_server.start()
        await post(http, a, an_event(4))
        await on_b.wait_for(uri, 4)
        assert [e["id"] for e in service_of(b).hub.recent] == [f"ev_test{n}" for n in range(1, 5)]
        assert on_a.uris.count(uri) == on_b.uris.count(uri) == 4

        import redis

        stored = redis.Redis(port=redis_server.port, decode_responses=True).keys("*")
        assert "close-mcp:events:stream" in stored and not any(KEY in k for k in stored)


async def test_follow_one_replica_polls_and_another_takes_over_when_it_stops(hooked, keys, redis_server):  # noqa: F811
    lead_id = a_lead(hooked)
    uri = f"close://lead/{lead_id}"
    before = set(lead_events(hooked, lead_id))
    heard = Updates()
    stats = hooked.sandbox.stats
    async with replicas(2, hooked, keys, redis_server.url, **FOLLOW) as running:
        servers = [replica.server for replica in running]
        followers = [service_of(s).follower for s in servers]
        assert all(f is not None for f in followers)
        await poll(
            lambda: sum(bool(f and f.holding) for f in followers) == 1 and stats.count("GET", "/event/") > 0
        )
        holder = next(n for n, f in enumerate(followers) if f and f.holding)
        other = 1 - holder
        async with remote_listener(servers[other].base, heard) as listener:
            await listener.subscribe_resource(uri)
            await rename(hooked, lead_id, "Followed Once")
            await heard.wait_for(uri)
            # Only the holder has polled: every Event Log request the sandbox saw is its own.
            follower_other = followers[other]
            follower_holder = followers[holder]
            assert follower_other is not None and follower_holder is not None
            assert follower_other.requests == 0
            assert stats.count("GET", "/event/") == follower_holder.requests > 0

            await running[holder].stop()  # the holder stops; the other takes the lease
            await poll(lambda: follower_other.holding and follower_other.requests > 0)
            await rename(hooked, lead_id, "Followed Twice")
            await heard.wait_for(uri, 2)

            new = [e for e in lead_events(hooked, lead_id) if e not in before]
            published = [
                str(e["id"]) for e in service_of(servers[other]).hub.recent if e.get("lead_id") == lead_id
            ]
            assert published == new  # each once, in the order Close logged them
            assert len(set(published)) == len(published) == len(new) >= 2
            assert heard.uris.count(uri) == len(new)


def follow_processes(count: int, sandbox: RunningSandbox, redis_url: str, tmp_path: Path) -> Any:
    """``count`` real ``close-mcp serve --events follow`` processes on one key and one Redis."""
    return serve_replicas(
        count,
        sandbox.base_url,
        sandbox.api_key,
        redis_url,
        env_for=lambda n: {
            "CLOSE_MCP_EVENTS": "follow",
            "CLOSE_MCP_FOLLOW_MAX_INTERVAL": "1",  # the follow lease: 3 s
            "CLOSE_MCP_EVENTS_STATE": str(tmp_path / f"state-{n}.json"),
            "CLOSE_MCP_WEBHOOK_KEYS": str(tmp_path / f"keys-{n}.json"),
        },
    )


async def follow_state(base: str) -> dict[str, Any]:
    async with httpx2.AsyncClient() as http:
        return dict((await http.get(f"{base}/healthz")).json()["events"])


async def test_follow_a_killed_holder_loses_the_lease_to_another_replica_within_its_ttl(hooked, tmp_path):  # noqa: F811
    """Real processes, the holder SIGKILLed (no goodbye, the lease only expires): the other takes over."""
    lead_id = a_lead(hooked)
    uri = f"close://lead/{lead_id}"
    before = set(lead_events(hooked, lead_id))
    heard = Updates()
    async with run_redis() as redis, follow_processes(2, hooked, redis.url, tmp_path) as running:
        holder: int | None = None
        with anyio.fail_after(20):
            while holder is None:
                states = [await follow_state(p.base) for p in running]
                holding = [n for n, s in enumerate(states) if s["follow"]["holding_lease"]]
                holder = (
                    holding[0] if len(holding) == 1 and states[holding[0]]["follow"]["requests"] else None
                )
                await anyio.sleep(0.05)
        survivor = running[1 - holder]
        async with remote_listener(survivor.base, heard) as listener:
            await listener.subscribe_resource(uri)
            await rename(hooked, lead_id, "Followed Before")
            await heard.wait_for(uri)
            assert (await follow_state(survivor.base))["follow"]["requests"] == 0
            assert hooked.sandbox.stats.count("GET", "/event/") > 0

            running[holder].process.kill()
            running[holder].process.wait(timeout=10)
            with anyio.fail_after(20):  # the lease (3 s) expires, the survivor takes it
                while not (await follow_state(survivor.base))["follow"]["holding_lease"]:
                    await anyio.sleep(0.05)
            await rename(hooked, lead_id, "Followed After")
            new = [e for e in lead_events(hooked, lead_id) if e not in before]
            await heard.wait_for(uri, len(new), timeout=20)
            counts = (await follow_state(survivor.base))["hub"]["counts"]
            assert counts.get("published_follow", 0) + counts.get("published_stream", 0) == len(new) >= 2
            assert heard.uris.count(uri) == len(new)
