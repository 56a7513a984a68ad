"""The per-call floor: the least an MCP server on the same SDK can do for ``get_lead``.

A low-level ``mcp.server.Server`` with one tool, ``get_lead(lead_id)``: one ``GET /lead/{id}/`` on the
Close API (one pooled ``httpx2.AsyncClient`` with Basic auth) and the body as one ``TextContent``. No
validation, trimming, limiter or audit: what is left of a close-mcp call over this is close-mcp's own.

    python -m bench.floor_proxy stdio                 # CLOSE_API_KEY, CLOSE_API_BASE_URL from the env
    python -m bench.floor_proxy http --port 8123      # the SDK's StreamableHTTPSessionManager on uvicorn
    Client(floor_server(base_url, key), mode="legacy")   # in memory
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import mcp.types as types
from mcp.server import Server

TOOL = types.Tool(
    name="get_lead",
    description="Get one lead by id.",
    input_schema={"type": "object", "properties": {"lead_id": {"type": "string"}}, "required": ["lead_id"]},
)


def floor_server(base_url: str, api_key: str) -> Server[Any]:
    """The one-tool server; its HTTP client is created once, on the first call, and reused."""
    clients: list[httpx2.AsyncClient] = []

    async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[TOOL])

    async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        if not clients:
            clients.append(httpx2.AsyncClient(base_url=base_url, auth=(api_key, ""), timeout=30))
        lead_id = (params.arguments or {}).get("lead_id", "")
        answer = await clients[0].get(f"/lead/{lead_id}/")
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=answer.text)], is_error=answer.is_error
        )

    return Server("floor-proxy", on_list_tools=list_tools, on_call_tool=call_tool)


async def serve_stdio(server: Server[Any]) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def resumable_store() -> Any:
    """The least event store the SDK's resumability takes: messages kept as they are, in one list per
    stream, ids counted (close-mcp serve is resumable by default, so the floor pays the SDK's side too)."""
    from mcp.server.streamable_http import EventCallback, EventMessage, EventStore

    class ListStore(EventStore):
        def __init__(self) -> None:
            self.streams: dict[str, list[tuple[int, Any]]] = {}
            self.of: dict[int, str] = {}
            self.seq = 0

        async def store_event(self, stream_id: str, message: Any) -> str:
            self.seq += 1
            self.streams.setdefault(stream_id, []).append((self.seq, message))
            self.of[self.seq] = stream_id
            return str(self.seq)

        async def replay_events_after(self, last_event_id: str, send_callback: EventCallback) -> str | None:
            stream = self.of.get(int(last_event_id)) if last_event_id.isdigit() else None
            if stream is None:
                return None
            for seq, message in self.streams[stream]:
                if seq > int(last_event_id) and message is not None:
                    await send_callback(EventMessage(message, str(seq)))
            return stream

    return ListStore()


def http_app(server: Server[Any]) -> Any:
    """``/mcp`` on the SDK's session manager (stateful, resumable, SSE replies, loopback DNS-rebinding
    protection, as close-mcp serve's defaults) and ``/healthz``."""
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.types import Receive, Scope, Send

    manager = StreamableHTTPSessionManager(
        app=server,
        event_store=resumable_store(),
        retry_interval=1000,
        security_settings=TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*"],
        ),
    )

    class MCPEndpoint:  # a class, so Starlette hands it the raw ASGI call
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await manager.handle_request(scope, receive, send)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with manager.run():
            yield

    return Starlette(
        routes=[Route("/mcp", MCPEndpoint()), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )


async def serve_http(server: Server[Any], port: int) -> None:
    from close_mcp.uvicorn_runner import bind, serve_app_on  # the same socket options as close-mcp serve

    sock = bind("127.0.0.1", port)
    async with serve_app_on(http_app(server), sock) as running:
        while not running.should_exit:
            await anyio.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("transport", choices=("stdio", "http"))
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = floor_server(os.environ["CLOSE_API_BASE_URL"], os.environ["CLOSE_API_KEY"])
    if args.transport == "stdio":
        anyio.run(serve_stdio, server)
    else:
        anyio.run(serve_http, server, args.port)


if __name__ == "__main__":
    main()
