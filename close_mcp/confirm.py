"""Destructive calls are confirmed before anything is sent.

When the client supports MCP elicitation the user is asked, with the executor's preview of what
will be destroyed; otherwise the tool needs ``confirm: true``. This module only holds the
dialogue: what a preview says is declared in the manifest and read by the executor.
"""

from __future__ import annotations

import logging
from typing import Any

import mcp.types as types
from mcp.server import ServerRequestContext

from close_mcp.manifest import ToolSpec

log = logging.getLogger("close_mcp.confirm")
_CONFIRM_SCHEMA = {
    "type": "object",
    "properties": {"confirm": {"type": "boolean", "title": "Yes, go ahead"}},
    "required": ["confirm"],
}


def client_can_elicit(ctx: ServerRequestContext[Any, Any]) -> bool:
    try:
        return ctx.session.check_client_capability(
            types.ClientCapabilities(elicitation=types.ElicitationCapability())
        )
    except Exception:
        return False


async def confirm(
    ctx: ServerRequestContext[Any, Any], spec: ToolSpec, args: dict[str, Any], summary: str
) -> str | None:
    """``None`` when the call may proceed; otherwise the tool-error text (nothing was sent)."""
    if client_can_elicit(ctx):
        try:
            answer = await ctx.session.elicit(
                f"Confirm an irreversible change in Close. {summary}",
                _CONFIRM_SCHEMA,
                related_request_id=ctx.request_id,
            )
        except Exception as exc:
            log.info("elicitation unavailable (%s); requiring confirm: true", type(exc).__name__)
        else:
            if answer.action == "accept" and (answer.content or {}).get("confirm") is True:
                return None
            return f"The user did not confirm ({answer.action}). {summary} Nothing was sent to Close."
    if args.get("confirm") is True:
        return None
    return (
        f"{spec.name} is irreversible and needs confirmation. {summary} Show this to the user; if they agree, "
        f"call {spec.name} again with the same arguments and confirm: true. Nothing was sent to Close."
    )
