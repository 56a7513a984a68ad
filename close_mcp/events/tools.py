"""The local event tools, served beside the Close tools like discovery's:

* ``wait_for_events`` (read; mirrors ``list_events``' access): waits up to a timeout for events
  matching object type, action, lead, user or object, and returns them compactly — for hosts that
  do not handle resource subscriptions;
* ``subscribe_webhooks`` (destructive; mirrors ``create_webhook``): creates, updates or rotates the
  Close webhook subscription pointing at this server (remote server with a public URL only).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import mcp.types as types

from close_mcp.access import Access
from close_mcp.client import CloseClient
from close_mcp.events.hub import EventFilter, EventHub, compact
from close_mcp.events.subscriptions import (
    DEFAULT_ACTIONS,
    DEFAULT_OBJECT_TYPES,
    ensure_subscription,
    event_list,
)
from close_mcp.manifest import ToolSpec
from close_mcp.trim import render

if TYPE_CHECKING:
    from close_mcp.events.service import EventService
    from close_mcp.policy import AccessPolicy

WAIT_FOR_EVENTS, SUBSCRIBE_WEBHOOKS = "wait_for_events", "subscribe_webhooks"
MIRRORS = {WAIT_FOR_EVENTS: "list_events", SUBSCRIBE_WEBHOOKS: "create_webhook"}
ACCESS: dict[str, Access] = {WAIT_FOR_EVENTS: "read", SUBSCRIBE_WEBHOOKS: "destructive"}
MAX_WAIT, DEFAULT_WAIT, MAX_EVENTS = 120, 30, 50
_ID = {"type": "string", "maxLength": 80, "pattern": "^[a-z]+_[A-Za-z0-9]+$"}
_WORD = {"type": "string", "maxLength": 60, "pattern": "^[a-z_.]+$"}

EVENT_TOOLS: dict[str, dict[str, Any]] = {
    WAIT_FOR_EVENTS: {
        "name": WAIT_FOR_EVENTS,
        "title": "Wait for Close events",
        "description": "Wait until something changes in Close and say what: returns the events (object "
        "type, action, object and lead IDs, user, changed fields) that match the filters, as soon as one "
        "arrives or empty after timeout_seconds. Pass the last event ID you got as after_event_id to "
        "continue without missing or repeating one. Reads nothing else; changes nothing.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "object_type": {**_WORD, "description": "e.g. lead, contact, opportunity, activity.note"},
                "action": {**_WORD, "description": "e.g. created, updated, deleted, merged"},
                "lead_id": _ID,
                "user_id": _ID,
                "object_id": _ID,
                "timeout_seconds": {"type": "integer", "minimum": 0, "maximum": MAX_WAIT},
                "max_events": {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS},
                "after_event_id": {**_ID, "description": "return events published after this one"},
            },
            "additionalProperties": False,
        },
        "annotations": {
            "readOnlyHint": True,
            "destructiveHint": False,
            "idempotentHint": True,
            "openWorldHint": False,
        },
    },
    SUBSCRIBE_WEBHOOKS: {
        "name": SUBSCRIBE_WEBHOOKS,
        "title": "Subscribe this server to Close webhooks",
        "description": "Create or update the Close webhook subscription that pushes changes to this "
        "server, for the object types and actions given (default: lead, contact, opportunity and task "
        "changes); rotate=true replaces its signing key with an overlap so no delivery is lost. The key is "
        "kept by the server and never shown.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "object_types": {"type": "array", "items": _WORD, "minItems": 1, "maxItems": 30},
                "actions": {"type": "array", "items": _WORD, "minItems": 1, "maxItems": 10},
                "rotate": {"type": "boolean"},
                "confirm": {"type": "boolean", "description": "true once the user agreed"},
            },
            "additionalProperties": False,
        },
        "annotations": {
            "readOnlyHint": False,
            "destructiveHint": True,
            "idempotentHint": True,
            "openWorldHint": True,
        },
    },
}


def invalid_arguments(name: str, args: dict[str, Any]) -> str | None:
    """The first problem with the arguments, naming the argument and the fix, or None."""
    import jsonschema  # on the first event-tool call, not at start-up

    schema = EVENT_TOOLS[name]["inputSchema"]
    error = next(iter(sorted(jsonschema.Draft202012Validator(schema).iter_errors(args), key=str)), None)
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path) or "arguments"
    if error.validator == "additionalProperties":
        extra = ", ".join(sorted(set(args) - set(schema["properties"])))
        return f"{name}: unknown argument(s) {extra}; allowed: {', '.join(schema['properties'])}."
    if error.validator == "pattern":
        is_id = isinstance(error.schema, dict) and error.schema.get("pattern") == _ID["pattern"]
        hint = "an ID like lead_abc123" if is_id else "a lower-case name like lead or activity.note"
        return f"{name}: {where} must be {hint}, got {error.instance!r}."
    return f"{name}: {where}: {error.message}."


async def wait_for_events(hub: EventHub, args: dict[str, Any]) -> dict[str, Any]:
    wanted = EventFilter(
        object_type=args.get("object_type"),
        action=args.get("action"),
        lead_id=args.get("lead_id"),
        user_id=args.get("user_id"),
        object_id=args.get("object_id"),
    )
    timeout = float(args.get("timeout_seconds", DEFAULT_WAIT))
    limit = int(args.get("max_events", 20))
    events = await hub.wait(wanted, timeout, limit, args.get("after_event_id"))
    shown = [compact(e) for e in events]
    return {
        "events": shown,
        "timed_out": not shown,
        "last_event_id": shown[-1]["id"] if shown else args.get("after_event_id"),
    }


class EventTools:
    """The event tools of one server: listed and refused exactly as the Close tool each mirrors
    (``wait_for_events`` as ``list_events``; ``subscribe_webhooks`` as ``create_webhook``, and only
    at the destructive scope)."""

    def __init__(self, service: EventService, mirrored: dict[str, ToolSpec], policy: AccessPolicy) -> None:
        self.service, self.policy = service, policy
        # each local tool as a copy of the spec it mirrors: same toolset, its own name and access
        self.specs = {
            name: replace(mirrored[source], name=name, access=ACCESS[name])
            for name, source in MIRRORS.items()
            if source in mirrored
        }
        if service.webhook_url is None:  # no public URL: nothing Close could push to
            self.specs.pop(SUBSCRIBE_WEBHOOKS, None)
        self.wire = {name: types.Tool.model_validate(EVENT_TOOLS[name]) for name in self.specs}

    def handles(self, name: str) -> bool:
        return name in self.specs and (name != WAIT_FOR_EVENTS or self.service.live)

    def refusal(self, name: str, agent: str) -> str | None:
        return self.policy.refusal(self.specs[name], agent)

    def listed(self, agent: str) -> list[types.Tool]:
        return [
            self.wire[n]
            for n in self.specs
            if self.handles(n)
            if self.policy.exposes(self.specs[n]) and not self.refusal(n, agent)
        ]

    def summary(self, args: dict[str, Any]) -> str:
        """What subscribe_webhooks will change, for the confirmation."""
        kinds = ", ".join(args.get("object_types") or DEFAULT_OBJECT_TYPES)
        actions = ", ".join(args.get("actions") or DEFAULT_ACTIONS)
        what = "Replace the signing key of" if args.get("rotate") else "Create or update"
        return f"{what} the Close webhook subscription sending {kinds} ({actions}) to {self.service.webhook_url}."

    async def call(
        self,
        name: str,
        args: dict[str, Any],
        client_for: Callable[[], AbstractAsyncContextManager[CloseClient]],
    ) -> tuple[dict[str, Any] | None, str]:
        """(result, its JSON text), or (None, what to fix) for a tool error; what the agent should know
        beside the data is the result's ``notice``, as for every other tool."""
        problem = invalid_arguments(name, args)
        if problem:
            return None, problem
        if name == WAIT_FOR_EVENTS:
            result = await wait_for_events(self.service.hub, args)
            if not result["events"]:
                result["notice"] = "No matching event arrived before the timeout. Call again to keep waiting."
            return result, render(result)
        url = self.service.webhook_url
        assert url is not None
        events = event_list(
            list(args.get("object_types") or DEFAULT_OBJECT_TYPES),
            list(args.get("actions") or DEFAULT_ACTIONS),
        )
        async with client_for() as client:
            outcome = await ensure_subscription(
                client, self.service.keys, url, events, rotate=bool(args.get("rotate"))
            )
        sub = outcome["subscription"]
        text = (
            f"Webhook subscription {sub.get('id')} {outcome['action']}: {len(events)} event types to {url}."
        )
        if outcome.get("retiring"):
            text += f" The previous one keeps delivering for {outcome['retiring']['after_seconds']:.0f} s."
        result = {**outcome, "notice": text}
        return result, render(result)
