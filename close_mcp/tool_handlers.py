"""The MCP request handlers, as named units with their dependencies passed in.

A call goes: policy (toolsets, scope, the agent's grants) → the executor's plan (argument
validation) → dry run, or confirmation of a destructive call → the executor → one audit line.
Tool failures are ``isError`` results that tell the agent what to do; only bugs are logged as
exceptions, and even they reach the client as a generic tool error, never as leaked text.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import anyio
import mcp.types as types
from mcp.server import ServerRequestContext
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel

from close_mcp import discovery, idempotency
from close_mcp.arguments import ToolInputError
from close_mcp.audit import AuditLog, close_ids
from close_mcp.client import CloseClient
from close_mcp.confirm import confirm
from close_mcp.credentials import CredentialSource, MissingCredential
from close_mcp.discovery import CALL_TOOL, DISCOVERY_TOOLS, ENABLE_TOOLS, WIRE_DISCOVERY_TOOLS, SessionTools
from close_mcp.errors import APIStatusError, CallContext, CloseError, agent_message
from close_mcp.events import tools as events_tools
from close_mcp.events.tools import EventTools
from close_mcp.executor import Executor, ToolOutput
from close_mcp.manifest import ToolSpec
from close_mcp.plan import RequestPlan
from close_mcp.policy import AccessPolicy
from close_mcp.protocol import LogLevels
from close_mcp.result_forms import ResultForm
from close_mcp.shared_store import MemoryStore
from close_mcp.trim import render

log = logging.getLogger("close_mcp.tool_handlers")
Context = ServerRequestContext[Any, Any]
# Every result's ``_meta`` names its outcome (the audit label), so a client such as ``close-mcp call``
# can tell bad arguments (``invalid``) from other tool errors without parsing the text.
OUTCOME_META = "close-mcp/outcome"
# Leases the Close client for one call (stdio: the one shared client; remote: one per credential).
ClientProvider = Callable[[Context], AbstractAsyncContextManager[CloseClient]]
# Whether the client of a call has gone away (its HTTP request disconnected).
ClientGone = Callable[[Context], Awaitable[bool]]
CLIENT_WATCH_SECONDS = 0.25
LISTED_SETS = 64  # tools/list results kept, one per visible set (a list of references to shared forms)
_TEXT_FORM = ResultForm()


def error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def ok_result(structured: dict[str, Any], text: str, form: ResultForm | None = None) -> types.CallToolResult:
    """A successful result: ``structured``'s data (whose compact JSON is ``text``) in the server's result
    form (close_mcp/result_forms.py; the JSON as text by default)."""
    return (form or _TEXT_FORM).result(structured, text)


def current_agent(ctx: Context) -> str:
    """Who is calling: the bearer token's agent on the remote server, ``local`` over stdio."""
    token = get_access_token()
    if token is not None and token.client_id:
        return token.client_id
    return "local" if ctx.request is None else "anonymous"


class ToolCatalog:
    """The tools this server has, by name (and former name), each with its ``tools/list`` form (checked
    as an MCP ``Tool`` when the manifests were compiled) built the first time it is listed."""

    def __init__(self, specs: Sequence[ToolSpec]) -> None:
        self.specs = list(specs)
        self.by_name = {s.name: s for s in self.specs}
        self.aliases = {alias: s for s in self.specs for alias in s.aliases}
        self._wire: dict[str, dict[str, Any]] = {}
        self.enabled = SessionTools()  # tools each session turned on through discovery

    def resolve(self, name: str) -> ToolSpec | None:
        return self.by_name.get(name) or self.aliases.get(name)

    @property
    def wire_forms_built(self) -> int:
        """How many tools have been serialized so far (those ever listed)."""
        return len(self._wire)

    def wire(self, spec: ToolSpec) -> dict[str, Any]:
        """The tool as ``tools/list`` sends it (camelCase JSON form), built once. The SDK validates it
        again, for the session's protocol version, as it sends the list."""
        form = self._wire.get(spec.name)
        if form is None:
            form = self._wire[spec.name] = spec.wire_tool()
        return form


def wire_form(model: BaseModel) -> dict[str, Any]:
    """A model dumped as the SDK's runner dumps a handler's result (by alias, JSON mode, no ``None``)."""
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


DRAINING = (
    "This close-mcp server is shutting down: {tool} was not run and nothing changed. Call it again "
    "in a few seconds (your client reconnects to a server that is up), or on another close-mcp server."
)


