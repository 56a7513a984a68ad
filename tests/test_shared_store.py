"""The one-process shared store: claims, expiry, leases (the Redis store passes the same contract)."""

from __future__ import annotations

import anyio
import pytest

from close_mcp.shared_store import MemoryStore, SharedStore, hashed

pytestmark = pytest.mark.anyio


async def _wait_until_gone(store: SharedStore, key: str) -> None:
    with anyio.fail_after(2):
        while await store.get(key) is not None:
            await anyio.sleep(0.01)


async def test_claim_is_first_writer_wins_until_expiry() -> None:
    store = MemoryStore()
    assert await store.claim("idem:a", "first", ttl=0.05)
    assert not await store.claim("idem:a", "second", ttl=0.05)
    assert await store.get("idem:a") == "first"
    await _wait_until_gone(store, "idem:a")
    assert await store.claim("idem:a", "third", ttl=10)
    assert await store.get("idem:a") == "third"


async def test_put_replaces_and_delete_removes() -> None:
    store = MemoryStore()
    await store.put("k", "1", ttl=10)
    await store.put("k", "2", ttl=10)
    assert await store.get("k") == "2"
    await store.delete("k")
    assert await store.get("k") is None
    await store.delete("k")  # deleting nothing is fine


async def test_lease_is_exclusive_renewable_and_released_only_by_its_holder() -> None:
    store = MemoryStore()
    assert await store.lease("follow", "replica-1", ttl=0.05)
    assert not await store.lease("follow", "replica-2", ttl=10)
    assert await store.lease("follow", "replica-1", ttl=0.05)  # renewal
    await store.release("follow", "replica-2")  # not the holder: no effect
    assert not await store.lease("follow", "replica-2", ttl=10)
    await _wait_until_gone(store, "lease:follow")  # the holder died: the lease runs out
    assert await store.lease("follow", "replica-2", ttl=10)
    await store.release("follow", "replica-2")
    assert await store.lease("follow", "replica-1", ttl=10)


async def test_expired_records_are_swept_so_memory_stays_bounded() -> None:
    store = MemoryStore()
    for n in range(3000):
        await store.put(f"k{n}", "v", ttl=0.001)
    await _wait_until_gone(store, "k2999")
    for n in range(1100):
        await store.put(f"fresh{n}", "v", ttl=10)
    assert len(store._values) < 2200


def test_hashed_hides_the_secret_and_is_stable() -> None:
    assert hashed("api_key_secret") == hashed("api_key_secret")
    assert "secret" not in hashed("api_key_secret")
    assert hashed("a") != hashed("b")
