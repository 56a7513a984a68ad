"""Discovery: every reachable tool without listing every tool.

With the default toolset only a sales agent's daily tools are listed. Three server tools reach the rest:

* ``find_tools`` – search reachable tools by what they do (with their access level and input schema);
* ``enable_tools`` – add found tools to this session's ``tools/list`` and send ``tools/list_changed``
  (hosts that re-read the list then show them with their own annotations);
* ``call_tool`` – call a found tool by name, for hosts that ignore ``list_changed`` or run stateless.

Why this shape: hosts differ. Claude's hosts defer-load large tool lists and re-read on
``list_changed``; others cache the first list; github-mcp-server dropped dynamic toolsets in 2026 for
that reason and Sentry's server uses search-then-execute. Offering both covers both kinds of host.
Nothing here widens access: found tools are those the policy already serves to this agent, and
``call_tool`` goes through the same handler (policy, validation, confirmation, audit) as a direct call.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import mcp.types as types

from close_mcp.manifest import SERVER_TOOL_NAMES, ToolSpec
from close_mcp.policy import AccessPolicy
from close_mcp.tool_search import rank_tools

if TYPE_CHECKING:
    import jsonschema

FIND_TOOLS, ENABLE_TOOLS, CALL_TOOL = "find_tools", "enable_tools", "call_tool"
assert frozenset({FIND_TOOLS, ENABLE_TOOLS, CALL_TOOL}) == SERVER_TOOL_NAMES
MAX_FOUND = 10
_TOOL_NAME = {"type": "string", "maxLength": 64, "pattern": "^[a-z_]+$"}
# find_tools and enable_tools read and change only this server's own listing, never Close.
_LOCAL_READ = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}

DISCOVERY_TOOLS: dict[str, dict[str, Any]] = {
    FIND_TOOLS: {
        "name": FIND_TOOLS,
        "title": "Find more Close tools",
        "description": "Search the Close tools this server offers beyond the ones listed (all of Close: "
        "sequences, templates, smart views, reports, custom objects, webhooks, deletes…) by what you want "
        "to do, e.g. 'email template' or 'delete contact'. Returns each match's name, access and argument "
        "schema; then enable_tools to list them, or call_tool to call one directly.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "maxLength": 200, "description": "Words describing the task."},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_FOUND},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
        "annotations": _LOCAL_READ,
    },
    ENABLE_TOOLS: {
        "name": ENABLE_TOOLS,
        "title": "Enable found tools",
        "description": "Add tools found with find_tools to this session's tool list (your client is told "
        "the list changed). Changes nothing in Close.",
        "inputSchema": {
            "type": "object",
            "properties": {"names": {"type": "array", "items": _TOOL_NAME, "minItems": 1, "maxItems": 20}},
            "required": ["names"],
            "additionalProperties": False,
        },
        "annotations": _LOCAL_READ,
    },
    CALL_TOOL: {
        "name": CALL_TOOL,
        "title": "Call a found tool",
        "description": "Call a tool found with find_tools by name, with its arguments, when it is not in "
        "your tool list. The same checks apply as to a direct call, including confirmation of "
        "irreversible tools.",
        "inputSchema": {
            "type": "object",
            "properties": {"name": _TOOL_NAME, "arguments": {"type": "object"}},
            "required": ["name"],
            "additionalProperties": False,
        },
        # It may call anything the agent may call, so it carries the most cautious hints.
        "annotations": {
            "readOnlyHint": False,
            "destructiveHint": True,
            "idempotentHint": False,
            "openWorldHint": True,
        },
    },
}
WIRE_DISCOVERY_TOOLS = {name: types.Tool.model_validate(tool) for name, tool in DISCOVERY_TOOLS.items()}


def connection_of(session: object) -> object:
    """The connection a request belongs to. The SDK builds a ``ServerSession`` proxy per request; the
    connection behind it (``_connection``, not public API) is what lives as long as the MCP session."""
    return getattr(session, "_connection", session)


class SessionTools:
    """Tools each MCP session enabled, forgotten with the session's connection."""

    def __init__(self) -> None:
        self._enabled: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()

    def enabled(self, session: object) -> frozenset[str]:
        return frozenset(self._enabled.get(connection_of(session), ()))

    def enable(self, session: object, names: Sequence[str]) -> None:
        self._enabled.setdefault(connection_of(session), set()).update(names)


def summary(spec: ToolSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "title": spec.title,
        "toolset": spec.toolset,
        "access": spec.access,
        "description": spec.description,
        "input_schema": spec.wire_schema,
    }


def find(
    specs: Sequence[ToolSpec], policy: AccessPolicy, agent: str, enabled: frozenset[str], args: dict[str, Any]
) -> dict[str, Any]:
    """Reachable tools this agent may call, ranked for the query."""
    allowed = [s for s in specs if policy.exposes(s) and policy.refusal(s, agent) is None]
    limit = int(args.get("limit") or MAX_FOUND)
    found = rank_tools(allowed, str(args["query"]))
    items = [{**summary(s), "listed": policy.visible_to(s, agent, enabled)} for s in found[:limit]]
    result: dict[str, Any] = {"items": items, "count": len(items), "matches": len(found)}
    if not found:
        result["notice"] = (
            f"No tool matches {args['query']!r} among the {len(allowed)} tools you may use. "
            "Try other words (e.g. the Close object: lead, contact, opportunity, task, email, template)."
        )
    elif len(found) > limit:
        result["notice"] = f"Showing {limit} of {len(found)} matches; use more specific words for others."
    return result


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    """Built on a discovery tool's first call (jsonschema is not imported at start-up)."""
    import jsonschema

    return jsonschema.Draft202012Validator(DISCOVERY_TOOLS[name]["inputSchema"])


def invalid_arguments(name: str, args: dict[str, Any]) -> str | None:
    """The error text for bad arguments to a discovery tool, naming each one; ``None`` when valid."""
    problems = [
        f"`{'.'.join(map(str, e.absolute_path)) or 'arguments'}`: {e.message}"
        for e in sorted(_validator(name).iter_errors(args), key=lambda e: list(e.absolute_path))
    ]
    return f"Invalid arguments for {name}: {'; '.join(problems)}." if problems else None


def enable(catalog: Any, policy: AccessPolicy, agent: str, names: Sequence[str]) -> dict[str, Any]:
    """Which of ``names`` this agent may have listed; the reason for each it may not."""
    enabled: list[str] = []
    refused: dict[str, str] = {}
    for name in names:
        spec = catalog.resolve(name)
        reason = "no such tool" if spec is None else policy.refusal(spec, agent)
        if spec is not None and reason is None:
            enabled.append(spec.name)
        else:
            refused[name] = str(reason)
    result: dict[str, Any] = {"enabled": enabled}
    if refused:
        result["refused"] = refused
    if enabled:
        result["notice"] = (
            "These tools are now in this session's tool list. If your client does not show them, "
            "call them through call_tool."
        )
    return result
