"""Streamable-HTTP resumability: the SDK's :class:`EventStore`, in memory (one process) or in Redis
(replicas), so a client that reconnects with ``Last-Event-ID`` gets the messages it missed — from
another replica too, when the one it was talking to died.

The SDK gives every transport of a server the same store and names a stream by its JSON-RPC request
id ("1", "2", …), which every session reuses. To keep sessions apart, :class:`SessionStreams` (ASGI
middleware around ``/mcp``) gives each request a *namespace* in a context variable: ``hashed(session
id)`` for requests of a session, and for the ``initialize`` request a random one that becomes the
hashed session id as soon as the response names it (the session's own tasks start inside that request
and so share its namespace). An event id is ``<namespace>:<sequence>``: unguessable, like the session
id it stands for, and enough to find its stream on any replica.

When a replica does not know the session of a ``GET`` with ``Last-Event-ID`` (the SDK answers 404),
:class:`SessionStreams` answers instead with the stored events after that id: the client gets what
it missed, then re-initializes (its session lived in the dead replica). Stateless mode keeps no
streams (the SDK uses no event store there) and works across replicas as before.

Both stores are bounded: at most :data:`MAX_EVENTS` per session, kept ``ttl`` seconds after the last
one (the session idle timeout); the memory store holds at most :data:`MAX_SESSIONS` sessions and
:data:`MAX_MEMORY_CHARS` characters of messages, dropping the least recently used sessions first.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import OrderedDict, deque
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import JSONRPCMessage, jsonrpc_message_adapter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from close_mcp.redis_store import DEFAULT_PREFIX, RedisConnection, SharedStateUnavailable
from close_mcp.shared_store import hashed

log = logging.getLogger("close_mcp.event_store")
MAX_EVENTS = 100  # per session: a reconnecting client misses seconds, not hours
MAX_SESSIONS = 2000
MAX_MEMORY_CHARS = 32_000_000  # all sessions of the memory store together (~32 MB of JSON)
SESSION_HEADER = "mcp-session-id"
_SESSION_KEY = SESSION_HEADER.encode()  # ASGI header names arrive lower-cased (bytes)


@dataclass
class Namespace:
    value: str = field(default_factory=lambda: uuid.uuid4().hex)


_namespace: ContextVar[Namespace | None] = ContextVar("close_mcp_stream_namespace", default=None)


def current_namespace() -> str:
    """The namespace of the request (or session task) storing an event; outside any request a fresh
    one, so an event never lands in another session's streams."""
    holder = _namespace.get()
    return holder.value if holder is not None else uuid.uuid4().hex


def split_event_id(event_id: str) -> tuple[str, int] | None:
    namespace, sep, seq = event_id.rpartition(":")
    if not sep or not namespace or not seq.isdigit():
        return None
    return namespace, int(seq)


def _dump(message: JSONRPCMessage | None) -> str:
    return "" if message is None else message.model_dump_json(by_alias=True, exclude_unset=True)


def _load(raw: str) -> JSONRPCMessage:
    return jsonrpc_message_adapter.validate_json(raw)


@dataclass
class _Stored:
    seq: int
    stream_id: str
    message: str


@dataclass
class _Session:
    events: deque[_Stored] = field(default_factory=deque)
    next_seq: int = 1
    touched: float = field(default_factory=time.monotonic)
    chars: int = 0


class MemoryEventStore(EventStore):
    """One process's streams: a bounded deque per session, sessions evicted oldest first."""

    kind = "memory"

    def __init__(
        self, ttl: float = 1800.0, max_sessions: int = MAX_SESSIONS, max_chars: int = MAX_MEMORY_CHARS
    ) -> None:
        self.ttl, self.max_sessions, self.max_chars = ttl, max_sessions, max_chars
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self.chars = 0

    def _expire(self) -> None:
        now = time.monotonic()
        while self._sessions:
            name, oldest = next(iter(self._sessions.items()))
            over = len(self._sessions) > self.max_sessions or self.chars > self.max_chars
            if not over and now - oldest.touched < self.ttl:
                break
            self.chars -= oldest.chars
            del self._sessions[name]

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        namespace = current_namespace()
        session = self._sessions.pop(namespace, None) or _Session()
        self._sessions[namespace] = session  # most recently used last
        seq, session.next_seq, session.touched = session.next_seq, session.next_seq + 1, time.monotonic()
        stored = _Stored(seq, str(stream_id), _dump(message))
        session.events.append(stored)
        session.chars += len(stored.message)
        self.chars += len(stored.message)
        if len(session.events) > MAX_EVENTS:
            dropped = session.events.popleft()
            session.chars -= len(dropped.message)
            self.chars -= len(dropped.message)
        self._expire()
        return f"{namespace}:{seq}"

    def end_session(self, session_id: str) -> None:
        """Drop the streams of a session that ended here (DELETE, idle timeout, eviction). Its client
        is gone or was told 404; kept, its events would only pin memory until ``ttl`` (the same idle
        timeout) expired them — and only at the next store, which an idle server never makes."""
        self.forget_namespace(hashed(session_id))

    def forget_namespace(self, namespace: str) -> None:
        session = self._sessions.pop(namespace, None)
        if session is not None:
            self.chars -= session.chars

    async def events_after(self, last_event_id: EventId) -> tuple[str, list[tuple[str, str]]] | None:
        parsed = split_event_id(last_event_id)
        session = self._sessions.get(parsed[0]) if parsed else None
        if parsed is None or session is None:
            return None
        namespace, seq = parsed
        stream = next((e.stream_id for e in session.events if e.seq == seq), None)
        if stream is None:
            return None
        return stream, [
            (f"{namespace}:{e.seq}", e.message)
            for e in session.events
            if e.seq > seq and e.stream_id == stream and e.message
        ]

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        return await _replay(self, last_event_id, send_callback)


