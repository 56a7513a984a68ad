"""The shared store's contract: claims, expiry, leases, run against both stores alike — the
one-process ``MemoryStore`` and ``RedisStore`` on a real ``redis-server`` (never skipped)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import anyio
import pytest
from redis_helpers import RunningRedis

from close_mcp.redis_store import RedisConnection, RedisStore, SharedStateUnavailable
from close_mcp.shared_store import MemoryStore, SharedStore, hashed

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, shared_redis: RunningRedis) -> AsyncIterator[SharedStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    connection = RedisConnection(shared_redis.url)
    try:
        yield RedisStore(connection, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    finally:
        await connection.aclose()


async def _wait_until_gone(store: SharedStore, key: str) -> None:
    with anyio.fail_after(2):
        while await store.get(key) is not None:
            await anyio.sleep(0.01)


async def test_claim_is_first_writer_wins_until_expiry(store: SharedStore) -> None:
    assert await store.claim("idem:a", "first", ttl=0.05)
    assert not await store.claim("idem:a", "second", ttl=0.05)
    assert await store.get("idem:a") == "first"
    await _wait_until_gone(store, "idem:a")
    assert await store.claim("idem:a", "third", ttl=10)
    assert await store.get("idem:a") == "third"


async def test_put_replaces_and_delete_removes(store: SharedStore) -> None:
    await store.put("k", "1", ttl=10)
    await store.put("k", "2", ttl=10)
    assert await store.get("k") == "2"
    await store.delete("k")
    assert await store.get("k") is None
    await store.delete("k")  # deleting nothing is fine


async def test_lease_is_exclusive_renewable_and_released_only_by_its_holder(store: SharedStore) -> None:
    assert await store.lease("follow", "replica-1", ttl=0.05)
    assert not await store.lease("follow", "replica-2", ttl=10)
    assert await store.lease("follow", "replica-1", ttl=0.05)  # renewal
    await store.release("follow", "replica-2")  # not the holder: no effect
    assert not await store.lease("follow", "replica-2", ttl=10)
    await _wait_until_gone(store, "lease:follow")  # the holder died: the lease runs out
    assert await store.lease("follow", "replica-2", ttl=10)
    await store.release("follow", "replica-2")
    assert await store.lease("follow", "replica-1", ttl=10)


async def test_claims_race_to_exactly_one_winner(store: SharedStore) -> None:
    winners: list[int] = []

    async def contender(n: int) -> None:
        if await store.claim("idem:race", str(n), ttl=10):
            winners.append(n)

    async with anyio.create_task_group() as tg:
        for n in range(20):
            tg.start_soon(contender, n)
    assert len(winners) == 1
    assert await store.get("idem:race") == str(winners[0])


async def test_two_replicas_see_one_redis_store(shared_redis: RunningRedis) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    first, second = RedisConnection(shared_redis.url), RedisConnection(shared_redis.url)
    try:
        one, two = RedisStore(first, prefix=prefix), RedisStore(second, prefix=prefix)
        assert await one.claim("hook:evt_1", "seen", ttl=10)
        assert not await two.claim("hook:evt_1", "seen", ttl=10)
        assert await one.lease("follow", "replica-1", ttl=10)
        assert not await two.lease("follow", "replica-2", ttl=10)
    finally:
        await first.aclose()
        await second.aclose()


async def test_redis_down_is_a_clear_error_within_the_timeout_then_recovers(
    redis_server: RunningRedis,
) -> None:
    connection = RedisConnection(redis_server.url, timeout=0.2, retry_after=0.05)
    store = RedisStore(connection, prefix="down:")
    try:
        await store.put("k", "v", ttl=10)
        await redis_server.stop()
        with anyio.fail_after(2), pytest.raises(SharedStateUnavailable, match="not answering"):
            await store.get("k")
        assert connection.health()["ok"] is False
        assert "redis://" not in str(connection.health())
        await redis_server.start()  # a fresh Redis: the data is gone, the store works again
        with anyio.fail_after(5):
            while not await connection.ping():
                await anyio.sleep(0.05)
        assert await store.get("k") is None
        assert connection.health() == {"kind": "redis", "address": connection.address, "ok": True}
    finally:
        await connection.aclose()


async def test_connections_a_redis_restart_closed_are_no_outage(redis_server: RunningRedis) -> None:
    """After a restart every pooled connection fails at its first use. Redis answers on a fresh one,
    so that is no outage: the connection stays healthy (the limiter keeps sharing), a repeatable
    operation is tried again at once, any other fails alone with a clear error."""
    connection = RedisConnection(redis_server.url, timeout=0.5, retry_after=5)

    async def four_at_once(repeatable: bool) -> list[str]:  # four pooled connections in use at once
        outcomes: list[str] = []

        async def one() -> None:
            try:
                await connection.run(lambda r: r.set("k", "v"), repeatable=repeatable)
                outcomes.append("ok")
            except SharedStateUnavailable as exc:
                outcomes.append(str(exc))

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(one)
        return outcomes

    try:
        assert await four_at_once(repeatable=False) == ["ok"] * 4
        await redis_server.stop()
        await redis_server.start()
        assert await four_at_once(repeatable=True) == ["ok"] * 4  # each stale one tried again
        await redis_server.stop()
        await redis_server.start()
        stale = await four_at_once(repeatable=False)
        assert stale and all("a connection was closed" in outcome for outcome in stale), stale
        assert connection.healthy and connection.failures == 0  # no outage: nobody paces alone
        assert await four_at_once(repeatable=False) == ["ok"] * 4
    finally:
        await connection.aclose()


async def test_expired_records_are_swept_so_memory_stays_bounded() -> None:
    store = MemoryStore()
    for n in range(1000):  # below the first sweep: all still held, until they expire
        await store.put(f"k{n}", "v", ttl=0.001)
    await _wait_until_gone(store, "k999")
    for n in range(1100):  # the sweep these trigger drops the 1000 expired ones
        await store.put(f"fresh{n}", "v", ttl=10)
    assert len(store._values) == 1100


def test_hashed_hides_the_secret_and_is_stable() -> None:
    assert hashed("api_key_secret") == hashed("api_key_secret")
    assert "secret" not in hashed("api_key_secret")
    assert hashed("a") != hashed("b")
