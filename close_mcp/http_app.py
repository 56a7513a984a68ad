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
from typing import TYPE_CHECKING, Any, Literal

from mcp.server import Server, ServerRequestContext
from mcp.server.auth.handlers.metadata import ProtectedResourceMetadataHandler
from mcp.server.auth.middleware.bearer_auth import RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.routes import build_resource_metadata_url, cors_middleware
from mcp.server.auth.settings import AuthSettings
from mcp.server.sse import SseServerTransport
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.auth import ProtectedResourceMetadata
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
from close_mcp.event_store import MemoryEventStore, RedisEventStore, SessionStreams
from close_mcp.events.service import EventService
from close_mcp.sessions import evict_longest_idle
from close_mcp.settings import DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_TIMEOUT, Settings
from close_mcp.settings_error import SettingsError

if TYPE_CHECKING:
    from close_mcp.oauth.server import OAuthServer

Transport = Literal["http", "sse", "streamable-http"]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
KEY_HEADER, TOKEN_HEADER = "close-api-key", "close-access-token"
PRM_PATH = "/.well-known/oauth-protected-resource/mcp"
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
    session_idle_timeout: float = DEFAULT_SESSION_TIMEOUT
    max_sessions: int = DEFAULT_MAX_SESSIONS
    server_credential: Credential | None = None
    allow_client_credentials: bool = True
    public_url: str | None = None  # how clients reach this server (behind a proxy); None = http://host:port
    oauth: OAuthServer | None = None  # sign in with Close (close_mcp.oauth); None = bearer tokens or none
    sign_in: bool = False  # --oauth asked for (``oauth`` is built later, by close_mcp.app)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resource_url(self) -> str:
        """This server's resource identifier (RFC 9728 / RFC 8707): its ``/mcp`` URL."""
        return self.base_url + "/mcp"

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
            max_sessions=settings.max_sessions,
            allow_client_credentials=settings.client_keys,
            public_url=settings.public_url,
            sign_in=settings.oauth,
        )
        config.validate()  # refuse unsafe exposure before anything starts
        return config

    def validate(self) -> None:
        signs_in = self.sign_in or self.oauth is not None
        if self.host not in LOOPBACK and not self.tokens and not signs_in:
            raise SettingsError(
                f"refusing to listen on {self.host} without bearer tokens: set CLOSE_MCP_AUTH_TOKENS, "
                "--tokens-file or --oauth (only loopback may run unauthenticated)"
            )
        if self.server_credential is None and not self.allow_client_credentials and not signs_in:
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


STREAMABLE_PATH = "/mcp"


