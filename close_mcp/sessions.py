"""Bounded streamable-HTTP sessions: at the cap, the session idle the longest makes room for a new one.

The SDK's :class:`~mcp.server.streamable_http_manager.StreamableHTTPSessionManager` refuses new sessions
at ``max_sessions`` (503); abandoned sessions (a client that never sends DELETE) would then lock out
every new client until their idle timeout. Here admission first closes the longest-idle session (no
request in flight, the earliest idle deadline); only when every session is busy is a new one refused.
An evicted session's ID answers 404, after which MCP clients start a new session.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import sys
import time
from typing import Any, Protocol

import anyio
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from close_mcp.allocator import malloc_trim

log = logging.getLogger("close_mcp.sessions")
TRIM_EVERY = 5.0  # seconds between returns of freed memory to the OS, at most
TRIM_DELAY = 0.5  # seconds after the last session ended: its task unwinds first


# asyncio's C ``Future.__await__`` iterators are recycled through a free list of this many (CPython's
# _asynciomodule.c FI_FREELIST_MAXLEN), which no gc.collect() empties.
FUTURE_ITER_FREELIST = 255


def recycle_future_iters() -> None:
    """Refill asyncio's free list of future iterators with fresh objects and free the old ones.

    During a burst of sessions many awaits are pending at once; afterwards the free list keeps up to
    255 of their iterators, scattered over the arenas the burst opened, and each one keeps a whole
    1 MiB pymalloc arena resident. Taking twice that many iterators empties the free list (the old
    ones come back first) and allocates fresh ones packed side by side (two pools, observed);
    releasing the fresh half first refills the list with them, so the old half, freed last, goes back
    to pymalloc. Measured under pymalloc: 500 abandoned sessions leave ~11.8 instead of ~15.7 MB
    (bench/remote_load.py --abandoned 500 --allocator pymalloc). Harmless under any other allocator or a different free-list size."""
    future = asyncio.get_running_loop().create_future()
    iterators = [future.__await__() for _ in range(2 * FUTURE_ITER_FREELIST)]
    del iterators[FUTURE_ITER_FREELIST:]  # the fresh ones: back into the free list
    iterators.clear()  # the old ones: the free list is full, so they are freed
    future.cancel()


def _idle_since(transport: StreamableHTTPServerTransport) -> float | None:
    """When the session's idle countdown ends (smaller = idle longer); None while it is busy."""
    if transport.is_terminated:
        return -math.inf
    scope = transport.idle_scope
    busy: int = getattr(transport, "_requests_in_flight", 0)
    if scope is None or busy:
        return None
    return scope.deadline if math.isfinite(scope.deadline) else None


def longest_idle(manager: StreamableHTTPSessionManager) -> str | None:
    """The ID of the session idle the longest, or None when every session is busy."""
    idle = {sid: _idle_since(t) for sid, t in manager._server_instances.items()}
    candidates = {sid: when for sid, when in idle.items() if when is not None}
    return min(candidates, key=lambda sid: candidates[sid]) if candidates else None


class _EndedSessions(Protocol):
    def end_session(self, session_id: str) -> None: ...


def evict_longest_idle(manager: StreamableHTTPSessionManager, streams: _EndedSessions | None = None) -> None:
    """Make ``manager`` close the longest-idle session instead of refusing a new one at its cap, drop
    an ended session's stored ``streams`` (the event store), and give the memory of ended sessions
    back to the OS once none is left open."""
    admit = manager._admit_session
    discard = manager._discard_session
    cap = manager.max_sessions
    trimmed = [-math.inf]

    async def trim_when_unwound() -> None:
        # The last session's discard runs inside its own task, which still holds its streams and
        # task group: trim once that has unwound, and only if no new session opened meanwhile.
        await anyio.sleep(TRIM_DELAY)
        if not manager._server_instances:
            recycle_future_iters()
            # The type attribute cache keeps a reference to each name it was last asked about, and
            # names built at run time (e.g. the "dst" of every Date header) are new objects each
            # time: up to 4,096 of them, each pinning the arena it was made in. Emptied; refills as used.
            sys._clear_type_cache()
            gc.collect()
            if malloc_trim is not None:
                malloc_trim(0)

    async def discard_and_trim(session_id: str, transport: StreamableHTTPServerTransport) -> None:
        await discard(session_id, transport)
        if streams is not None:
            streams.end_session(session_id)
        now = time.monotonic()
        group = manager._task_group
        if not manager._server_instances and group is not None and now - trimmed[0] > TRIM_EVERY:
            trimmed[0] = now
            group.start_soon(trim_when_unwound)

    manager._discard_session = discard_and_trim  # type: ignore[method-assign]

    def admit_evicting(requestor: Any) -> StreamableHTTPServerTransport | None:
        if cap is not None and len(manager._server_instances) >= cap:
            victim = longest_idle(manager)
            if victim is not None:
                transport = manager._server_instances.pop(victim)
                manager._session_owners.pop(victim, None)
                if transport.idle_scope is not None:
                    transport.idle_scope.cancel()  # its server task ends and terminates the transport
                log.info("session cap %d reached: closed the longest-idle session", cap)
        return admit(requestor)

    manager._admit_session = admit_evicting  # type: ignore[method-assign]
