"""The remote server's HTTP app: streamable HTTP (``/mcp``) and legacy HTTP+SSE (``/sse`` + ``/messages/``)
from one Starlette app on uvicorn, behind bearer tokens, Host/Origin checks and a body limit.

Close credentials are either one server-wide key, or sent by each client in the
``Close-API-Key`` (or ``Close-Access-Token``) header; each credential gets its own shared
client from a bounded :class:`~close_mcp.client_pool.ClientPool`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mcp.server import Server, ServerRequestContext
from mcp.server.auth.middleware.bearer_auth import RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.sse import SseServerTransport
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from close_mcp import __version__
from close_mcp.client import CloseClient
from close_mcp.client_pool import ClientPool
from close_mcp.credentials import Credential, MissingCredential
from close_mcp.events.service import EventService
from close_mcp.settings import Settings
from close_mcp.settings_error import SettingsError

Transport = Literal["http", "sse", "streamable-http"]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
KEY_HEADER, TOKEN_HEADER = "close-api-key", "close-access-token"
_HASHED = re.compile(r"^sha256:([0-9a-f]{64})$")


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def parse_tokens(env_value: str | None, file: Path | None) -> dict[str, str]:
    """Bearer tokens → agent names. Env: ``name:token,name2:token2`` (plain). File: one
    ``name sha256:<hex>`` per line (``close-mcp hash-token`` prints one); ``#`` comments."""
    tokens: dict[str, str] = {}
    for n, item in enumerate(filter(None, (p.strip() for p in (env_value or "").split(","))), start=1):
        name, sep, token = item.partition(":")
        name, token = (name, token) if sep else (f"agent-{n}", name)
        if len(token) < 16:
            raise SettingsError(f"CLOSE_MCP_AUTH_TOKENS entry {n}: tokens must be at least 16 characters")
        tokens[hashlib.sha256(token.encode()).hexdigest()] = name
    if file is not None:
        try:
            lines = file.read_text().splitlines()
        except OSError as exc:
            raise SettingsError(f"{file}: cannot read tokens file ({exc.strerror})") from None
        for lineno, line in enumerate(lines, start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            match = _HASHED.match(parts[-1]) if len(parts) == 2 else None
            if match is None:
                raise SettingsError(f"{file}:{lineno}: expected '<agent-name> sha256:<64 hex>'")
            tokens[match.group(1)] = parts[0]
    return tokens


class StaticTokenVerifier(TokenVerifier):
    """Operator-issued bearer tokens, stored hashed, compared in constant time."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self._tokens = [(bytes.fromhex(h), name) for h, name in tokens.items()]

    async def verify_token(self, token: str) -> AccessToken | None:
        presented = hashlib.sha256(token.encode()).digest()
        agent = None
        for digest, name in self._tokens:  # no early exit: time does not depend on which token matched
            if hmac.compare_digest(digest, presented):
                agent = name
        return AccessToken(token="", client_id=agent, scopes=["close"]) if agent else None


@dataclass
class RemoteConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    transport: Transport = "http"
    stateless: bool = False
    tokens: dict[str, str] = field(default_factory=dict)
    allowed_hosts: list[str] = field(default_factory=list)
    allowed_origins: list[str] = field(default_factory=list)
    max_body_bytes: int = 1_000_000
    session_idle_timeout: float = 1800.0
    server_credential: Credential | None = None
    allow_client_credentials: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteConfig:
        transport = settings.transport
        if transport == "stdio":
            raise SettingsError("the stdio transport has no HTTP server configuration")
        config = cls(
            host=settings.host,
            port=settings.port,
            transport=transport,
            stateless=settings.stateless,
            tokens=parse_tokens(settings.auth_tokens, settings.tokens_file),
            allowed_hosts=settings.allowed_hosts,
            allowed_origins=settings.allowed_origins,
            max_body_bytes=settings.max_body,
            session_idle_timeout=settings.session_timeout,
            allow_client_credentials=settings.client_keys,
        )
        config.validate()  # refuse unsafe exposure before anything starts
        return config

    def validate(self) -> None:
        if self.host not in LOOPBACK and not self.tokens:
            raise SettingsError(
                f"refusing to listen on {self.host} without bearer tokens: set CLOSE_MCP_AUTH_TOKENS "
                "or --tokens-file (only loopback may run unauthenticated)"
            )
        if self.server_credential is None and not self.allow_client_credentials:
            raise SettingsError("no Close credential: set CLOSE_API_KEY or allow per-client keys")

    def security(self) -> TransportSecuritySettings:
        if "*" in self.allowed_hosts:
            return TransportSecuritySettings(enable_dns_rebinding_protection=False)
        names = {self.host, "127.0.0.1", "localhost"} - {"0.0.0.0", "::"}
        hosts = [f"{h}:*" for h in sorted(names)] + ["[::1]:*", *self.allowed_hosts]
        origins = [f"http://{h}:*" for h in sorted(names)] + [f"https://{h}:*" for h in sorted(names)]
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=hosts,
            allowed_origins=origins + self.allowed_origins,
        )


def credential_from_headers(headers: Any, config: RemoteConfig) -> Credential:
    if config.allow_client_credentials and headers is not None:
        if headers.get(KEY_HEADER):
            return Credential(headers[KEY_HEADER].strip(), "api_key", origin="client")
        if headers.get(TOKEN_HEADER):
            return Credential(headers[TOKEN_HEADER].strip(), "oauth", origin="client")
    if config.server_credential is not None:
        return config.server_credential
    raise MissingCredential(
        "No Close credential for this call: send your Close API key in the Close-API-Key header "
        "(or an OAuth token in Close-Access-Token), or ask the operator to set CLOSE_API_KEY."
    )


def pooled_client_provider(
    pool: ClientPool, config: RemoteConfig
) -> Callable[[ServerRequestContext[Any, Any]], AbstractAsyncContextManager[CloseClient]]:
    """Each call leases the client of the credential its request carries (or the server's)."""

    @asynccontextmanager
    async def client_for(ctx: ServerRequestContext[Any, Any]) -> AsyncIterator[CloseClient]:
        request = ctx.request if isinstance(ctx.request, Request) else None
        credential = credential_from_headers(request.headers if request else None, config)
        async with pool.lease(credential) as client:
            yield client

    return client_for


class BodyLimit:
    """413 for request bodies over the limit (declared or streamed), before the app sees them."""

    def __init__(self, app: ASGIApp, max_bytes: int, own_limit: frozenset[str] = frozenset()) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.own_limit = (
            own_limit  # paths that limit (and count) their bodies themselves: the webhook receiver
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.own_limit:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse({"error": "request body too large"}, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise ValueError("request body too large")
            return message

        await self.app(scope, limited, send)


def build_remote_app(
    server: Server[Any], config: RemoteConfig, tool_count: int, events: EventService | None = None
) -> ASGIApp:
    security = config.security()
    verifier = StaticTokenVerifier(config.tokens) if config.tokens else None
    base = f"http://{config.host}:{config.port}"
    auth = (
        AuthSettings(issuer_url=AnyHttpUrl(base), resource_server_url=None, required_scopes=["close"])
        if verifier
        else None
    )

    async def healthz(_request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "tools": tool_count,
                "transport": config.transport,
                "stateless": config.stateless,
                **({"events": events.stats()} if events is not None else {}),
            }
        )

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if events is not None and events.receiver is not None:  # Close signs; no bearer token applies
        routes.append(Route(events.webhook_path, events.receiver.handle, methods=["POST"]))

    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=config.stateless,
        transport_security=security,
        session_idle_timeout=config.session_idle_timeout,
        max_request_body_size=config.max_body_bytes,
        host=config.host,
        auth=auth,
        token_verifier=verifier,
        custom_starlette_routes=routes,
    )
    if config.transport == "sse":
        app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) != "/mcp"]
    if config.transport in ("http", "sse"):
        sse = SseServerTransport("/messages/", security_settings=security)

        class SseEndpoint:  # a class, so Starlette routes raw ASGI to it even without the auth wrapper
            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                async with sse.connect_sse(scope, receive, send) as (read, write):
                    await server.run(read, write, server.create_initialization_options())

        def guard(inner: ASGIApp) -> ASGIApp:
            return RequireAuthMiddleware(inner, ["close"], None) if verifier else inner

        app.router.routes.extend(
            [
                Route("/sse", guard(SseEndpoint()), methods=["GET"]),
                Mount("/messages/", app=guard(sse.handle_post_message)),
            ]
        )
    own = (
        frozenset({events.webhook_path})
        if events is not None and events.receiver is not None
        else frozenset()
    )
    return BodyLimit(app, config.max_body_bytes, own) if isinstance(app, Starlette) else app