async def streamable_client_gone(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether the streamable-HTTP POST carrying this call was disconnected by its client. Only that
    transport: an HTTP+SSE ``/messages/`` POST is answered (202) before the call runs."""
    request = ctx.request if isinstance(ctx.request, Request) else None
    if request is None or request.url.path != STREAMABLE_PATH:
        return False
    return await request.is_disconnected()


def resource_metadata_routes(config: RemoteConfig, scopes: list[str]) -> list[Route]:
    """Protected Resource Metadata (RFC 9728) at ``/.well-known/oauth-protected-resource/mcp`` (§3.1:
    the resource's path appended) and at the bare path, for clients that probe it first."""
    metadata = ProtectedResourceMetadata.model_validate(
        {
            "resource": config.resource_url,
            "authorization_servers": [config.base_url],  # text: the issuer exactly as the AS names it
            "scopes_supported": scopes or None,
            "resource_name": "close-mcp",
        }
    )
    endpoint = cors_middleware(ProtectedResourceMetadataHandler(metadata).handle, ["GET", "OPTIONS"])
    paths = (PRM_PATH, PRM_PATH.removesuffix("/mcp"))
    return [Route(path, endpoint=endpoint, methods=["GET", "OPTIONS"]) for path in paths]


async def too_large_answer(scope: Scope, receive: Receive, send: Send) -> None:
    """The 413 answer (built only when a body is refused)."""
    await JSONResponse({"error": "request body too large"}, status_code=413)(scope, receive, send)


class BodyLimit:
    """413 for request bodies over the limit, before the app sees them: a declared ``Content-Length``
    is refused at once; a body without one (chunked) is read up to the limit first and handed on only
    if it fits, so an oversized stream is a 413 too, never an error inside the app."""

    def __init__(self, app: ASGIApp, max_bytes: int, own_limit: frozenset[str] = frozenset()) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.own_limit = (
            own_limit  # paths that limit (and count) their bodies themselves: the webhook receiver
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.own_limit:
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers") or [] if k == b"content-length"), None)
        too_large = too_large_answer
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_bytes:
                await too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server reads no more than it declared
            return
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away while sending
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_bytes:
                await too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later: disconnect notices, as the app expects

        await self.app(scope, replay, send)


def build_remote_app(
    server: Server[Any],
    config: RemoteConfig,
    tool_count: int,
    *,
    event_store: MemoryEventStore | RedisEventStore | None = None,
    shared_health: Callable[[], dict[str, Any]] | None = None,
    events: EventService | None = None,
) -> ASGIApp:
    """``/mcp`` and ``/sse`` + ``/messages/`` behind the configured auth: none (loopback only), the
    operator's bearer tokens, or OAuth (:mod:`close_mcp.oauth`). With auth, every 401 names the
    Protected Resource Metadata (RFC 9728) in ``WWW-Authenticate: Bearer resource_metadata=…``.
    With ``event_store`` (stateful streamable HTTP) clients resume their streams with ``Last-Event-ID``,
    on any replica sharing the store; ``shared_health`` reports the shared state; with ``events`` the
    webhook receiver is mounted (Close signs its deliveries; no bearer token applies)."""
    security = config.security()
    oauth = config.oauth
    verifier: TokenVerifier | None = (
        oauth.verifier if oauth is not None else StaticTokenVerifier(config.tokens) if config.tokens else None
    )
    required = [] if oauth is not None else ["close"]  # OAuth scopes are enforced per tool (policy)
    resource = AnyHttpUrl(config.resource_url)  # has a path: no normalization to fear
    # From text, so the path-less issuer keeps its exact form (no trailing slash; RFC 8414 §3.3).
    auth = (
        AuthSettings.model_validate(
            {
                "issuer_url": config.base_url,
                "resource_server_url": config.resource_url,
                "validate_token_resource": False,  # the OAuth verifier checks the audience itself
                "required_scopes": required,
                **(oauth.auth_settings() if oauth is not None else {}),
            }
        )
        if verifier
        else None
    )
    metadata_url = build_resource_metadata_url(resource) if verifier else None
    extra_routes: list[Route] = [] if oauth is None else oauth.routes()
    if verifier:
        extra_routes += resource_metadata_routes(config, oauth.scopes if oauth is not None else [])

    async def healthz(_request: Request) -> Response:
        shared = shared_health() if shared_health else {"kind": "memory", "ok": True}
        body: dict[str, Any] = {
            "status": "ok" if shared.get("ok", True) else "degraded",
            "version": __version__,
            "tools": tool_count,
            "transport": config.transport,
            "stateless": config.stateless,
            "shared_state": shared,
        }
        if "warning" in shared:
            body["warnings"] = [shared["warning"]]
        if events is not None:
            body["events"] = events.stats()
        return JSONResponse(body)

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if events is not None and events.receiver is not None:  # Close signs; no bearer token applies
        routes.append(Route(events.webhook_path, events.receiver.handle, methods=["POST"]))
    resumable = event_store if not config.stateless and config.transport != "sse" else None

    app = server.streamable_http_app(
        streamable_http_path=STREAMABLE_PATH,
        stateless_http=config.stateless,
        event_store=resumable,
        retry_interval=1000 if resumable else None,
        transport_security=security,
        session_idle_timeout=config.session_idle_timeout,
        max_sessions=config.max_sessions,
        max_request_body_size=config.max_body_bytes,
        host=config.host,
        auth=auth,
        token_verifier=verifier,
        auth_server_provider=oauth.provider if oauth is not None else None,
        custom_starlette_routes=routes,
    )
    if not config.stateless:
        evict_longest_idle(server.session_manager, resumable)
    # Our metadata replaces the SDK's, which names the required scopes rather than the OAuth ones.
    app.router.routes = [
        *(r for r in app.router.routes if getattr(r, "path", None) != PRM_PATH),
        *extra_routes,
    ]
    if oauth is not None and metadata_url is not None:
        for route in app.router.routes:
            if isinstance(route, Route) and route.path == "/mcp":
                route.app = oauth.challenge_scopes(route.app, str(metadata_url))
    if config.transport == "sse":
        app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) != "/mcp"]
    if config.transport in ("http", "sse"):
        sse = SseServerTransport("/messages/", security_settings=security)

        class SseEndpoint:  # a class, so Starlette routes raw ASGI to it even without the auth wrapper
            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                async with sse.connect_sse(scope, receive, send) as (read, write):
                    await server.run(read, write, server.create_initialization_options())

        def guard(inner: ASGIApp) -> ASGIApp:
            return RequireAuthMiddleware(inner, required, metadata_url) if verifier else inner

        app.router.routes.extend(
            [
                Route("/sse", guard(SseEndpoint()), methods=["GET"]),
                Mount("/messages/", app=guard(sse.handle_post_message)),
            ]
        )
    served: ASGIApp = SessionStreams(app, resumable) if resumable is not None else app
    own = (
        frozenset({events.webhook_path})
        if events is not None and events.receiver is not None
        else frozenset()
    )
    return BodyLimit(served, config.max_body_bytes, own) if isinstance(app, Starlette) else served