class CallTracker:
    """Counts tool calls in flight, so a shutdown can wait for them to finish; once ``draining``, new
    calls are refused while those in flight finish."""

    def __init__(self) -> None:
        self.active = 0
        self.draining = False
        self._idle = anyio.Event()
        self._idle.set()

    def drain(self) -> None:
        self.draining = True

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


@dataclass
class CallOutcome:
    result: types.CallToolResult
    label: str  # the audit outcome: ok, dry_run, refused, invalid, not_confirmed, error:<status>
    id_sources: tuple[Any, ...] = ()  # scanned for Close IDs only when an audit log is written
    request_id: str | None = None  # Close's request ID, when its answer named one


class ListTools:
    """``tools/list``: the tools the policy exposes to the calling agent.

    Which tools are visible is decided on every call (grants reload, sessions enable tools), but a
    visible set is serialized once: each tool's wire form is built on its first listing and the
    result for a set of names is kept (:data:`LISTED_SETS` sets, the least recently listed dropped).
    The result is returned in its wire (dict) form, which the SDK's runner takes as is (it copies the
    top-level dict, then checks and shapes it for the session's protocol version, as it does for a
    model): no 300 pydantic models dumped per call. What remains per call is that SDK pass."""

    def __init__(self, catalog: ToolCatalog, policy: AccessPolicy, events: EventTools | None = None) -> None:
        self.catalog, self.policy, self.events = catalog, policy, events
        self._listed: OrderedDict[tuple[str, ...], dict[str, Any]] = OrderedDict()
        self._local: dict[str, dict[str, Any]] = {}  # discovery and event tools, serialized once
        # The rest of the result as the SDK dumps the model (ttlMs, cacheScope, resultType defaults:
        # the 2026-07-28 surface requires them). Were cache hints set for tools/list (this server sets
        # none), ttlMs and cacheScope would have to be left out for the runner to fill them.
        self._envelope = wire_form(types.ListToolsResult(tools=[]))

    async def __call__(self, ctx: Context, params: types.PaginatedRequestParams | None) -> dict[str, Any]:
        agent = current_agent(ctx)
        enabled = self.catalog.enabled.enabled(ctx.session)
        specs = self.catalog.specs
        visible = [s for s in specs if self.policy.visible_to(s, agent, enabled)]
        local: list[types.Tool] = []
        if self.policy.has_discoverable(specs):
            local += WIRE_DISCOVERY_TOOLS.values()
        if self.events is not None:
            local += self.events.listed(agent)
        names = (*(s.name for s in visible), *(t.name for t in local))
        result = self._listed.get(names)
        if result is None:
            tools = [self.catalog.wire(s) for s in visible] + [self._local_form(t) for t in local]
            result = self._listed[names] = {**self._envelope, "tools": tools}
            while len(self._listed) > LISTED_SETS:
                self._listed.popitem(last=False)
        else:
            self._listed.move_to_end(names)
        return result

    @property
    def sets_kept(self) -> int:
        """How many visible sets have a serialized result kept."""
        return len(self._listed)

    def _local_form(self, tool: types.Tool) -> dict[str, Any]:
        form = self._local.get(tool.name)
        if form is None:
            form = self._local[tool.name] = wire_form(tool)
        return form


