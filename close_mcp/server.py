"""The MCP server generated from the manifests, on the SDK's low-level ``Server``.

Tool failures (bad arguments, Close errors) are ``isError`` results that tell the agent
what to do; only bugs are logged as exceptions, and even they reach the client as a
generic tool error, never as a leaked exception text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import mcp.types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from close_mcp import __version__
from close_mcp.arguments import ToolInputError
from close_mcp.client import CloseClient
from close_mcp.errors import CallContext, CloseError, agent_message
from close_mcp.executor import Executor
from close_mcp.manifest import ToolSpec

log = logging.getLogger("close_mcp.server")
# Leases the Close client for one call (stdio: the one shared client; remote: one per credential).
ClientProvider = Callable[[ServerRequestContext[Any, Any]], AbstractAsyncContextManager[CloseClient]]

INSTRUCTIONS = (
    "Tools for one Close CRM organization. Find records with list_leads (query searches names, contacts, "
    "emails, phones) before creating, to avoid duplicates. Money values are integer cents. List results are "
    "trimmed to fit your context: follow next_cursor to continue. Deletes and merges are irreversible."
)


def error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def build_server(specs: list[ToolSpec], executor: Executor, client_for: ClientProvider) -> Server[Any]:
    by_name = {s.name: s for s in specs}
    listed = types.ListToolsResult(tools=[types.Tool.model_validate(s.wire_tool()) for s in specs])

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listed

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        spec = by_name.get(params.name)
        if spec is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        args = dict(params.arguments or {})
        waited = 0.0

        async def on_wait(seconds: float) -> None:
            nonlocal waited
            waited += seconds
            await ctx.session.report_progress(waited, None, f"Close rate limit: waiting {seconds:.1f} s")

        try:
            async with client_for(ctx) as client:
                output = await executor.call(spec, args, client, on_wait)
        except ToolInputError as exc:
            return error_result(str(exc))
        except CloseError as exc:
            ids = {
                k: str(v)
                for k, v in args.items()
                if k in spec.bindings and spec.bindings[k].location == "path"
            }
            return error_result(agent_message(exc, CallContext(spec.name, ids, spec.lookup_hint)))
        except Exception:
            log.exception("tool %s failed", spec.name)
            return error_result(f"Internal error in close-mcp while running {spec.name}; see the server log.")
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=output.text)], structured_content=output.structured
        )

    return Server(
        "close-mcp",
        version=__version__,
        title="Close CRM",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
