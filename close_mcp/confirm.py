"""Destructive calls are confirmed before anything is sent.

When the client supports MCP elicitation the user is asked, with a preview of what will be
destroyed (fetched with a read first); otherwise the tool needs ``confirm: true``. The
preview is declared in the manifest (``confirm_preview``), so this module knows no resources.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import mcp.types as types
from mcp.server import ServerRequestContext

from close_mcp.arguments import PreparedRequest
from close_mcp.client import CloseClient
from close_mcp.manifest import ToolSpec

log = logging.getLogger("close_mcp.confirm")
_CONFIRM_SCHEMA = {
    "type": "object",
    "properties": {"confirm": {"type": "boolean", "title": "Yes, go ahead"}},
    "required": ["confirm"],
}


async def preview(spec: ToolSpec, args: dict[str, Any], request: PreparedRequest, client: CloseClient) -> str:
    """One sentence naming what the call will destroy or change (may raise a CloseError, e.g. 404)."""
    if not spec.confirm_preview:
        return f"{spec.title}: {spec.method} {request.path}."
    path = spec.confirm_preview
    for name, value in args.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    if path == spec.path:  # a bulk change: count what the same filters match
        params = {**request.params, "_limit": "100", "_fields": "id"}
        page = (await client.request("GET", path, params=params)).data or {}
        matched = len(page.get("data") or [])
        more = "+" if page.get("has_more") else ""
        return f"{spec.title}: {matched}{more} objects match these filters and will all be changed."
    obj = (await client.request("GET", path)).data or {}
    name = next(
        (obj[k] for k in ("display_name", "name", "label", "url", "text") if obj.get(k)), obj.get("id", "?")
    )
    counts = [
        f"{len(v)} {k}"
        for k, v in obj.items()
        if isinstance(v, list)
        and v
        and k
        not in (
            "contact_ids",
            "addresses",
            "emails",
            "phones",
            "urls",
            "events",
            "integration_links",
            "statuses",
        )
    ]
    tail = (
        f" It also removes: {', '.join(counts)} (and everything else attached)."
        if counts and spec.method == "DELETE"
        else ""
    )
    return f"{spec.title}: {name!s} ({obj.get('id', path)}).{tail}"


def client_can_elicit(ctx: ServerRequestContext[Any, Any]) -> bool:
    try:
        return ctx.session.check_client_capability(
            types.ClientCapabilities(elicitation=types.ElicitationCapability())
        )
    except Exception:
        return False


async def confirm(
    ctx: ServerRequestContext[Any, Any],
    spec: ToolSpec,
    args: dict[str, Any],
    request: PreparedRequest,
    client: CloseClient,
) -> str | None:
    """``None`` when the call may proceed; otherwise the tool-error text (nothing was sent)."""
    summary = await preview(spec, args, request, client)
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