class CallTool:
    """``tools/call``: one tool call from policy to audit."""

    def __init__(
        self,
        catalog: ToolCatalog,
        executor: Executor,
        client_for: ClientProvider,
        policy: AccessPolicy,
        audit: AuditLog | None = None,
        tracker: CallTracker | None = None,
        log_levels: LogLevels | None = None,
        keys: idempotency.IdempotencyKeys | None = None,
        client_gone: ClientGone | None = None,
        events: EventTools | None = None,
    ) -> None:
        self.catalog, self.executor, self.client_for = catalog, executor, client_for
        self.form = executor.form  # every successful result of this server is sent in this form
        self.keys = keys or idempotency.IdempotencyKeys(MemoryStore())
        self.client_gone = client_gone  # the remote server's check; None: calls are never cut
        self.policy, self.audit = policy, audit
        self.tracker = tracker or CallTracker()
        self.log_levels = log_levels
        self.events = events

    async def __call__(self, ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name in DISCOVERY_TOOLS and self.policy.has_discoverable(self.catalog.specs):
            return await self._discovery(ctx, params.name, dict(params.arguments or {}))
        if self.events is not None and self.events.handles(params.name):
            return await self._event_tool(ctx, params.name, dict(params.arguments or {}))
        spec = self.catalog.resolve(params.name)
        if spec is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        args = dict(params.arguments or {})
        agent = current_agent(ctx)
        started = time.monotonic()
        if self.tracker.draining:
            outcome = CallOutcome(error_result(DRAINING.format(tool=spec.name)), "refused:draining")
            if self.audit is not None:
                self._record(spec, args, agent, outcome, started)
            outcome.result.meta = {OUTCOME_META: outcome.label}
            return outcome.result
        self.tracker.enter()
        try:
            if self.client_gone is not None and spec.access == "read":
                outcome = await self._unless_client_goes(ctx, spec, args, agent)
            else:  # a write runs to its end even if its client went away: it may be half done
                outcome = await self.run(ctx, spec, args, agent)
        except Exception:
            log.exception("tool %s failed", spec.name)
            outcome = CallOutcome(
                error_result(f"Internal error in close-mcp while running {spec.name}; see the server log."),
                "error:internal",
            )
        finally:
            self.tracker.exit()
        if self.audit is not None:
            self._record(spec, args, agent, outcome, started)
        outcome.result.meta = {**(outcome.result.meta or {}), OUTCOME_META: outcome.label}
        return outcome.result

    async def _unless_client_goes(
        self, ctx: Context, spec: ToolSpec, args: dict[str, Any], agent: str
    ) -> CallOutcome:
        """A read call, cancelled as soon as its client is gone (nobody is left to get the answer).
        The call runs in this task; one watcher beside it looks every :data:`CLIENT_WATCH_SECONDS`,
        first after that long (most reads have answered by then, and never pay for a check)."""
        assert self.client_gone is not None
        gone = self.client_gone
        outcome: CallOutcome | None = None
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                await anyio.sleep(CLIENT_WATCH_SECONDS)
                while not await gone(ctx):
                    await anyio.sleep(CLIENT_WATCH_SECONDS)
                log.info("%s cancelled: its client went away", spec.name)
                tg.cancel_scope.cancel()

            tg.start_soon(watch)
            outcome = await self.run(ctx, spec, args, agent)
            tg.cancel_scope.cancel()
        if outcome is not None:
            return outcome
        return CallOutcome(error_result(f"{spec.name} was cancelled: the client went away."), "cancelled")

    async def _discovery(self, ctx: Context, name: str, args: dict[str, Any]) -> types.CallToolResult:
        """find_tools / enable_tools / call_tool: local, except that call_tool runs the named tool."""
        problem = discovery.invalid_arguments(name, args)
        if problem:
            return error_result(problem)
        agent = current_agent(ctx)
        specs, enabled = self.catalog.specs, self.catalog.enabled.enabled(ctx.session)
        if name == CALL_TOOL:
            target = self.catalog.resolve(str(args["name"]))
            if target is None:
                return error_result(
                    f"No tool named {args['name']!r}; find_tools lists the tools you may use."
                )
            params = types.CallToolRequestParams(name=target.name, arguments=args.get("arguments") or {})
            return await self(ctx, params)
        if name == ENABLE_TOOLS:
            outcome = discovery.enable(self.catalog, self.policy, agent, args["names"])
            if outcome["enabled"]:
                self.catalog.enabled.enable(ctx.session, outcome["enabled"])
                try:
                    await ctx.session.send_tool_list_changed()
                except Exception as exc:  # e.g. a stateless request: the list cannot change
                    log.debug("tools/list_changed not sent: %s", exc)
            return ok_result(outcome, render(outcome), self.form)
        found = discovery.find(specs, self.policy, agent, enabled, args)
        return ok_result(found, render(found), self.form)

    async def _event_tool(self, ctx: Context, name: str, args: dict[str, Any]) -> types.CallToolResult:
        """wait_for_events / subscribe_webhooks: policy as their mirrored tool; the subscription change
        is audited like any destructive call (its result never carries the signature key)."""
        assert self.events is not None
        agent = current_agent(ctx)
        started = time.monotonic()
        refusal = self.events.refusal(name, agent)
        spec = self.events.specs[name]
        problem = events_tools.invalid_arguments(name, args)
        if refusal:
            outcome = CallOutcome(error_result(refusal), "refused")
        elif problem:
            outcome = CallOutcome(error_result(problem), "invalid")
        elif spec.access == "destructive" and (
            unconfirmed := await confirm(ctx, spec, args, self.events.summary(args))
        ):
            outcome = CallOutcome(error_result(unconfirmed), "not_confirmed", (args,))
        else:
            try:
                structured, text = await self.events.call(name, args, lambda: self.client_for(ctx))
                outcome = (
                    CallOutcome(error_result(text), "invalid")
                    if structured is None
                    else CallOutcome(ok_result(structured, text, self.form), "ok", (structured,))
                )
            except MissingCredential as exc:
                outcome = CallOutcome(error_result(str(exc)), "no_credential")
            except CloseError as exc:
                message = agent_message(exc, CallContext(name, {}, None, CredentialSource()))
                outcome = CallOutcome(error_result(message), f"error:{type(exc).__name__}")
        if self.audit is not None and spec.access != "read":
            self._record(spec, args, agent, outcome, started)
        outcome.result.meta = {**(outcome.result.meta or {}), OUTCOME_META: outcome.label}
        return outcome.result

    async def run(self, ctx: Context, spec: ToolSpec, args: dict[str, Any], agent: str) -> CallOutcome:
        refusal = self.policy.refusal(spec, agent)
        if refusal:
            return CallOutcome(error_result(refusal), "refused", (args,))
        try:
            plan = self.executor.plan(spec, args)
        except ToolInputError as exc:
            return CallOutcome(error_result(str(exc)), "invalid")
        source = CredentialSource()
        try:
            async with self.client_for(ctx) as client:
                source = client.credential.source
                return await self._send(ctx, spec, args, plan, client)
        except MissingCredential as exc:
            return CallOutcome(error_result(str(exc)), "no_credential")
        except ToolInputError as exc:  # e.g. a cursor issued for another tool or key
            return CallOutcome(error_result(str(exc)), "invalid")
        except CloseError as exc:
            message = agent_message(exc, CallContext(spec.name, plan.ids, spec.lookup_hint, source))
            status = (
                f"error:{exc.status}" if isinstance(exc, APIStatusError) else f"error:{type(exc).__name__}"
            )
            return CallOutcome(error_result(message), status, (args,))

    async def _send(
        self, ctx: Context, spec: ToolSpec, args: dict[str, Any], plan: RequestPlan, client: CloseClient
    ) -> CallOutcome:
        await self.executor.resolve(
            spec, plan, client, args
        )  # names → IDs: the dry run shows the real request
        if args.get("dry_run"):
            shown = {"dry_run": True, "request": plan.wire(client.base_url)}
            return CallOutcome(ok_result(shown, render(shown), self.form), "dry_run", (args,))
        if spec.access == "destructive":
            summary = await self.executor.preview(spec, plan, client)
            problem = await confirm(ctx, spec, args, summary)
            if problem:
                return CallOutcome(error_result(problem), "not_confirmed", (args,))
        waited = 0.0

        async def on_wait(seconds: float) -> None:
            nonlocal waited
            waited += seconds
            message = f"Close rate limit: waiting {seconds:.1f} s"
            await ctx.session.report_progress(waited, None, message)
            if self.log_levels is not None and self.log_levels.wants(ctx, "info"):
                await ctx.session.send_log_message("info", f"{spec.name}: {message}", logger="close_mcp")

        async def write() -> ToolOutput:
            return await self.executor.call(spec, args, plan, client, on_wait)

        replayed = False
        if args.get(idempotency.ARGUMENT):
            output, replayed = await self.keys.run(client.credential.fingerprint, spec.name, args, write)
        else:
            output = await write()
        label = "ok:replayed" if replayed else "ok:reconciled" if output.reconciled else "ok"
        result = ok_result(output.structured, output.text, self.form)
        return CallOutcome(result, label, (args, output.structured), output.request_id)

    def _record(
        self, spec: ToolSpec, args: dict[str, Any], agent: str, outcome: CallOutcome, started: float
    ) -> None:
        assert self.audit is not None
        first = outcome.result.content[0] if outcome.result.content else None
        detail = first.text if outcome.result.is_error and isinstance(first, types.TextContent) else None
        self.audit.write(
            agent=agent,
            tool=spec.name,
            access=spec.access,
            arguments=args,
            outcome=outcome.label,
            duration_ms=(time.monotonic() - started) * 1000,
            ids=close_ids(*outcome.id_sources),
            request_id=outcome.request_id,
            detail=detail,
        )