_STORE = """
local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], seq .. '-1', 'stream', ARGV[1], 'message', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return seq
"""


class RedisEventStore(EventStore):
    """Streams in Redis: one Redis stream per session (``<prefix>ev:<namespace>``), capped at
    :data:`MAX_EVENTS` entries, expiring ``ttl`` seconds after its last event."""

    kind = "redis"

    def __init__(
        self, connection: RedisConnection, *, ttl: float = 1800.0, prefix: str = DEFAULT_PREFIX
    ) -> None:
        self.connection, self.ttl, self.prefix = connection, ttl, prefix

    def end_session(self, session_id: str) -> None:
        """Nothing: the streams live in Redis (not this process's memory) and expire after ``ttl``;
        another replica may still replay them to a client whose replica died."""

    def forget_namespace(self, namespace: str) -> None:
        """Nothing: a namespace's stream in Redis expires after ``ttl``."""

    def _keys(self, namespace: str) -> list[str]:
        return [f"{self.prefix}ev:{namespace}", f"{self.prefix}evseq:{namespace}"]

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        namespace = current_namespace()
        keys = self._keys(namespace)
        ttl_ms = max(1000, round(self.ttl * 1000))
        try:
            seq = await self.connection.run(
                lambda r: r.eval(_STORE, 2, *keys, str(stream_id), _dump(message), MAX_EVENTS, ttl_ms)
            )
        except SharedStateUnavailable:
            # The message still goes to the connected client; it just cannot be replayed.
            log.warning("session stream event not stored (redis unavailable): a reconnect may miss it")
            return f"{namespace}:0"
        return f"{namespace}:{int(seq)}"

    async def events_after(self, last_event_id: EventId) -> tuple[str, list[tuple[str, str]]] | None:
        parsed = split_event_id(last_event_id)
        if parsed is None or parsed[1] == 0:
            return None
        namespace, seq = parsed
        key = self._keys(namespace)[0]
        try:
            entries: list[Any] = await self.connection.run(lambda r: r.xrange(key, f"{seq}-1", "+"))
        except SharedStateUnavailable:
            return None
        if not entries or entries[0][0] != f"{seq}-1":
            return None
        stream = entries[0][1]["stream"]
        later = [
            (f"{namespace}:{entry_id.split('-')[0]}", fields["message"])
            for entry_id, fields in entries[1:]
            if fields["stream"] == stream and fields["message"]
        ]
        return stream, later

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        return await _replay(self, last_event_id, send_callback)


def _own(event_id: EventId) -> bool:
    """The event belongs to the session of the request asking for it (its id names the session)."""
    parsed = split_event_id(event_id)
    holder = _namespace.get()
    return parsed is not None and holder is not None and parsed[0] == holder.value


async def _replay(
    store: MemoryEventStore | RedisEventStore, last: EventId, send: EventCallback
) -> StreamId | None:
    if not _own(last):
        return None
    found = await store.events_after(last)
    if found is None:
        return None
    stream, events = found
    for event_id, raw in events:
        await send(EventMessage(_load(raw), event_id))
    return stream


class SessionStreams:
    """ASGI middleware: a stream namespace per session (see the module text), and the replay of a
    stream whose session this replica does not know."""

    def __init__(self, app: ASGIApp, store: MemoryEventStore | RedisEventStore, path: str = "/mcp") -> None:
        self.app, self.store, self.path = app, store, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != self.path:
            await self.app(scope, receive, send)
            return
        session = last = None
        for key, value in scope.get("headers") or []:
            if key == _SESSION_KEY:
                session = value.decode("latin-1")
            elif key == b"last-event-id":
                last = value.decode("latin-1")
        holder = Namespace(hashed(session)) if session else Namespace()
        token = _namespace.set(holder)
        try:
            if scope.get("method") == "GET" and session and last:
                await self._get_or_replay(scope, receive, send, last)
                return
            await self.app(scope, receive, self._naming(send, holder) if not session else send)
        finally:
            _namespace.reset(token)

    def _naming(self, send: Send, holder: Namespace) -> Send:
        async def naming_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                for key, value in message.get("headers") or []:
                    if key.decode("latin-1").lower() == SESSION_HEADER:
                        provisional, holder.value = holder.value, hashed(value.decode("latin-1"))
                        # What the initialize request stored before its response named the session
                        # (the priming event) can never be replayed (its ids name no session): drop it.
                        self.store.forget_namespace(provisional)
            await send(message)

        return naming_send

    async def _get_or_replay(self, scope: Scope, receive: Receive, send: Send, last: str) -> None:
        unknown = False

        async def guarded_send(message: Message) -> None:
            nonlocal unknown
            if message["type"] == "http.response.start" and message["status"] == 404:
                unknown = True
            if not unknown:
                await send(message)

        await self.app(scope, receive, guarded_send)
        if not unknown:
            return
        found = await self.store.events_after(last) if _own(last) else None
        if found is None:
            await _plain(
                send, 404, {"error": "Session not found and nothing to replay: initialize a new session."}
            )
            return
        _, events = found
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache, no-transform"),
                ],
            }
        )
        for event_id, raw in events:
            chunk = f"event: message\r\nid: {event_id}\r\ndata: {raw}\r\n\r\n".encode()
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _plain(send: Send, status: int, body: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": payload})
