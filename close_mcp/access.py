"""The access vocabulary in one place: a tool's ``access``, the scopes and grant levels that
admit it, and the four MCP tool hints it becomes."""

from __future__ import annotations

from typing import Any, Literal

Access = Literal["read", "write", "destructive"]
SCOPES = ("read", "write_safe", "write_destructive")  # as in Close's hosted MCP server
SCOPE_FOR_ACCESS: dict[str, str] = {"read": "read", "write": "write_safe", "destructive": "write_destructive"}
LEVELS = ("none", "read", "write", "destructive")  # per-agent grant levels, weakest first
ACCESS_LEVEL: dict[str, int] = {"read": 1, "write": 2, "destructive": 3}


def scope_allows(scope: str, access: str) -> bool:
    return SCOPES.index(scope) >= SCOPES.index(SCOPE_FOR_ACCESS[access])


def annotations_for(access: Access, method: str, idempotent: bool | None = None) -> dict[str, Any]:
    """The one place where ``access`` becomes the four MCP tool hints. ``idempotent`` comes from the
    manifest when it says so; otherwise GET, PUT and DELETE are idempotent and POST is not."""
    if idempotent is None:
        idempotent = method in ("GET", "PUT", "DELETE")
    return {
        "readOnlyHint": access == "read",
        "destructiveHint": access == "destructive",
        "idempotentHint": idempotent,
        "openWorldHint": True,
    }
