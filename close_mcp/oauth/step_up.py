"""The scope challenge of the MCP authorization spec: a ``tools/call`` for a tool the token's grant
does not cover is answered ``403`` with ``WWW-Authenticate: Bearer error="insufficient_scope",
scope="…"`` before it reaches the session, so the client can ask the user for more (step-up).
Only for tools the server itself serves at the needed scope; anything else is left to the tool
handlers' ``isError`` refusals, which say what to do."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from close_mcp.access import SCOPE_FOR_ACCESS, SCOPES, scope_allows
from close_mcp.manifest import ToolSpec
from close_mcp.oauth.scopes import granted_scope
from close_mcp.policy import AccessPolicy

NeededScope = Callable[[str], str | None]


def scope_needed_by(specs: Sequence[ToolSpec], policy: AccessPolicy) -> NeededScope:
    """Tool name (or former name) → the scope it needs, when this server serves it at all."""
    by_name = {s.name: s for s in specs} | {a: s for s in specs for a in s.aliases}

    def needed(name: str) -> str | None:
        spec = by_name.get(name)
        if spec is None or not AccessPolicy.exposes(policy, spec):  # the server's own limits, not the grant's
            return None
        return SCOPE_FOR_ACCESS[spec.access]

    return needed


def _called_tool(body: bytes) -> str | None:
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return None
    params = message.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    return name if isinstance(name, str) else None


class InsufficientScope:
    def __init__(self, app: ASGIApp, needed: NeededScope, resource_metadata_url: str) -> None:
        self.app, self.needed, self.metadata_url = app, needed, resource_metadata_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or not isinstance(user, AuthenticatedUser)
        ):
            await self.app(scope, receive, send)
            return
        buffered: list[Message] = []
        body = b""
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        tool = _called_tool(body)
        needed = self.needed(tool) if tool else None
        granted = granted_scope(user.scopes)
        if needed is not None and not (granted and scope_allows(granted, _access_of(needed))):
            await self._challenge(send, tool or "", needed)
            return

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    async def _challenge(self, send: Send, tool: str, needed: str) -> None:
        wanted = " ".join(SCOPES[: SCOPES.index(needed) + 1])
        description = f"{tool} needs scope {needed}; sign in again granting it"
        challenge = (
            f'Bearer error="insufficient_scope", scope="{wanted}", '
            f'resource_metadata="{self.metadata_url}", error_description="{description}"'
        )
        body = json.dumps({"error": "insufficient_scope", "error_description": description}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", challenge.encode()),
        ]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _access_of(scope: str) -> str:
    return next(access for access, tier in SCOPE_FOR_ACCESS.items() if tier == scope)
