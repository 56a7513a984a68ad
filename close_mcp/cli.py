"""Command line: ``close-mcp`` (stdio server), ``close-mcp sandbox``, ``close-mcp tools``."""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import anyio

from close_mcp import __version__
from close_mcp.manifest import ManifestError, ToolSpec, load_manifests
from close_mcp.settings import Settings, SettingsError

log = logging.getLogger("close_mcp")


def _common(parser: argparse.ArgumentParser) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="close-mcp", description="MCP server for the Close CRM API.")
    parser.add_argument("--version", action="version", version=f"close-mcp {__version__}")
    _common(parser)
    sub = parser.add_subparsers(dest="command")
    sb = sub.add_parser("sandbox", help="run the local Close sandbox API server")
    sb.add_argument("--port", type=int, default=8765)
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--seed", type=int, default=7)
    sb.add_argument("--leads", type=int, default=260)
    sb.add_argument("--orgs", type=int, default=1, help="number of organizations (one API key each)")
    sb.add_argument("--rate-limit", type=int, default=None, help="requests/second per key and endpoint group")
    sb.add_argument(
        "--semicolon-header", action="store_true", help="send RateLimit with ';' as live Close does"
    )
    sb.add_argument("--legacy-429-body", choices=["none", "top", "error"], default="none")
    sb.add_argument("--state-file", type=Path, help="load state from / save state to this JSON file")
    tools = sub.add_parser("tools", help="print the tool table")
    tools.add_argument("--markdown", action="store_true")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    settings.sandbox = bool(args.sandbox)
    if args.api_base_url:
        settings.base_url = args.api_base_url
    if args.log_level:
        settings.log_level = args.log_level.upper()
    if args.wait_budget is not None:
        settings.wait_budget = args.wait_budget
    if args.output_budget is not None:
        settings.output_budget = args.output_budget
    settings.validate()
    return settings


async def run_stdio(settings: Settings, specs: list[ToolSpec]) -> None:
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

        async def client_for(_ctx: object) -> CloseClient:
            return client

        server = build_server(specs, executor, client_for)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())


async def run_sandbox_forever(args: argparse.Namespace) -> None:
    from close_mcp.sandbox import SandboxConfig, run_sandbox

    config = SandboxConfig(
        seed=args.seed,
        leads=args.leads,
        organizations=args.orgs,
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
        await anyio.sleep_forever()


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
        if args.command == "tools":
            from close_mcp.tool_table import markdown_table, plain_table

            print(markdown_table(specs) if args.markdown else plain_table(specs))
            return
        if not settings.sandbox:
            settings.credential()  # fail fast with one line, before the host starts talking
        anyio.run(run_stdio, settings, specs)
    except (SettingsError, ManifestError) as exc:
        print(f"close-mcp: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
