"""The rest of MCP beside tools: resources (the organization's schema and per-object views), prompts for
common workflows, completions of their arguments, and the logging level — declared as data in
``tool_manifests/_protocol.json`` and served by the generic handlers below (no resource names here).

Resources are read through the same shared Close client as tools, trimmed to the output budget; a
resource the calling agent's policy could not read through the matching tool is not served.
"""

from __future__ import annotations

import json
import logging
import re
import weakref
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mcp.types as types
from mcp.server import ServerRequestContext
from mcp.shared.exceptions import MCPError

from close_mcp.client import CloseClient
from close_mcp.discovery import connection_of
from close_mcp.errors import CloseError, NotFound
from close_mcp.events.hub import RECENT, EventFilter
from close_mcp.manifest import manifest_dir
from close_mcp.org_schema import OrgSchema
from close_mcp.plan import fill_path
from close_mcp.trim import fit_object

if TYPE_CHECKING:
    from close_mcp.events.service import EventService

log = logging.getLogger("close_mcp.protocol")
Context = ServerRequestContext[Any, Any]
ClientProvider = Callable[[Context], AbstractAsyncContextManager[CloseClient]]
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_ID = re.compile(r"^[a-z]+_[A-Za-z0-9]+$")
MAX_COMPLETIONS = 20
EVENTS_OFF = (
    "no live Close events on this server: the operator can start close-mcp with --events follow, or "
    "on the remote server subscribe Close's webhooks (close-mcp webhooks subscribe)."
)


_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


def _completion_values(source: dict[str, Any], item: dict[str, Any]) -> list[str]:
    """What one item offers: its value field (each element of a list field, e.g. a field's choices),
    or its ``template`` filled."""
    if source.get("template"):
        return [
            " ".join(
                source["template"]
                .format_map({k: item.get(k) or "" for k in _PLACEHOLDER.findall(source["template"])})
                .split()
            )
        ]
    value = item.get(source["value"], "")
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


class LogLevels:
    """The ``logging/setLevel`` of each connection (the SDK's per-request session proxy hides it)."""

    def __init__(self) -> None:
        self._levels: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()

    def set(self, ctx: Context, level: str) -> None:
        self._levels[connection_of(ctx.session)] = level

    def wants(self, ctx: Context, level: str) -> bool:
        asked = self._levels.get(connection_of(ctx.session))
        return asked is not None and _LEVELS.index(level) >= _LEVELS.index(asked)


@dataclass(frozen=True)
class Declarations:
    resources: list[dict[str, Any]]
    templates: list[dict[str, Any]]
    prompts: list[dict[str, Any]]
    completions: dict[str, dict[str, Any]]

    @classmethod
    def load(cls) -> Declarations:
        data = json.loads((manifest_dir() / "_protocol.json").read_text())
        return cls(data["resources"], data["templates"], data["prompts"], data["completions"])


