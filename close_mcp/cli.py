"""Command line: ``close-mcp`` (stdio server), ``close-mcp sandbox``, ``close-mcp tools``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from contextlib import AsyncExitStack, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from close_mcp import __version__
from close_mcp.manifest import ManifestError, ToolSpec, load_manifests
from close_mcp.settings import Settings, SettingsError

if TYPE_CHECKING:
    import uvicorn

    from close_mcp.audit import AuditLog
    from close_mcp.policy import AccessPolicy
    from close_mcp.server import CallTracker

log = logging.getLogger("close_mcp")


def _common() -> argparse.ArgumentParser:
    """Flags accepted before or after a subcommand (SUPPRESS keeps a subparser from resetting them)."""
    parser = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="serve the tools against an embedded Close sandbox (no key needed)",
    )
    parser.add_argument("--api-base-url", help="Close API base URL (env CLOSE_API_BASE_URL)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (env CLOSE_MCP_LOG_LEVEL)")
    parser.add_argument(
        "--wait-budget", type=float, help="max seconds a call waits on rate limits (default 60)"
    )
    parser.add_argument("--output-budget", type=int, help="max characters of one tool result (default 20000)")
    parser.add_argument(
        "--scope",
        choices=["read", "write_safe", "write_destructive"],
        help="tools exposed: read, write_safe (default for a real key), write_destructive "
        "(default on the sandbox); env CLOSE_MCP_SCOPE",
    )
    parser.add_argument(
        "--toolsets", help="comma list of areas to expose (default all); env CLOSE_MCP_TOOLSETS"
    )
    parser.add_argument(
        "--policy", type=Path, help="per-agent grants file, TOML or JSON; env CLOSE_MCP_POLICY"
    )
    parser.add_argument(
        "--audit-log",
        help="JSON-lines audit file ('off' to disable); env CLOSE_MCP_AUDIT_LOG. "
        "Default: off for stdio, close-mcp-audit.jsonl for serve",
    )
    parser.add_argument("--audit-fsync", action="store_true", help="fsync every audit line")
    return parser


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="close-mcp", description="MCP server for the Close CRM API.", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"close-mcp {__version__}")
    sub = parser.add_subparsers(dest="command")
    sb = sub.add_parser("sandbox", help="run the local Close sandbox API server")
    sb.add_argument("--port", type=int, default=8765)
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--seed", type=int, default=7)
    sb.add_argument("--leads", type=int, default=260)
    sb.add_argument("--orgs", type=int, default=1, help="number of organizations (one API key each)")
    sb.add_argument("--api-key", action="append", dest="api_keys", metavar="KEY",
                    help="API key of an organization (repeat for several; default: a printed demo key)")
    sb.add_argument("--rate-limit", type=int, default=None, help="requests/second per key and endpoint group")
    sb.add_argument(
        "--semicolon-header", action="store_true", help="send RateLimit with ';' as live Close does"
    )
    sb.add_argument("--legacy-429-body", choices=["none", "top", "error"], default="none")
    sb.add_argument("--state-file", type=Path, help="load state from / save state to this JSON file")
    serve = sub.add_parser(
        "serve", parents=[common], help="run the remote server (streamable HTTP + SSE) or stdio"
    )
    serve.add_argument(
        "--transport",
        choices=["http", "sse", "streamable-http", "stdio"],
        default=os.environ.get("CLOSE_MCP_TRANSPORT", "http"),
        help="http = both /mcp and /sse (default); env CLOSE_MCP_TRANSPORT",
    )
    serve.add_argument("--host", default=os.environ.get("CLOSE_MCP_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("CLOSE_MCP_PORT", "8000")))
    serve.add_argument(
        "--stateless",
        action="store_true",
        default=os.environ.get("CLOSE_MCP_STATELESS") == "1",
        help="stateless streamable HTTP (no server-side session; for several replicas)",
    )
    serve.add_argument(
        "--tokens-file",
        type=Path,
        default=os.environ.get("CLOSE_MCP_TOKENS_FILE") or None,
        help="file of '<agent> sha256:<hex>' lines (see `close-mcp hash-token`)",
    )
    serve.add_argument(
        "--allowed-hosts",
        default=os.environ.get("CLOSE_MCP_ALLOWED_HOSTS", ""),
        help="extra Host values allowed (e.g. mcp.example.com:*); '*' disables the check",
    )
    serve.add_argument("--allowed-origins", default=os.environ.get("CLOSE_MCP_ALLOWED_ORIGINS", ""))
    serve.add_argument("--max-body", type=int, default=1_000_000, help="max request body bytes")
    serve.add_argument(
        "--session-timeout", type=float, default=1800, help="idle seconds before a session expires"
    )
    serve.add_argument(
        "--no-client-keys",
        action="store_true",
        help="ignore Close-API-Key/Close-Access-Token headers; use the server-wide key only",
    )
    hashp = sub.add_parser("hash-token", help="print a tokens-file line for a bearer token read from stdin")
    hashp.add_argument("agent", help="agent name the token identifies")
    tools = sub.add_parser("tools", help="print the tool table")
    tools.add_argument("--markdown", action="store_true")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    settings.sandbox = bool(getattr(args, "sandbox", False))
    if getattr(args, "api_base_url", None):
        settings.base_url = args.api_base_url
    if getattr(args, "log_level", None):
        settings.log_level = args.log_level.upper()
    if getattr(args, "wait_budget", None) is not None:
        settings.wait_budget = args.wait_budget
    if getattr(args, "output_budget", None) is not None:
        settings.output_budget = args.output_budget
    if getattr(args, "scope", None):
        settings.scope = args.scope
    if getattr(args, "toolsets", None):
        settings.toolsets = [t.strip() for t in args.toolsets.split(",") if t.strip()]
    settings.validate()
    return settings


def access_policy(settings: Settings, specs: list[ToolSpec], args: argparse.Namespace) -> AccessPolicy:
    from close_mcp.policy import AccessPolicy, GrantFile, check_toolsets

    scope = settings.scope or ("write_destructive" if settings.sandbox else "write_safe")
    policy_path = getattr(args, "policy", None) or (
        Path(os.environ["CLOSE_MCP_POLICY"]) if os.environ.get("CLOSE_MCP_POLICY") else None
    )
    grants = GrantFile(policy_path, {s.toolset for s in specs}) if policy_path else None
    return AccessPolicy(scope=scope, toolsets=check_toolsets(settings.toolsets, specs), grants=grants)


def audit_log(args: argparse.Namespace, default: str | None) -> AuditLog | None:
    from close_mcp.audit import AuditLog

    where = getattr(args, "audit_log", None) or os.environ.get("CLOSE_MCP_AUDIT_LOG") or default
    if not where or where == "off":
        return None
    fsync = getattr(args, "audit_fsync", False) or os.environ.get("CLOSE_MCP_AUDIT_FSYNC") == "1"
    return AuditLog(Path(where), fsync=fsync)


async def run_stdio(
    settings: Settings, specs: list[ToolSpec], policy: AccessPolicy, audit: AuditLog | None
) -> None:
    from mcp.server.stdio import stdio_server

    from close_mcp.client import CloseClient, Credential
    from close_mcp.executor import Executor
    from close_mcp.server import build_server

    async with AsyncExitStack() as stack:
        if settings.sandbox:
            from close_mcp.sandbox import run_sandbox

            running = await stack.enter_async_context(run_sandbox())
            credential, base_url = Credential(running.api_key), running.base_url
            log.warning(
                "close-mcp: serving the Close sandbox at %s (demo data, no real Close account)", base_url
            )
        else:
            credential, base_url = settings.credential(), settings.base_url
        client = await stack.enter_async_context(
            CloseClient(credential, base_url, wait_budget=settings.wait_budget)
        )
        executor = Executor(specs, output_budget=settings.output_budget)

        server = build_server(specs, executor, lambda _ctx: nullcontext(client), policy=policy, audit=audit)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())


async def run_remote(
    settings: Settings,
    specs: list[ToolSpec],
    args: argparse.Namespace,
    policy: AccessPolicy,
    audit: AuditLog | None,
) -> None:
    from close_mcp.client import Credential
    from close_mcp.client_pool import ClientPool
    from close_mcp.executor import Executor
    from close_mcp.remote import RemoteConfig, build_remote_app, parse_tokens, pooled_client_provider
    from close_mcp.server import CallTracker, build_server
    from close_mcp.serving import bind, serve_app_on

    config = RemoteConfig(
        host=args.host,
        port=args.port,
        transport=args.transport,
        stateless=args.stateless,
        tokens=parse_tokens(os.environ.get("CLOSE_MCP_AUTH_TOKENS"), args.tokens_file),
        allowed_hosts=[h for h in args.allowed_hosts.split(",") if h],
        allowed_origins=[o for o in args.allowed_origins.split(",") if o],
        max_body_bytes=args.max_body,
        session_idle_timeout=args.session_timeout,
        allow_client_credentials=not args.no_client_keys,
    )
    config.validate()  # refuse unsafe exposure before anything starts
    if not settings.sandbox and (settings.api_key or settings.access_token):
        config.server_credential = settings.credential()
    if config.server_credential is None and not settings.sandbox and not config.allow_client_credentials:
        raise SettingsError(
            "no Close credential: set CLOSE_API_KEY, or allow per-client Close-API-Key headers"
        )
    async with AsyncExitStack() as stack:
        base_url = settings.base_url
        if settings.sandbox:
            from close_mcp.sandbox import run_sandbox

            running = await stack.enter_async_context(run_sandbox())
            config.server_credential, base_url = Credential(running.api_key), running.base_url
        pool = ClientPool(base_url, wait_budget=settings.wait_budget)
        stack.push_async_callback(pool.aclose)
        if policy.grants is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, policy.grants.reload)
        tracker = CallTracker()
        executor = Executor(specs, output_budget=settings.output_budget)
        server = build_server(
            specs, executor, pooled_client_provider(pool, config), policy=policy, audit=audit, tracker=tracker
        )
        app = build_remote_app(server, config, len(specs))
        sock = bind(config.host, config.port)
        async with serve_app_on(app, sock, log_level=settings.log_level.lower(), graceful_seconds=10) as uv:
            port = sock.getsockname()[1]
            auth = "bearer tokens" if config.tokens else "none, loopback only"
            print(
                f"close-mcp {config.transport} server on http://{config.host}:{port} (/mcp, /sse, /healthz; "
                f"auth: {auth})",
                file=sys.stderr,
                flush=True,
            )
            await drain_on_signal(uv, tracker)


async def drain_on_signal(uv: uvicorn.Server, tracker: CallTracker, grace: float = 10.0) -> None:
    """Graceful shutdown: on SIGTERM/SIGINT let in-flight tool calls finish (up to ``grace`` seconds),
    give their answers a moment to reach the clients, then stop uvicorn and end the SSE streams.

    Our handlers replace uvicorn's, and sse-starlette's automatic drain is off: by default it ends
    every SSE stream at the signal, cutting the tool calls those streams are carrying."""
    from sse_starlette.sse import AppStatus

    AppStatus.disable_automatic_graceful_drain()
    stop = anyio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set() and not uv.should_exit:
        with anyio.move_on_after(0.2):
            await stop.wait()
    # The listener stays open while draining: MCP clients may need a new connection (e.g. their
    # notification stream) to receive the answer of a call already in flight.
    with anyio.move_on_after(grace):
        await tracker.wait_idle()
    await anyio.sleep(0.5)  # let the last answers be written out before connections close
    AppStatus.should_exit = True
    uv.should_exit = True


async def run_sandbox_forever(args: argparse.Namespace) -> None:
    from close_mcp.sandbox import SandboxConfig, run_sandbox

    config = SandboxConfig(
        seed=args.seed,
        leads=args.leads,
        organizations=max(args.orgs, len(args.api_keys or [])),
        api_keys=args.api_keys,
        rate_limit=args.rate_limit,
        header_style="semicolon" if args.semicolon_header else "comma",
        legacy_429_body=args.legacy_429_body,
    )
    async with run_sandbox(config, port=args.port, host=args.host, state_file=args.state_file) as running:
        keys = [
            c.secret
            for c in running.sandbox.credentials.values()
            if c.kind == "api_key" and not c.secret.endswith("_restricted")
        ]
        print(f"Close sandbox listening on {running.base_url}", flush=True)
        print(f"API key(s): {', '.join(keys)}  (HTTP Basic, key as user, blank password)", flush=True)
        while not running.server.should_exit:
            await anyio.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
        logging.basicConfig(
            stream=sys.stderr,
            level=settings.log_level,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        if args.command == "sandbox":
            anyio.run(run_sandbox_forever, args)
            return
        specs = load_manifests()
        if args.command == "hash-token":
            from close_mcp.remote import hash_token

            token = sys.stdin.readline().strip()
            if len(token) < 16:
                raise SettingsError("read a token of at least 16 characters from stdin")
            print(f"{args.agent} {hash_token(token)}")
            return
        policy = access_policy(settings, specs, args)  # bad scope/toolsets/policy: one line, before starting
        if args.command == "serve" and args.transport != "stdio":
            audit = audit_log(args, "close-mcp-audit.jsonl")
            try:
                anyio.run(run_remote, settings, specs, args, policy, audit)
            finally:
                if audit is not None:
                    audit.close()
            return
        if args.command == "tools":
            from close_mcp.tool_table import markdown_table, plain_table

            print(markdown_table(specs) if args.markdown else plain_table(specs))
            return
        if not settings.sandbox:
            settings.credential()  # fail fast with one line, before the host starts talking
        anyio.run(run_stdio, settings, specs, policy, audit_log(args, None))
    except (SettingsError, ManifestError) as exc:
        print(f"close-mcp: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
