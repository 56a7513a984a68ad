"""Malformed stdio lines get a JSON-RPC error reply and a log line, instead of silence.

The SDK's stdio transport hands a line it cannot parse to the server as an exception, which the
server drops: the client waits forever for an answer to a request that was never understood. This
wrapper of the server's read stream answers such a line with ``-32700`` (not JSON) or ``-32600``
(JSON, but not a JSON-RPC message), ``id: null`` as JSON-RPC prescribes when the id cannot be read,
and logs it to stderr (stdout is the protocol)."""

from __future__ import annotations

import contextvars
import logging
from types import TracebackType
from typing import Any

import anyio
import mcp.types as types
from mcp.shared.message import SessionMessage

log = logging.getLogger("close_mcp.stdio")
PARSE_ERROR, INVALID_REQUEST = -32700, -32600


def error_for(exc: Exception) -> types.ErrorData:
    """The JSON-RPC error a malformed line deserves."""
    errors: list[dict[str, Any]] = []
    if hasattr(exc, "errors"):
        try:
            errors = list(exc.errors())
        except Exception:  # not a pydantic error after all
            errors = []
    if any(e.get("type") == "json_invalid" for e in errors):
        return types.ErrorData(code=PARSE_ERROR, message="Parse error: the line is not valid JSON")
    return types.ErrorData(code=INVALID_REQUEST, message="Invalid request: not a JSON-RPC 2.0 message")


class AnsweringMalformed:
    """The server's read stream, minus malformed lines, which are answered on ``write`` instead."""

    def __init__(self, inner: Any, write: Any) -> None:
        self.inner, self.write = inner, write

    @property
    def last_context(self) -> contextvars.Context | None:
        return getattr(self.inner, "last_context", None)

    async def receive(self) -> SessionMessage:
        while True:  # the SDK's stdio reader sends a SessionMessage, or the exception a bad line raised
            item = await self.inner.receive()
            if isinstance(item, SessionMessage):
                return item
            error = error_for(item)
            log.warning("stdio: answered a malformed line with %d (%s)", error.code, error.message)
            reply = types.JSONRPCError(jsonrpc="2.0", id=None, error=error)
            await self.write.send(SessionMessage(reply))

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __aiter__(self) -> AnsweringMalformed:
        return self

    async def __anext__(self) -> SessionMessage:
        try:
            return await self.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def __aenter__(self) -> AnsweringMalformed:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        await self.aclose()
        return None
