"""Ended streamable-HTTP sessions leave nothing behind: however a session ends (DELETE, eviction at the
cap, idle timeout), the session manager forgets it and the in-memory event store drops its streams."""

from __future__ import annotations

import asyncio

import anyio
import httpx2
import pytest
from test_faults import ACCEPT, INIT, serving

from close_mcp.event_store import MemoryEventStore
from close_mcp.http_app import RemoteConfig
from close_mcp.sandbox import RunningSandbox
from close_mcp.sessions import FUTURE_ITER_FREELIST, recycle_future_iters

pytestmark = pytest.mark.anyio
PING = {"jsonrpc": "2.0", "id": 2, "method": "ping"}


def _headers(session: str) -> dict[str, str]:
    return {**ACCEPT, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}


async def test_ended_sessions_leave_no_streams_in_the_event_store(sandbox: RunningSandbox) -> None:
    cap, opened = 10, 25
    config = RemoteConfig(max_sessions=cap, session_idle_timeout=1.0)
    async with serving(sandbox, config) as (base, remote), httpx2.AsyncClient(base_url=base) as http:
        manager = remote.app.server.session_manager
        store = manager.event_store
        assert isinstance(store, MemoryEventStore)
        sessions = []
        with anyio.fail_after(60):
            for _ in range(opened):  # the first 15 are evicted by the last 15
                response = await http.post("/mcp", json=INIT, headers=ACCEPT)
                assert response.status_code == 200
                sessions.append(response.headers["mcp-session-id"])
                ping = await http.post("/mcp", json=PING, headers=_headers(sessions[-1]))
                assert ping.status_code == 200
            assert len(manager._server_instances) == cap
            assert len(store._sessions) >= cap  # every open session has stored its events
            for session in sessions[-cap:][:5]:  # five end with DELETE, five by idle timeout
                deleted = await http.delete("/mcp", headers=_headers(session))
                assert deleted.status_code == 200
            while manager._server_instances or store._sessions:  # the idle five time out
                await anyio.sleep(0.05)
        assert store.chars == 0
        assert (await http.post("/mcp", json=PING, headers=_headers(sessions[-1]))).status_code == 404


async def test_recycling_future_iterators_frees_the_ones_the_free_list_kept() -> None:
    """After a burst the free list of ``Future.__await__`` iterators holds old objects, each keeping a
    pymalloc arena; recycling puts fresh ones in their place, so none of the old ones comes back."""
    future = asyncio.get_running_loop().create_future()
    burst = [future.__await__() for _ in range(2 * FUTURE_ITER_FREELIST)]
    kept_by_free_list = {id(iterator) for iterator in burst[FUTURE_ITER_FREELIST:]}
    del burst[FUTURE_ITER_FREELIST:]  # these fill the free list (it was emptied just above)
    burst.clear()  # these are freed: the free list is full
    recycle_future_iters()
    reused = [future.__await__() for _ in range(FUTURE_ITER_FREELIST)]
    assert len({id(iterator) for iterator in reused} & kept_by_free_list) == 0
    assert len(reused) == FUTURE_ITER_FREELIST
    future.cancel()
