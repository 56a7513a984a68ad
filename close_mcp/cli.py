"""Command line: ``close-mcp`` (stdio server), ``serve`` (remote), ``sandbox``, ``tools``, ``call``,
``doctor``, ``config``, ``webhooks``, ``hash-token``.

Parses flags, hands them to :meth:`Settings.load` (the one reader of the environment) and runs
what :mod:`close_mcp.app` builds. Configuration problems end in one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from close_mcp import __version__
from close_mcp.allocator import reexec_under_system_malloc
from close_mcp.manifest import ManifestError
from close_mcp.settings import TRANSPORTS, Settings, environment_help
from close_mcp.settings_error import SettingsError

if TYPE_CHECKING:
    import uvicorn

    from close_mcp.tool_handlers import CallTracker

log = logging.getLogger("close_mcp")


def _common() -> argparse.ArgumentParser:
    """Flags accepted before or after a subcommand (SUPPRESS keeps a subparser from resetting them)."""
    parser = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    add = parser.add_argument
    add("--version", action="version", version=f"close-mcp {__version__}")
    add(
        "--sandbox",
        action="store_true",
        help="serve the tools against an embedded Close sandbox (no key needed)",
    )
    add("--api-base-url", dest="base_url", help="Close API base URL (env CLOSE_API_BASE_URL)")
    add("--log-level", help="DEBUG, INFO, WARNING (env CLOSE_MCP_LOG_LEVEL)")
    add("--wait-budget", type=float, help="max seconds a call waits on rate limits (default 60)")
    add("--output-budget", type=int, help="max characters of one tool result (default 20000)")
    add(
        "--result-form",
        choices=["text", "structured", "both"],
        help="how results carry their JSON: text (default; what most hosts read), structured "
        "(structuredContent and a one-line text pointer) or both in full; env CLOSE_MCP_RESULT_FORM",
    )
    add("--http-timeout", type=float, help="seconds to wait for Close to answer (default 30)")
    add(
        "--scope",
        choices=["read", "write_safe", "write_destructive"],
        help="tools exposed: read, write_safe (default for a real key), write_destructive "
        "(default on the sandbox); env CLOSE_MCP_SCOPE",
    )
    add(
        "--toolsets",
        type=lambda raw: [t.strip() for t in raw.split(",") if t.strip()],
        help="comma list of areas to list: default (daily tools listed, the rest discoverable; the default), "
        "all, or toolset names; env CLOSE_MCP_TOOLSETS",
    )
    add(
        "--tools",
        type=lambda raw: [t.strip() for t in raw.split(",") if t.strip()],
        help="comma list of tools to list in addition to the toolsets; env CLOSE_MCP_TOOLS",
    )
    add(
        "--exclude-tools",
        type=lambda raw: [t.strip() for t in raw.split(",") if t.strip()],
        help="comma list of tools never served; env CLOSE_MCP_EXCLUDE_TOOLS",
    )
    add(
        "--extra-manifests",
        type=lambda raw: [Path(p) for p in raw.split(",") if p],
        help="comma list of folders with your own tool manifests; env CLOSE_MCP_EXTRA_MANIFESTS",
    )
    add("--policy", type=Path, help="per-agent grants file, TOML or JSON; env CLOSE_MCP_POLICY")
    add(
        "--events",
        choices=["push", "follow", "off"],
        help="live Close events as MCP resources and wait_for_events: push (webhooks to serve; its "
        "default), follow (poll the Event Log; no public URL needed), off (the stdio default); "
        "env CLOSE_MCP_EVENTS",
    )
    add(
        "--public-url",
        help="this server's public URL (behind a proxy): the OAuth issuer and where Close delivers "
        "webhooks; env CLOSE_MCP_PUBLIC_URL",
    )
    add("--webhook-keys", type=Path, help="owner-only webhook key file; env CLOSE_MCP_WEBHOOK_KEYS")
    add(
        "--audit-log",
        help="JSON-lines audit file ('off' to disable); env CLOSE_MCP_AUDIT_LOG. "
        "Default: off for stdio, close-mcp-audit.jsonl for serve",
    )
    add("--audit-fsync", action="store_true", help="fsync every audit line")
    add(
        "--redis-url",
        help="Redis/Valkey URL shared by replicas of one deployment (rate limits, records, session "
        "streams); env CLOSE_MCP_REDIS_URL",
    )
    return parser


def _serve_flags(serve: argparse.ArgumentParser) -> None:
    add = serve.add_argument
    add(
        "--transport", choices=TRANSPORTS, help="http = both /mcp and /sse (default); env CLOSE_MCP_TRANSPORT"
    )
    add("--host", help="address to listen on (default 127.0.0.1); env CLOSE_MCP_HOST")
    add("--port", type=int, help="port to listen on (default 8000); env CLOSE_MCP_PORT")
    add(
        "--stateless",
        action="store_true",
        default=None,
        help="stateless streamable HTTP (no server-side session; for several replicas)",
    )
    add(
        "--oauth",
        action="store_true",
        default=None,
        help="users sign in with Close (OAuth 2.1 for MCP hosts); env CLOSE_MCP_OAUTH",
    )
    add("--tokens-file", type=Path, help="file of '<agent> sha256:<hex>' lines (see `close-mcp hash-token`)")
    add(
        "--allowed-hosts",
        type=lambda raw: [h for h in raw.split(",") if h],
        help="extra Host values allowed (e.g. mcp.example.com:*); '*' disables the check",
    )
    add("--allowed-origins", type=lambda raw: [o for o in raw.split(",") if o])
    add("--max-body", type=int, help="max request body bytes (default 1000000)")
    add("--session-timeout", type=float, help="idle seconds before a session expires (default 1800)")
    add("--webhook-path", help="path of the webhook receiver (default /webhooks/close)")
    add(
        "--no-client-keys",
        dest="client_keys",
        action="store_const",
        const=False,
        default=None,
        help="ignore Close-API-Key/Close-Access-Token headers; use the server-wide key only",
    )


DESCRIPTION = (
    "MCP server for the Close CRM API. Set CLOSE_API_KEY (or CLOSE_ACCESS_TOKEN), "
    "or pass --sandbox to try it on a local demo organization. "
    "Try a tool: close-mcp call --sandbox list_leads query=logistics"
)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The parsed command line. The stdio server's own start (``close-mcp [flags]``, what a host
    spawns) is parsed by the top-level flags alone: the full parser, with a parser per subcommand,
    costs ~3 ms of CPU to build, and is built only for a subcommand, help, or a flag it must refuse."""
    given = sys.argv[1:] if argv is None else argv
    if not any(arg in ("-h", "--help") for arg in given):
        # no abbreviations (`call --output` is not `--output-budget`), and any doubt (an unknown word,
        # a bad value) is left to the full parser, which gives the error it always gave
        server = argparse.ArgumentParser(
            prog="close-mcp", parents=[_common()], allow_abbrev=False, exit_on_error=False
        )
        server.set_defaults(command=None)
        try:
            args, rest = server.parse_known_args(given)
        except argparse.ArgumentError:
            rest = given
        if not rest:
            return args
    return build_parser().parse_args(given)


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="close-mcp",
        description=DESCRIPTION,
        parents=[common],
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command")
    with_env: dict[str, Any] = {
        "parents": [common],
        "epilog": environment_help(),
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
    sb = sub.add_parser("sandbox", parents=[common], help="run the local Close sandbox API server")
    sb.add_argument("--port", dest="sandbox_port", type=int, default=8765)
    sb.add_argument("--host", dest="sandbox_host", default="127.0.0.1")
    sb.add_argument("--seed", type=int, default=7)
    sb.add_argument("--leads", type=int, default=260)
    sb.add_argument("--orgs", type=int, default=1, help="number of organizations (one API key each)")
    sb.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="API key of an organization (repeat for several; default: a printed demo key)",
    )
    sb.add_argument("--rate-limit", type=int, default=None, help="requests/second per key and endpoint group")
    sb.add_argument(
        "--header-style",
        choices=["semicolon", "comma"],
        default="semicolon",
        help="RateLimit header form: semicolon (as live Close sends it, integer reset; the default) or "
        "comma (as Close documents it, decimal reset)",
    )
    sb.add_argument("--legacy-429-body", choices=["none", "top", "error"], default="none")
    sb.add_argument("--state-file", type=Path, help="load state from / save state to this JSON file")
    sb.add_argument(
        "--allow-loopback-webhooks",
        action="store_true",
        help="let webhook subscriptions use plain http to localhost/127.0.0.1 (a local receiver)",
    )
    _serve_flags(
        sub.add_parser("serve", help="run the remote server (streamable HTTP + SSE) or stdio", **with_env)
    )
    hashp = sub.add_parser("hash-token", help="print a tokens-file line for a bearer token read from stdin")
    hashp.add_argument("agent", help="agent name the token identifies")
    tools = sub.add_parser("tools", parents=[common], help="print the tool table, or find tools by purpose")
    tools.add_argument("--markdown", action="store_true")
    tools.add_argument("--search", nargs="+", metavar="WORD", help="rank the tools by these words")
    call = sub.add_parser(
        "call",
        help="run one tool and print its result, e.g. call --sandbox list_leads query=logistics",
        description="Run one tool through the real server (same validation, scope, confirmation and "
        "audit) and print its result. Values are typed by the tool's schema: limit=2 is a number, "
        "true/false a boolean, JSON a list or object; fields=id,name is a list of strings. "
        "Exit status: 0 ok, 1 tool error, 2 bad invocation or bad arguments.",
        **with_env,
    )
    call.add_argument("tool", metavar="TOOL", help="tool name (see `close-mcp tools`)")
    call.add_argument("words", nargs="*", metavar="key=value", help="tool arguments")
    call.add_argument("--json", dest="json_args", metavar="ARGS", help="arguments as one JSON object")
    call.add_argument("--output", choices=["text", "json"], default="text", help="json: for machines")
    call.add_argument(
        "--yes", action="store_true", help="confirm a destructive call without asking (confirm=true)"
    )
    sub.add_parser(
        "doctor",
        help="check the key, reachability, rate limits, scope and host configuration; say what to fix",
        **with_env,
    )
    hooks = sub.add_parser(
        "webhooks",
        help="create/update (subscribe), rotate or show (status) this server's Close webhook subscription",
        **with_env,
    )
    hooks.add_argument("hooks_action", choices=["subscribe", "rotate", "status"])
    hooks.add_argument(
        "--object-types",
        type=lambda raw: tuple(t.strip() for t in raw.split(",") if t.strip()),
        help="comma list (default lead,contact,opportunity,task.lead)",
    )
    hooks.add_argument(
        "--actions",
        type=lambda raw: tuple(t.strip() for t in raw.split(",") if t.strip()),
        help="comma list (default created,updated,deleted)",
    )
    hooks.add_argument("--overlap", type=float, help="rotate: seconds the old key stays valid (86400)")
    from close_mcp.commands.host_config import HOSTS

    config = sub.add_parser(
        "config", parents=[common], help="print the configuration snippet for an MCP host"
    )
    config.add_argument("target", metavar="HOST", choices=list(HOSTS), help=", ".join(HOSTS))
    return parser


async def run_stdio(settings: Settings) -> None:
    from mcp.server.stdio import stdio_server

    from close_mcp.app import build_policy, load_specs, open_audit, open_local_app, open_upstream
    from close_mcp.stdio_lines import AnsweringMalformed

    specs = load_specs(settings)
    policy = build_policy(settings, specs)
    audit = open_audit(settings, None)
    try:
        async with (
            open_upstream(settings) as upstream,
            open_local_app(settings, upstream, specs=specs, policy=policy, audit=audit) as app,
            stdio_server() as (read, write),
        ):
            lines = AnsweringMalformed(read, write)  # a malformed line gets -32700, not silence
            settle_start_up_objects()
            await app.server.run(lines, write, app.server.create_initialization_options())
    finally:
        if audit is not None:
            audit.close()


async def run_remote(settings: Settings) -> None:
    from close_mcp.app import build_policy, load_specs, open_audit, open_remote_app, open_upstream
    from close_mcp.http_app import RemoteConfig
    from close_mcp.uvicorn_runner import bind, serve_app_on

    config = RemoteConfig.from_settings(settings)
    if (
        not settings.sandbox
        and not settings.oauth
        and settings.credential() is None
        and not config.allow_client_credentials
    ):
        raise SettingsError(
            "no Close credential: set CLOSE_API_KEY, or allow per-client Close-API-Key headers"
        )
    specs = load_specs(settings)
    policy = build_policy(settings, specs)
    audit = open_audit(settings, "close-mcp-audit.jsonl")
    try:
        async with (
            open_upstream(settings) as upstream,
            open_remote_app(settings, upstream, config, specs=specs, policy=policy, audit=audit) as remote,
        ):
            if policy.grants is not None:
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, policy.grants.reload)
            sock = bind(config.host, config.port)
            port = sock.getsockname()[1]  # now: a signal during start-up closes the socket at once
            settle_start_up_objects()
            async with serve_app_on(
                remote.asgi, sock, log_level=settings.log_level.lower(), graceful_seconds=10
            ) as uv:
                auth = (
                    "sign in with Close (OAuth)"
                    if config.oauth
                    else "bearer tokens"
                    if config.tokens
                    else "none, loopback only"
                )
                print(
                    f"close-mcp {config.transport} server on http://{config.host}:{port} "
                    f"(/mcp, /sse, /healthz; auth: {auth})",
                    file=sys.stderr,
                    flush=True,
                )
                await drain_on_signal(uv, remote.app.tracker)
    finally:
        if audit is not None:
            audit.close()


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
        with anyio.move_on_after(1.0):  # seldom: an idle server's periodic objects pin memory (issue 17)
            await stop.wait()
    # The listener stays open while draining: MCP clients may need a new connection (e.g. their
    # notification stream) to receive the answer of a call already in flight. New calls are refused.
    tracker.drain()
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
        header_style=args.header_style,
        legacy_429_body=args.legacy_429_body,
        allow_loopback_webhooks=args.allow_loopback_webhooks,
    )
    async with run_sandbox(
        config, port=args.sandbox_port, host=args.sandbox_host, state_file=args.state_file
    ) as running:
        keys = [
            c.secret
            for c in running.sandbox.credentials.values()
            if c.kind == "api_key" and not c.secret.endswith("_restricted")
        ]
        print(f"Close sandbox listening on {running.base_url}", flush=True)
        print(f"API key(s): {', '.join(keys)}  (HTTP Basic, key as user, blank password)", flush=True)
        while not running.server.should_exit:
            await anyio.sleep(0.2)


