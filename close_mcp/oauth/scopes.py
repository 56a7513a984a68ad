"""OAuth scopes = the ``--scope`` tiers (:mod:`close_mcp.access`): what each allows, as the consent
page says it, and the policy that limits a call to the calling token's grant."""

from __future__ import annotations

from dataclasses import dataclass, fields

from mcp.server.auth.middleware.auth_context import get_access_token

from close_mcp.access import SCOPE_FOR_ACCESS, SCOPES, scope_allows
from close_mcp.manifest import ToolSpec
from close_mcp.policy import AccessPolicy

SCOPE_TEXT = {
    "read": "read your Close data: leads, contacts, opportunities, activities, reports",
    "write_safe": "also create and update records (no deletes, merges or bulk changes)",
    "write_destructive": "also delete, merge and change records in bulk",
}


def granted_scope(scopes: list[str]) -> str | None:
    """The widest tier among the granted scopes (each tier includes the ones before it)."""
    tiers = [s for s in SCOPES if s in scopes]
    return tiers[-1] if tiers else None


@dataclass
class GrantScopedPolicy(AccessPolicy):
    """The server's policy, narrowed to what the user granted the calling MCP client: tools outside
    the grant are neither listed, found by discovery, nor callable."""

    @classmethod
    def narrowing(cls, policy: AccessPolicy) -> GrantScopedPolicy:
        return cls(**{f.name: getattr(policy, f.name) for f in fields(AccessPolicy)})

    @staticmethod
    def _token_scope() -> str | None:
        token = get_access_token()
        return None if token is None else granted_scope(token.scopes) or "none"

    def exposes(self, spec: ToolSpec) -> bool:
        scope = self._token_scope()
        return super().exposes(spec) and (
            scope is None or (scope != "none" and scope_allows(scope, spec.access))
        )

    def refusal(self, spec: ToolSpec, agent: str | None) -> str | None:
        refused = super().refusal(spec, agent)
        scope = self._token_scope()
        if refused is not None or scope is None or (scope != "none" and scope_allows(scope, spec.access)):
            return refused
        needed = SCOPE_FOR_ACCESS[spec.access]
        return (
            f"{spec.name} is a {spec.access} tool and needs scope {needed}; you signed in granting "
            f"{scope}. Sign in again granting {needed} to use it. Nothing was sent to Close."
        )
