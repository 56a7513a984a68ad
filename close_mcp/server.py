"""The MCP server generated from the manifests, on the SDK's low-level ``Server``.

A call goes: policy (toolsets, scope, the agent's grants) → argument validation →
dry run or confirmation of destructive calls → the executor → one audit line. Tool
failures are ``isError`` results that tell the agent what to do; only bugs are logged as
exceptions, and even they reach the client as a generic tool error, never as leaked text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import anyio
import mcp.types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.shared.exceptions import MCPError

from close_mcp import __version__
from close_mcp.arguments import ToolInputError
from close_mcp.audit import AuditLog, close_ids
from close_mcp.client import CloseClient
from close_mcp.confirm import confirm
from close_mcp.errors import APIStatusError, CallContext, CloseError, agent_message
from close_mcp.executor import Executor
from close_mcp.manifest import ToolSpec
from close_mcp.policy import AccessPolicy
from close_mcp.trim import render

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


def ok_result(structured: dict[str, Any], text: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=structured
    )


def current_agent(ctx: ServerRequestContext[Any, Any]) -> str:
    token = get_access_token()
    if token is not None and token.client_id:
        return token.client_id
    return "local" if ctx.request is None else "anonymous"


@dataclass
class _Outcome:
    result: types.CallToolResult
    label: str
    id_sources: tuple[Any, ...] = ()  # scanned for Close IDs only when an audit log is written


class CallTracker:
    """Counts tool calls in flight, so a shutdown can wait for them to finish."""

    def __init__(self) -> None:
        self.active = 0
        self._idle = anyio.Event()
        self._idle.set()

    def enter(self) -> None:
        if self.active == 0:
            self._idle = anyio.Event()
        self.active += 1

    def exit(self) -> None:
        self.active -= 1
        if self.active == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        await self._idle.wait()


def _outcome_of(exc: CloseError) -> str:
    return f"error:{exc.status}" if isinstance(exc, APIStatusError) else f"error:{type(exc).__name__}"


def build_server(
    specs: list[ToolSpec],
    executor: Executor,
    client_for: ClientProvider,
    *,
    policy: AccessPolicy | None = None,
    audit: AuditLog | None = None,
    tracker: CallTracker | None = None,
) -> Server[Any]:
    policy = policy or AccessPolicy()
    tracker = tracker or CallTracker()
    by_name = {s.name: s for s in specs}
    wire = {s.name: types.Tool.model_validate(s.wire_tool()) for s in specs}

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        agent = current_agent(ctx)
        return types.ListToolsResult(tools=[wire[s.name] for s in specs if policy.visible_to(s, agent)])

    async def run(
        ctx: ServerRequestContext[Any, Any], spec: ToolSpec, args: dict[str, Any], agent: str
    ) -> _Outcome:
        refusal = policy.refusal(spec, agent)
        if refusal:
            return _Outcome(error_result(refusal), "refused", (args,))
        try:
            request = executor.validate(spec, args)
        except ToolInputError as exc:
            return _Outcome(error_result(str(exc)), "invalid")
        waited = 0.0

        async def on_wait(seconds: float) -> None:
            nonlocal waited
            waited += seconds
            await ctx.session.report_progress(waited, None, f"Close rate limit: waiting {seconds:.1f} s")

        try:
            async with client_for(ctx) as client:
                if args.get("dry_run"):
                    plan = {
                        "dry_run": True,
                        "request": {
                            "method": request.method,
                            "url": client.base_url + request.path,
                            "query": request.params,
                            "body": request.body,
                        },
                    }
                    return _Outcome(ok_result(plan, render(plan)), "dry_run", (args,))
                if spec.access == "destructive":
                    problem = await confirm(ctx, spec, args, request, client)
                    if problem:
                        return _Outcome(error_result(problem), "not_confirmed", (args,))
                output = await executor.call(spec, args, client, on_wait, request=request)
        except ToolInputError as exc:
            return _Outcome(error_result(str(exc)), "invalid")
        except CloseError as exc:
            ids = {
                k: str(v)
                for k, v in args.items()
                if k in spec.bindings and spec.bindings[k].location == "path"
            }
            message = agent_message(exc, CallContext(spec.name, ids, spec.lookup_hint))
            return _Outcome(error_result(message), _outcome_of(exc), (args,))
        return _Outcome(ok_result(output.structured, output.text), "ok", (args, output.structured))

    async def call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        spec = by_name.get(params.name)
        if spec is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        args = dict(params.arguments or {})
        agent = current_agent(ctx)
        started = time.monotonic()
        tracker.enter()
        try:
            outcome = await run(ctx, spec, args, agent)
        except Exception:
            log.exception("tool %s failed", spec.name)
            outcome = _Outcome(
                error_result(f"Internal error in close-mcp while running {spec.name}; see the server log."),
                "error:internal",
            )
        finally:
            tracker.exit()
        if audit is not None:
            detail = outcome.result.content[0].text if outcome.result.is_error else None
            audit.write(
                agent=agent,
                tool=spec.name,
                access=spec.access,
                arguments=args,
                outcome=outcome.label,
                duration_ms=(time.monotonic() - started) * 1000,
                ids=close_ids(*outcome.id_sources),
                detail=detail,
            )
        return outcome.result

    return Server(
        "close-mcp",
        version=__version__,
        title="Close CRM",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )
