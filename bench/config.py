"""The one configuration every figure runs in (unless a figure is by definition about another), and
the small helpers every bench module shares."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import mcp.types as types

from close_mcp.app import App, Upstream, open_local_app
from close_mcp.credentials import Credential
from close_mcp.manifest import load_manifests
from close_mcp.settings import Settings

# Every tool loaded AND listed: every toolset, every scope (the sandbox's own default scope). No audit log.
CONFIG_ENV = {
    "CLOSE_MCP_TOOLSETS": "all",
    "CLOSE_MCP_SCOPE": "write_destructive",
    "CLOSE_MCP_AUDIT_LOG": "off",
}
CONFIG_FLAGS = ["--toolsets", "all", "--scope", "write_destructive"]
CONFIG_TEXT = "--toolsets all --scope write_destructive (every tool loaded and listed), audit log off"
SPECS = load_manifests()


def config_settings(**overrides: Any) -> Settings:
    """The configuration as in-process :class:`Settings` (what the env above gives the CLI)."""
    return Settings(**{"toolsets": ["all"], "scope": "write_destructive", "audit_log": "off", **overrides})


@asynccontextmanager
async def local_app(base_url: str, api_key: str, settings: Settings | None = None) -> AsyncIterator[App]:
    """The server as the CLI builds it, on one shared client to a sandbox in another process."""
    async with open_local_app(
        settings or config_settings(), Upstream(base_url, Credential(api_key)), specs=SPECS
    ) as app:
        yield app


def result_data(result: Any) -> Any:
    """A tool result's data, whichever form the server sends: ``structuredContent`` when present, else the
    text parsed as JSON. Takes an SDK ``CallToolResult`` or a raw JSON-RPC ``result`` dict."""
    if isinstance(result, dict):
        if result.get("structuredContent") is not None:
            return result["structuredContent"]
        return json.loads(result["content"][0]["text"])
    if result.structured_content is not None:
        return result.structured_content
    first = result.content[0]
    return json.loads(first.text) if isinstance(first, types.TextContent) else None


def pct(xs: Sequence[float], p: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def p50(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def spread(values: Sequence[float]) -> dict[str, float]:
    """min / median / max across rounds, and the spread (max − min)."""
    return {
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
        "spread": max(values) - min(values),
    }
