"""Sandbox credentials: API keys over HTTP Basic (key as user, blank password) and OAuth
bearer tokens, each bound to one organization and user."""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from dataclasses import dataclass

from starlette.requests import Request

from close_mcp.sandbox.store import OrgStore, SandboxError

DEMO_API_KEY = "sandbox_demo_api_key"


@dataclass(frozen=True)
class SandboxCredential:
    secret: str
    org_index: int
    user_id: str
    kind: str  # "api_key" | "oauth"
    expires_at: float | None = None  # wall clock; OAuth access tokens issued by /oauth2/token/ expire

    @property
    def key_id(self) -> str:
        return "api_" + hashlib.sha256(self.secret.encode()).hexdigest()[:22]


def issue_credentials(orgs: list[OrgStore], keys: list[str] | None) -> dict[str, SandboxCredential]:
    """Per organization: an admin API key, its OAuth twin (``<key>_oauth``) and a key for a
    non-admin user (``<key>_restricted``)."""
    keys = keys or [DEMO_API_KEY] + [f"sandbox_org{i + 1}_api_key" for i in range(1, len(orgs))]
    creds: dict[str, SandboxCredential] = {}
    for i, (org, key) in enumerate(zip(orgs, keys, strict=False)):
        users = list(org.users.values())
        admin = users[0]["id"]
        creds[key] = SandboxCredential(key, i, admin, "api_key")
        creds[f"{key}_oauth"] = SandboxCredential(f"{key}_oauth", i, admin, "oauth")
        restricted = next((u["id"] for u in users if u["role_id"] != "admin"), admin)
        creds[f"{key}_restricted"] = SandboxCredential(f"{key}_restricted", i, restricted, "api_key")
    return creds


def authenticate(creds: dict[str, SandboxCredential], request: Request) -> SandboxCredential:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    cred = None
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, password = "", "x"
        cred = creds.get(user) if password == "" else None
        cred = cred if cred and cred.kind == "api_key" else None
    elif scheme.lower() == "bearer":
        cred = creds.get(value.strip())
        cred = cred if cred and cred.kind == "oauth" else None
        cred = None if cred and cred.expires_at is not None and cred.expires_at <= time.time() else cred
    if cred is None:
        raise SandboxError(401, {"error": "Unauthorized"})
    return cred
