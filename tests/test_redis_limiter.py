"""The limiter: first come first served, endpoint groups learned from 429s, and bucket state shared by
replicas through a real redis-server (with the per-process fallback when Redis goes away)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import httpx2
import pytest
from redis_helpers import RunningRedis

from close_mcp.client import CloseClient
from close_mcp.credentials import Credential
from close_mcp.errors import RateLimitBudgetExceeded
from close_mcp.ratelimit import Bucket, GroupState, RateLimiter, sharers_of
from close_mcp.redis_limits import RedisLimits
from close_mcp.redis_store import RedisConnection
from close_mcp.sandbox import RunningSandbox, SandboxConfig, run_sandbox
from close_mcp.shared_store import hashed

pytestmark = pytest.mark.anyio


async def _queued(bucket: Bucket, count: int) -> None:
    with anyio.fail_after(5):
        while bucket.waiting < count:
            await anyio.sleep(0.001)


async def test_waiters_are_served_in_arrival_order():
    """10 callers at 2 per 0.1 s window: slots go out in the order the callers arrived."""
    bucket = RateLimiter().bucket("k", "GET", "/lead/")
    bucket.observe(httpx2.Headers({"ratelimit": "limit=2, remaining=0, reset=0.1"}))
    served: list[int] = []

    async def caller(n: int) -> None:
        await bucket.acquire(deadline=anyio.current_time() + 30)
        served.append(n)

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for n in range(10):
                tg.start_soon(caller, n)
                await _queued(bucket, n + 1)  # caller n is in the queue before n + 1 arrives
    assert served == list(range(10))


async def test_a_waiter_whose_turn_comes_after_its_deadline_fails_at_once_with_the_wait():
    bucket = RateLimiter().bucket("k", "GET", "/lead/")
    bucket.observe(httpx2.Headers({"ratelimit": "limit=1, remaining=0, reset=1"}))
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(bucket.acquire, anyio.current_time() + 30)
        await _queued(bucket, 5)
        with anyio.fail_after(1), pytest.raises(Exception) as err:
            await bucket.acquire(anyio.current_time() + 2)  # 5 ahead at 1/s: about 5 s away
        assert err.value.wait >= 3  # type: ignore[attr-defined]
        tg.cancel_scope.cancel()


def test_sharers_are_the_buckets_whose_requests_explain_the_429():
    now = 100.0
    tripped = GroupState("write:task", 5, now + 0.6, 1.0, sent=2, seen=now)
    lead = GroupState("write:lead", 5, now + 0.7, 1.0, sent=3, seen=now)
    reads = GroupState("read:lead", 5, now + 0.6, 1.0, sent=4, seen=now)
    old = GroupState("write:note", 5, now - 30, 1.0, sent=3, seen=now - 30)
    other_limit = GroupState("write:email", 50, now + 0.6, 1.0, sent=30, seen=now)
    others = [lead, reads, old, other_limit]
    assert sharers_of(tripped, others, 5, 0.6, now) == ["write:lead"]  # the same kind only
    assert sharers_of(tripped, [reads, old], 5, 0.6, now) == []  # reads merge only when a 429 names the group
    spent_alone = GroupState("write:task", 5, now + 0.6, 1.0, sent=5, seen=now)
    assert sharers_of(spent_alone, others, 5, 0.6, now) == []  # it spent the limit itself
    assert sharers_of(tripped, [old, other_limit], 5, 0.6, now) == []  # nothing explains it


async def _burst(client: CloseClient, calls: list[tuple[str, str]], lead: str) -> None:
    async with anyio.create_task_group() as tg:
        for n, (method, path) in enumerate(calls):
            if method == "POST":
                body = {"name": f"burst {n}"} if path == "/lead/" else {"note": f"n{n}", "lead_id": lead}
                tg.start_soon(lambda m=method, p=path, b=body: client.request(m, p, json=b))
            else:
                tg.start_soon(lambda m=method, p=path: client.request(m, p, params={"_limit": "1"}))


async def test_writes_that_share_a_limit_are_learned_before_they_draw_429s():
    """The sandbox limits every write of a key together and names no endpoint group in its 429s.
    The first note written while lead writes are under way takes one of their slots; its answer
    counts theirs too, so from then on the two are paced as one bucket: learned without waiting for
    429s. Reads, under their own limit, stay apart."""
    async with (
        run_sandbox(SandboxConfig(rate_limit=5)) as sb,
        CloseClient(Credential(sb.api_key), sb.base_url, wait_budget=30) as client,
    ):
        lead = (await client.request("GET", "/lead/", params={"_limit": "1"})).data["data"][0]["id"]
        who = client.credential.fingerprint
        mixed = [("POST", "/lead/"), ("POST", "/activity/note/"), ("GET", "/lead/")] * 4
        limiter = client.limiter
        for _ in range(3):
            await _burst(client, mixed, lead)
        lead_group = limiter.aliases.get((who, "write:lead"))
        assert lead_group is not None and lead_group == limiter.aliases.get((who, "write:activity"))
        assert (who, "read:lead") not in limiter.aliases
        assert limiter.bucket(who, "POST", "/lead/") is limiter.bucket(who, "POST", "/activity/note/")
        assert sb.sandbox.stats.statuses[200] >= 36 + 1
        # 36 writes and reads at 5/s per group: per-bucket pacing would have drawn a dozen 429s
        assert sb.sandbox.stats.statuses[429] <= 1


def test_merges_in_any_order_never_form_a_loop():
    """Merges learned in any order (a bucket merged into one that is later merged back, shared names
    from another replica) always end at one bucket: following them terminates (it once looped)."""
    import random

    rng = random.Random(7)
    limiter = RateLimiter()
    paths = ["/lead/", "/activity/note/", "/task/", "/opportunity/", "/contact/"]
    for _ in range(300):
        groups = [limiter.bucket("k", "POST", rng.choice(paths)).name for _ in range(rng.randint(1, 3))]
        into = rng.choice([*groups, f"shared:{rng.choice(groups)}", "close:abc"])
        limiter._merge("k", groups, into)
        for bucket in limiter.buckets.values():
            root = bucket.resolved()
            assert root.merged_into is None and root.resolved() is root
    roots = {limiter.bucket("k", "POST", p).name for p in paths}
    assert len(roots) == 1  # 300 random merges of five groups: one bucket, whatever the order
    assert all(b.resolved().name in roots for b in limiter.buckets.values())


def test_a_new_bucket_stays_apart_when_its_first_answer_counts_only_itself():
    """A new bucket's probe takes a slot of the busy bucket of the same kind; when its answer counts
    nothing but the probe, the two are separate limits and stay apart."""
    limiter = RateLimiter()
    leads = limiter.bucket("k", "POST", "/lead/")
    leads.observe({"ratelimit": "limit=5, remaining=1, reset=1"})
    leads.sent = 4
    notes = limiter.bucket("k", "POST", "/activity/note/")
    assert notes.tentative_of is leads
    assert notes._take_local() == 0.0 and leads.remaining == 0  # the probe took the lead bucket's slot
    assert notes.observe({"ratelimit": "limit=5, remaining=4, reset=1"}) is False  # only itself counted
    assert notes.limit == 5 and notes.remaining == 4 and notes.tentative_of is None
    shared = limiter.bucket("k", "POST", "/task/")
    assert shared.tentative_of is notes  # the one heard from last
    notes.remaining = 0
    wait = shared._take_local()
    assert wait is not None and wait > 0  # no slot left to lend: it waits
    notes.remaining = 1
    assert shared._take_local() == 0.0
    assert shared.observe({"ratelimit": "limit=5, remaining=0, reset=1"}) is True  # it counted the leads'


@asynccontextmanager
async def replicas(
    redis: RunningRedis, sandbox: RunningSandbox, count: int, prefix: str
) -> AsyncIterator[list[CloseClient]]:
    """``count`` clients as separate replicas would have them: each its own connection and limiter."""
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(count):
            connection = RedisConnection(redis.url, timeout=0.2, retry_after=0.2)
            stack.push_async_callback(connection.aclose)
            limiter = RateLimiter(shared=RedisLimits(connection, prefix=prefix))
            client = CloseClient(
                Credential(sandbox.api_key), sandbox.base_url, wait_budget=20, limiter=limiter
            )
            clients.append(await stack.enter_async_context(client))
        yield clients


async def _reads(clients: list[CloseClient], per_client: int) -> list[BaseException]:
    failures: list[BaseException] = []

    async def one(client: CloseClient) -> None:
        try:
            await client.request("GET", "/me/")
        except RateLimitBudgetExceeded as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(per_client):
            for client in clients:
                tg.start_soon(one, client)
    return failures


async def test_three_replicas_sharing_buckets_in_redis_stay_under_the_limit(shared_redis):
    async with (
        run_sandbox(SandboxConfig(rate_limit=5)) as sb,
        replicas(shared_redis, sb, 3, f"t-{uuid.uuid4().hex[:8]}:") as clients,
    ):
        assert not await _reads(clients, 8)  # 24 reads at 5/s
        assert sb.sandbox.stats.count("GET", "/me/") - sb.sandbox.stats.statuses[429] == 24
        assert sb.sandbox.stats.statuses[429] <= 1


async def test_three_replicas_without_redis_collide(shared_redis):
    """The floor for the test above: the same load paced per process draws 429s."""
    async with run_sandbox(SandboxConfig(rate_limit=5)) as sb, AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(CloseClient(Credential(sb.api_key), sb.base_url, wait_budget=20))
            for _ in range(3)
        ]
        assert not await _reads(clients, 8)
        assert sb.sandbox.stats.statuses[429] > 1


async def test_redis_down_falls_back_to_per_process_pacing_then_shares_again(redis_server):
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    async with (
        run_sandbox(SandboxConfig(rate_limit=5)) as sb,
        replicas(redis_server, sb, 2, prefix) as clients,
    ):
        assert not await _reads(clients, 3)
        await redis_server.stop()
        with anyio.fail_after(15):  # nothing hangs: each Redis try is cut at its timeout
            assert not await _reads(clients, 3)
        connection = clients[0].limiter.shared.connection  # type: ignore[union-attr]
        assert connection.health()["ok"] is False and "per process" in connection.health()["warning"]
        await redis_server.start()
        with anyio.fail_after(15):
            while not connection.health()["ok"]:
                await _reads(clients, 1)
        assert not await _reads(clients, 3)
        states = await clients[1].limiter.shared.states(clients[1].credential.fingerprint)  # type: ignore[union-attr]
        assert any(s.name == "read:me" and s.limit == 5 for s in states[1])  # the fresh Redis is in use


async def test_a_merge_learned_by_one_replica_is_used_by_the_others(shared_redis):
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    async with (
        run_sandbox(SandboxConfig(rate_limit=5)) as sb,
        replicas(shared_redis, sb, 2, prefix) as (first, second),
    ):
        lead = (await first.request("GET", "/lead/", params={"_limit": "1"})).data["data"][0]["id"]
        who = first.credential.fingerprint
        writes = [("POST", "/lead/"), ("POST", "/activity/note/")] * 6
        await _burst(first, writes, lead)
        merged = first.limiter.aliases.get((who, "write:lead"))
        assert merged is not None and merged == first.limiter.aliases.get((who, "write:activity"))
        import redis.asyncio as aioredis

        store = aioredis.Redis(port=shared_redis.port, decode_responses=True)
        try:
            aliases = await store.hgetall(f"{prefix}rl:{hashed(who)}:aliases")
        finally:
            await store.aclose()
        assert aliases.get("write:lead") == aliases.get("write:activity") == merged

        await second.request("POST", "/lead/", json={"name": "second replica"})  # never saw a 429
        assert second.limiter.bucket(who, "POST", "/lead/").name == merged
        assert (who, "read:lead") not in first.limiter.aliases  # reads keep their own limit
        before = sb.sandbox.stats.statuses[429]
        async with anyio.create_task_group() as tg:
            tg.start_soon(_burst, first, writes, lead)
            tg.start_soon(_burst, second, writes, lead)
        assert sb.sandbox.stats.statuses[429] - before <= 1
