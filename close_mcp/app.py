"""The one app builder, used by the CLI, the tests and the bench alike:
settings → specs → policy and audit → client provider → handlers → MCP server (→ HTTP app).

* :func:`open_upstream` – where Close is: the configured API, or an embedded sandbox;
* :func:`open_local_app` – one credential, one shared client (stdio, and in-memory sessions);
* :func:`open_remote_app` – a client per credential and the streamable HTTP + SSE app.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp.server import Server

from close_mcp.audit import AuditLog
from close_mcp.client import CloseClient
from close_mcp.credentials import Credential
from close_mcp.events.tools import MIRRORS, EventTools
from close_mcp.executor import Executor
from close_mcp.idempotency import IdempotencyKeys
from close_mcp.manifest import ToolSpec, load_manifests
from close_mcp.mcp_server import build_server
from close_mcp.policy import AccessPolicy, GrantFile, select_tools
from close_mcp.protocol import Declarations, LogLevels, ProtocolHandlers
from close_mcp.ratelimit import RateLimiter
from close_mcp.settings import Settings
from close_mcp.settings_error import SettingsError
from close_mcp.shared_state import SharedState, open_shared_state
from close_mcp.shared_store import MemoryStore, SharedStore
from close_mcp.tool_handlers import (
    CallTool,
    CallTracker,
    ClientGone,
    ClientProvider,
    ListTools,
    ToolCatalog,
    current_agent,
)

if TYPE_CHECKING:  # imported where used: a stdio start never loads the HTTP app nor the events service
    from starlette.types import ASGIApp

    from close_mcp.client_pool import ClientPool
    from close_mcp.events.service import EventService
    from close_mcp.http_app import RemoteConfig

log = logging.getLogger("close_mcp")


@dataclass(frozen=True)
class Upstream:
    """Where Close is, and the server-wide credential (``None``: each remote client sends its own)."""

    base_url: str
    credential: Credential | None


@dataclass
class App:
    settings: Settings
    specs: list[ToolSpec]
    policy: AccessPolicy
    audit: AuditLog | None
    executor: Executor
    tracker: CallTracker
    server: Server[Any]
    shared: SharedState | None = None  # the store, buckets and streams replicas share (--redis-url)
    events: EventService | None = None
    list_tools: ListTools | None = None  # the tools/list handler (its serialized sets)


@dataclass
class RemoteApp:
    app: App
    asgi: ASGIApp
    config: RemoteConfig
    pool: ClientPool


def load_specs(settings: Settings) -> list[ToolSpec]:
    """The shipped manifests plus the operator's own (``CLOSE_MCP_EXTRA_MANIFESTS``), compiled once
    per content (``CLOSE_MCP_CACHE_DIR``)."""
    return load_manifests(*settings.extra_manifests, cache_dir=settings.manifest_cache_dir())


def build_policy(settings: Settings, specs: Sequence[ToolSpec]) -> AccessPolicy:
    """Scope, toolsets and grants; a bad one is a one-line start-up error."""
    names = {s.name for s in specs}
    grants = GrantFile(settings.policy, {s.toolset for s in specs}, names) if settings.policy else None
    selection = select_tools(settings.toolsets, list(specs), settings.tools, settings.exclude_tools)
    return AccessPolicy(scope=settings.effective_scope, grants=grants, selection=selection)


def open_audit(settings: Settings, default: str | None) -> AuditLog | None:
    path = settings.audit_path(default)
    return AuditLog(path, fsync=settings.audit_fsync) if path else None


@asynccontextmanager
async def open_upstream(settings: Settings) -> AsyncIterator[Upstream]:
    """The configured Close API, or (``--sandbox``) an embedded sandbox on a free loopback port."""
    if not settings.sandbox:
        yield Upstream(settings.base_url, settings.credential())
        return
    from close_mcp.sandbox import run_sandbox  # only the sandbox user pays for importing it

    async with run_sandbox() as running:
        log.warning(
            "close-mcp: serving the Close sandbox at %s (demo data, no real Close account)", running.base_url
        )
        yield Upstream(running.base_url, Credential(running.api_key))


def assemble(
    settings: Settings,
    client_for: ClientProvider,
    *,
    specs: Sequence[ToolSpec] | None = None,
    policy: AccessPolicy | None = None,
    audit: AuditLog | None = None,
    store: SharedStore | None = None,
    client_gone: ClientGone | None = None,
    events: EventService | None = None,
) -> App:
    """Wire the server from its parts; no I/O. ``store`` keeps what replicas may share (idempotency
    records); the one-process ``MemoryStore`` by default."""
    specs = list(specs) if specs is not None else load_specs(settings)
    policy = policy if policy is not None else build_policy(settings, specs)
    catalog = ToolCatalog(specs)
    executor = Executor(output_budget=settings.output_budget, result_form=settings.result_form)
    tracker = CallTracker()

    def allowed(ctx: Any, tool: str) -> str | None:
        spec = catalog.resolve(tool)
        return (
            f"{tool} is not a tool of this server"
            if spec is None
            else policy.refusal(spec, current_agent(ctx))
        )

    levels = LogLevels()
    event_tools = (
        EventTools(events, {s.name: s for s in specs if s.name in MIRRORS.values()}, policy)
        if events is not None
        else None
    )
    protocol = ProtocolHandlers(
        client_for,
        executor.schema,
        settings.output_budget,
        allowed,
        log_levels=levels,
        events=events,
    )
    keys = IdempotencyKeys(store if store is not None else MemoryStore())
    call_tool = CallTool(
        catalog,
        executor,
        client_for,
        policy,
        audit,
        tracker,
        log_levels=levels,
        keys=keys,
        client_gone=client_gone,
        events=event_tools,
    )
    list_tools = ListTools(catalog, policy, event_tools)
    server = build_server(list_tools, call_tool, protocol)
    return App(
        settings, specs, policy, audit, executor, tracker, server, events=events, list_tools=list_tools
    )


@asynccontextmanager
async def open_events(
    settings: Settings,
    remote: bool,
    client: CloseClient | None,
    store: SharedStore | None = None,
    connection: Any = None,
) -> AsyncIterator[EventService | None]:
    """The live-events service the settings ask for (``--events``), running; None when off. Events are
    deduplicated through ``store`` (the replicas' shared store when there is one); with ``connection``
    (``--redis-url``) they reach every replica's subscribers and one replica at a time follows."""
    mode = settings.events_mode(remote)
    if mode == "off":
        yield None
        return
    settings.check_events(remote)
    if mode == "follow" and client is None:
        raise SettingsError("--events follow needs a server-wide Close credential (CLOSE_API_KEY)")
    from close_mcp.events.keyring import KeyRing
    from close_mcp.events.service import run_events

    async with run_events(
        mode,
        client,
        Declarations.load().templates,
        store=store,
        keys=KeyRing.load(settings.webhook_keys_path()),
        state=settings.events_state_path(),
        tolerance=settings.webhook_tolerance,
        max_body=min(settings.webhook_max_body, settings.max_body),
        min_interval=settings.follow_min_interval,
        max_interval=settings.follow_max_interval,
        public_url=settings.public_url,
        webhook_path=settings.webhook_path,
        connection=connection,
    ) as service:
        yield service


@asynccontextmanager
async def open_local_app(
    settings: Settings,
    upstream: Upstream,
    *,
    specs: Sequence[ToolSpec] | None = None,
    policy: AccessPolicy | None = None,
    audit: AuditLog | None = None,
    store: SharedStore | None = None,
    **client_options: Any,
) -> AsyncIterator[App]:
    """One credential, one shared client for every call (stdio; in-memory sessions in tests)."""
    if upstream.credential is None:
        settings.require_credential()  # raises the one-line error
    assert upstream.credential is not None
    async with open_shared_state(settings) as shared:
        client_options.setdefault("limiter", RateLimiter(shared=shared.limits))
        async with (
            CloseClient(
                upstream.credential,
                upstream.base_url,
                wait_budget=settings.wait_budget,
                timeout=settings.http_timeout,
                **client_options,
            ) as client,
            open_events(settings, False, client, shared.store, shared.connection) as events,
        ):
            app = assemble(
                settings,
                lambda _ctx: nullcontext(client),
                specs=specs,
                policy=policy,
                audit=audit,
                store=store if store is not None else shared.store,
                events=events,
            )
            app.shared = shared
            yield app


@asynccontextmanager
async def open_remote_app(
    settings: Settings,
    upstream: Upstream,
    config: RemoteConfig,
    *,
    specs: Sequence[ToolSpec] | None = None,
    policy: AccessPolicy | None = None,
    audit: AuditLog | None = None,
    store: SharedStore | None = None,
    oauth_store: SharedStore | None = None,
) -> AsyncIterator[RemoteApp]:
    """A pooled client per Close credential (or, with ``--oauth``, per signed-in grant), the MCP
    server, and its HTTP app."""
    if config.server_credential is None:
        config.server_credential = upstream.credential
    if (
        config.server_credential is None
        and not config.allow_client_credentials
        and config.oauth is None
        and not settings.oauth
    ):
        raise SettingsError(
            "no Close credential: set CLOSE_API_KEY, or allow per-client Close-API-Key headers"
        )
    from close_mcp.client_pool import ClientPool
    from close_mcp.http_app import build_remote_app, pooled_client_provider, streamable_client_gone

    async with AsyncExitStack() as stack:
        shared = await stack.enter_async_context(open_shared_state(settings))
        if settings.oauth and config.oauth is None:
            from close_mcp.oauth.scopes import GrantScopedPolicy
            from close_mcp.oauth.server import build_oauth_server

            # grants in the replicas' shared store when there is one, else the encrypted file
            if oauth_store is None and settings.redis_url:
                oauth_store = shared.store
            config.oauth = build_oauth_server(
                settings, upstream.base_url, config.base_url, config.resource_url, store=oauth_store
            )
            specs = list(specs) if specs is not None else load_specs(settings)
            policy = GrantScopedPolicy.narrowing(
                policy if policy is not None else build_policy(settings, specs)
            )
        pool = ClientPool(
            upstream.base_url,
            wait_budget=settings.wait_budget,
            timeout=settings.http_timeout,
            shared_limits=shared.limits,
        )
        stack.push_async_callback(pool.aclose)
        if config.oauth is not None:
            stack.push_async_callback(config.oauth.aclose)
        follow_client = None
        if settings.events_mode(True) == "follow" and config.server_credential is not None:
            follow_client = await stack.enter_async_context(pool.lease(config.server_credential))
        events = await stack.enter_async_context(
            open_events(settings, True, follow_client, shared.store, shared.connection)
        )
        client_for = config.oauth.clients.provider() if config.oauth else pooled_client_provider(pool, config)
        app = assemble(
            settings,
            client_for,
            specs=specs,
            policy=policy,
            audit=audit,
            store=store if store is not None else shared.store,
            client_gone=streamable_client_gone,
            events=events,
        )
        if config.oauth is not None:
            from close_mcp.oauth.step_up import scope_needed_by

            config.oauth.needed_scope = scope_needed_by(app.specs, app.policy)
        app.shared = shared
        asgi = build_remote_app(
            app.server,
            config,
            len(app.specs),
            event_store=shared.events,
            shared_health=shared.health,
            events=events,
        )
        yield RemoteApp(app, asgi, config, pool)
