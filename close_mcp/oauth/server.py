"""Wiring of sign-in with Close for :func:`close_mcp.app.open_remote_app`: the records and their
store, Close's OAuth app (the real one, or the sandbox's), the provider, its pages, the per-grant
Close clients, and what :func:`close_mcp.http_app.build_remote_app` mounts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp.server.auth.provider import ProviderTokenVerifier, TokenVerifier
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from starlette.routing import Route
from starlette.types import ASGIApp

from close_mcp.access import SCOPES
from close_mcp.oauth.clients import GrantClients
from close_mcp.oauth.close_app import CloseOAuthApp
from close_mcp.oauth.close_tokens import GrantTokens
from close_mcp.oauth.file_store import FileStore
from close_mcp.oauth.pages import SignInPages
from close_mcp.oauth.provider import DEFAULT_SCOPE, CloseSignInProvider
from close_mcp.oauth.records import Records, load_key
from close_mcp.oauth.step_up import InsufficientScope, NeededScope
from close_mcp.settings import Settings
from close_mcp.shared_store import SharedStore

DEFAULT_STORE = Path.home() / ".close-mcp" / "oauth-grants.json"


@dataclass
class OAuthServer:
    provider: CloseSignInProvider
    pages: SignInPages
    tokens: GrantTokens
    clients: GrantClients
    scopes: list[str] = field(default_factory=lambda: list(SCOPES))
    needed_scope: NeededScope | None = None  # set once the tools are known (close_mcp.app)

    @property
    def verifier(self) -> TokenVerifier:
        return ProviderTokenVerifier(self.provider)  # type: ignore[arg-type]  # our code type is a subclass

    def auth_settings(self) -> dict[str, Any]:
        return {
            "client_registration_options": ClientRegistrationOptions(
                enabled=True, valid_scopes=self.scopes, default_scopes=[DEFAULT_SCOPE]
            ),
            "revocation_options": RevocationOptions(enabled=True),
        }

    def routes(self) -> list[Route]:
        return self.pages.routes()

    def challenge_scopes(self, mcp_endpoint: ASGIApp, resource_metadata_url: str) -> ASGIApp:
        """``/mcp`` answering 403 ``insufficient_scope`` for a tool beyond the grant (:mod:`.step_up`)."""
        if self.needed_scope is None:
            return mcp_endpoint
        return InsufficientScope(mcp_endpoint, self.needed_scope, resource_metadata_url)

    async def aclose(self) -> None:
        await self.clients.aclose()


def close_app_for(settings: Settings, upstream_base: str) -> CloseOAuthApp:
    """The Close OAuth app close-mcp signs users in with; on ``--sandbox`` without one, the sandbox's
    demo app (its authorize and token routes sit beside its ``/api/v1``)."""
    if settings.sandbox and not settings.oauth_client_id:
        from close_mcp.sandbox.oauth import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

        root = upstream_base.rstrip("/").removesuffix("/api/v1")
        return CloseOAuthApp(
            DEMO_CLIENT_ID,
            DEMO_CLIENT_SECRET,
            f"{root}/oauth2/authorize/",
            f"{root}/oauth2/token/",
            timeout=settings.http_timeout,
        )
    settings.validate()  # names the missing client id / secret
    assert settings.oauth_client_id and settings.oauth_client_secret
    return CloseOAuthApp(
        settings.oauth_client_id,
        settings.oauth_client_secret,
        settings.oauth_authorize_url,
        settings.oauth_token_url,
        timeout=settings.http_timeout,
    )


def build_oauth_server(
    settings: Settings, upstream_base: str, base_url: str, resource_url: str, store: SharedStore | None = None
) -> OAuthServer:
    path = settings.oauth_store or DEFAULT_STORE
    records = Records(store or FileStore(path), load_key(settings.oauth_key, path.with_suffix(".key")))
    close = close_app_for(settings, upstream_base)
    tokens = GrantTokens(records, close)
    provider = CloseSignInProvider(records, tokens, base_url, resource_url)
    clients = GrantClients(
        tokens, upstream_base, wait_budget=settings.wait_budget, timeout=settings.http_timeout
    )
    return OAuthServer(provider, SignInPages(provider, close), tokens, clients)