class ProtocolHandlers:
    """The handlers for resources, prompts, completions and logging, with their dependencies."""

    def __init__(
        self,
        client_for: ClientProvider,
        schema: OrgSchema,
        output_budget: int,
        allowed: Callable[[Context, str], str | None],
        declared: Declarations | None = None,
        log_levels: LogLevels | None = None,
        events: EventService | None = None,
    ) -> None:
        self.client_for, self.schema, self.output_budget = client_for, schema, output_budget
        self.allowed = allowed  # (ctx, tool name) -> why the agent may not use that tool, or None
        self.declared = declared or Declarations.load()
        self.log_levels = log_levels or LogLevels()
        self.events = events  # live events (None: off): the ``events`` resources and subscriptions

    def _visible(self, ctx: Context, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            e
            for e in entries
            if self.allowed(ctx, e["tool"]) is None and (not e.get("events") or self._live())
        ]

    # ----- resources -----------------------------------------------------------------------
    async def list_resources(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return types.ListResourcesResult(
            resources=[
                types.Resource(uri=r["uri"], name=r["name"], title=r["title"], mime_type="application/json")
                for r in self._visible(ctx, self.declared.resources)
            ]
        )

    async def list_templates(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=t["uri_template"],
                    name=t["name"],
                    title=t["title"],
                    mime_type="application/json",
                )
                for t in self._visible(ctx, self.declared.templates)
            ]
        )

    def _match(self, uri: str) -> tuple[dict[str, Any], dict[str, str]]:
        for resource in self.declared.resources:
            if resource["uri"] == uri:
                return resource, {}
        for template in self.declared.templates:
            names = _PLACEHOLDER.findall(template["uri_template"])
            pattern = re.escape(template["uri_template"])
            for name in names:
                pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>[^/]+)")
            found = re.fullmatch(pattern, uri)
            if found and all(_ID.match(v) for v in found.groupdict().values()):
                return template, found.groupdict()
        raise MCPError(
            code=types.INVALID_PARAMS, message=f"Unknown resource {uri!r}; resources/list shows them."
        )

    def _live(self) -> bool:
        return self.events is not None and self.events.live

    def _allowed_match(self, ctx: Context, uri: str) -> tuple[dict[str, Any], dict[str, str]]:
        declared, values = self._match(uri)
        refused = self.allowed(ctx, declared["tool"])
        if refused:
            raise MCPError(code=types.INVALID_PARAMS, message=f"{uri}: {refused}")
        if declared.get("events") and not self._live():
            raise MCPError(code=types.INVALID_PARAMS, message=f"{uri}: {EVENTS_OFF}")
        return declared, values

    def _read_events(self, uri: str, values: dict[str, str]) -> types.ReadResourceResult:
        assert self.events is not None
        text = self.events.hub.render_recent(EventFilter(lead_id=values.get("lead_id")))
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="application/json", text=text)]
        )

    # ----- subscriptions -------------------------------------------------------------------
    async def subscribe(self, ctx: Context, params: types.SubscribeRequestParams) -> types.EmptyResult:
        """``resources/subscribe``: ``notifications/resources/updated`` for this URI on every event that
        concerns it (``close://events/recent``: every event; an object: its events and, for a lead, those
        of its contacts, opportunities, tasks and activities)."""
        uri = str(params.uri)
        self._allowed_match(ctx, uri)
        if self.events is None or not self.events.live:
            raise MCPError(code=types.INVALID_PARAMS, message=f"{uri}: {EVENTS_OFF}")
        hub = self.events.hub
        if uri != RECENT and not uri.startswith(("close://events/", *hub.object_uris.values())):
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"{uri}: does not change with Close events; subscribe to {RECENT} or an object.",
            )
        hub.subscribe(connection_of(ctx.session), uri)
        return types.EmptyResult()

    async def unsubscribe(self, ctx: Context, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        if self.events is not None:
            self.events.hub.unsubscribe(connection_of(ctx.session), str(params.uri))
        return types.EmptyResult()

    async def read_resource(
        self, ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        declared, values = self._allowed_match(ctx, uri)
        if declared.get("events"):
            return self._read_events(uri, values)
        path = fill_path(declared["path"], values)
        try:
            async with self.client_for(ctx) as client:
                query = {"_limit": "100"} if declared.get("list") else None
                data = (await client.request("GET", path, params=query)).data or {}
                if declared.get("custom_fields") and isinstance(data, dict):
                    data = self.schema.name_keys(
                        await self.schema.fields(client, declared["custom_fields"]), data
                    )
        except NotFound:
            raise MCPError(
                code=types.INVALID_PARAMS, message=f"{uri}: no such object in this Close organization."
            ) from None
        except CloseError as exc:
            raise MCPError(
                code=types.INTERNAL_ERROR, message=f"{uri}: Close answered {type(exc).__name__}."
            ) from None
        _, _, text = fit_object(data, self.output_budget, set())
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="application/json", text=text)]
        )

    # ----- prompts -------------------------------------------------------------------------
    async def list_prompts(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return types.ListPromptsResult(
            prompts=[
                types.Prompt(
                    name=p["name"],
                    title=p["title"],
                    description=p["description"],
                    arguments=[types.PromptArgument(**a) for a in p["arguments"]],
                )
                for p in self.declared.prompts
            ]
        )

    async def get_prompt(self, ctx: Context, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        prompt = next((p for p in self.declared.prompts if p["name"] == params.name), None)
        if prompt is None:
            raise MCPError(
                code=types.INVALID_PARAMS, message=f"Unknown prompt {params.name!r}; prompts/list shows them."
            )
        given = dict(params.arguments or {})
        missing = [a["name"] for a in prompt["arguments"] if a.get("required") and not given.get(a["name"])]
        if missing:
            raise MCPError(
                code=types.INVALID_PARAMS, message=f"Prompt {prompt['name']} needs: {', '.join(missing)}."
            )
        text = prompt["text"].format_map({a["name"]: given.get(a["name"], "") for a in prompt["arguments"]})
        return types.GetPromptResult(
            description=prompt["description"],
            messages=[types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))],
        )

    # ----- completions ---------------------------------------------------------------------
    async def complete(self, ctx: Context, params: types.CompleteRequestParams) -> types.CompleteResult:
        source = self.declared.completions.get(params.argument.name)
        if source is None or self.allowed(ctx, source["tool"]) is not None:
            return types.CompleteResult(completion=types.Completion(values=[]))
        typed = params.argument.value
        fields = {source["value"], source.get("label", source["value"])}
        if source.get("template"):  # e.g. a user's "{first_name} {last_name}"
            fields |= set(_PLACEHOLDER.findall(source["template"]))
        if source.get("narrow_by"):
            fields.add(source["narrow_by"]["field"])
        query = {"_limit": "100", "_fields": ",".join(sorted(fields))}
        if source.get("query") and typed:
            query[source["query"]] = typed
        try:
            async with self.client_for(ctx) as client:
                items = (await client.request("GET", source["path"], params=query)).data or {}
        except CloseError as exc:
            log.info("completion of %s failed: %s", params.argument.name, type(exc).__name__)
            return types.CompleteResult(completion=types.Completion(values=[]))
        rows = [i for i in items.get("data") or [] if isinstance(i, dict)]
        narrow = source.get("narrow_by")  # another argument already chosen, e.g. the custom field
        chosen = (
            (params.context.arguments or {}).get(narrow["argument"]) if narrow and params.context else None
        )
        if narrow and chosen:
            rows = [i for i in rows if str(i.get(narrow["field"], "")).casefold() == chosen.casefold()]
        values = list(dict.fromkeys(v for i in rows for v in _completion_values(source, i)))
        if not source.get("query"):
            values = [v for v in values if v.casefold().startswith(typed.casefold())]
        return types.CompleteResult(
            completion=types.Completion(
                values=values[:MAX_COMPLETIONS], total=len(values), has_more=len(values) > MAX_COMPLETIONS
            )
        )

    # ----- logging -------------------------------------------------------------------------
    async def set_level(self, ctx: Context, params: types.SetLevelRequestParams) -> types.EmptyResult:
        """``logging/setLevel``: remembered per connection; close-mcp's notices (rate-limit waits) are sent
        as log messages at ``info`` when the client asked for that level or a lower one."""
        self.log_levels.set(ctx, params.level)
        return types.EmptyResult()