def settle_start_up_objects() -> None:
    """The server is built: what exists now lives as long as the process. Freeze it out of the cyclic
    collector's reach (later full collections scan only what calls create: a full scan of the ~130k
    start-up objects is ~35 ms) and turn the collector back on (:func:`collect_after_start`)."""
    gc.freeze()
    gc.enable()


def collect_after_start(run: Any, *args: Any) -> None:
    """Run a server with the cyclic collector paused until it is built: start-up makes ~130k
    long-lived objects and almost no garbage (~800 objects), so collecting during it is wasted work
    (~40 ms of a ~0.6 s start). The collector is on again once serving, or if the start fails."""
    gc.disable()
    try:
        anyio.run(run, *args)
    finally:
        gc.enable()


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in vars(args).items() if not k.startswith("sandbox_")}


def main(argv: list[str] | None = None) -> None:
    try:
        try:
            _main(argv)
        finally:
            sys.stdout.flush()  # inside the try: a closed pipe shows here, not as an exit-time traceback
    except BrokenPipeError:
        # The reader went away (`close-mcp tools | head -1`): stop quietly, as Unix tools do.
        # Point stdout at /dev/null so the interpreter's final flush cannot raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0) from None


def _main(argv: list[str] | None) -> None:
    args = parse_arguments(argv)
    try:
        settings = Settings.load(flags=_flags(args))
        interactive = args.command in ("call", "doctor", "config", "tools", "webhooks")
        logging.basicConfig(
            stream=sys.stderr,
            level=settings.log_level,
            # a person reads these commands' notices; a server's log keeps times and levels
            format="%(message)s" if interactive else "%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        if args.command == "sandbox":
            anyio.run(run_sandbox_forever, args)
        elif args.command == "hash-token":
            from close_mcp.http_app import hash_token

            token = sys.stdin.readline().strip()
            if len(token) < 16:
                raise SettingsError("read a token of at least 16 characters from stdin")
            print(f"{args.agent} {hash_token(token)}")
        elif args.command == "tools":
            from close_mcp.app import build_policy, load_specs
            from close_mcp.commands.search import search_table
            from close_mcp.tool_table import markdown_table, plain_table

            specs = load_specs(settings)
            build_policy(settings, specs)  # same checks as a server start
            if args.search:
                print(search_table(specs, " ".join(args.search)))
            else:
                print(markdown_table(specs) if args.markdown else plain_table(specs))
        elif args.command == "call":
            from close_mcp.commands.call import CallRequest, run_call

            request = CallRequest(args.tool, args.words, args.json_args, args.output, args.yes)
            raise SystemExit(anyio.run(run_call, settings, request))
        elif args.command == "doctor":
            from close_mcp.commands.doctor import run_doctor

            raise SystemExit(anyio.run(run_doctor, settings))
        elif args.command == "webhooks":
            from close_mcp.commands.webhooks import WebhooksRequest, run_webhooks

            given = {
                k: v
                for k, v in (
                    ("object_types", args.object_types),
                    ("actions", args.actions),
                    ("overlap", args.overlap),
                )
                if v
            }
            raise SystemExit(anyio.run(run_webhooks, settings, WebhooksRequest(args.hooks_action, **given)))
        elif args.command == "config":
            from close_mcp.commands.host_config import snippet, where_to_put

            print(where_to_put(args.target), file=sys.stderr)
            print(snippet(args.target, settings))
        elif args.command == "serve" and settings.transport != "stdio":
            settings.check_events(remote=True)
            reexec_under_system_malloc(settings.system_malloc and argv is None, remote=True)
            collect_after_start(run_remote, settings)
        else:
            settings.check_events(remote=False)
            if not settings.sandbox:
                settings.require_credential()  # fail fast with one line, before the host starts talking
            collect_after_start(run_stdio, settings)
    except (SettingsError, ManifestError) as exc:
        print(f"close-mcp: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
