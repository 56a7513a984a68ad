"""Who close-mcp is to the outside world: one place for the names and texts that the bundle, the
registry entry and the package metadata share. The version is ``close_mcp.__version__``."""

from __future__ import annotations

from pathlib import Path

from close_mcp import __version__

NAME = "close-mcp"
DISPLAY_NAME = "Close CRM"
# The MCP registry's name: reverse-DNS namespace / server. ``io.github.<owner>`` is verified by
# GitHub login; change OWNER here (and the README's mcp-name marker) if the repository moves.
OWNER = "close-mcp"
REGISTRY_NAME = f"io.github.{OWNER}/{NAME}"
REPOSITORY = f"https://github.com/{OWNER}/{NAME}"
AUTHOR = "The close-mcp contributors"
LICENSE = "MIT"
DESCRIPTION = "Close CRM for AI agents: leads, contacts, deals, tasks; safe writes, a sandbox to try it"
LONG_DESCRIPTION = (
    "Every Close REST API method as an MCP tool, with argument validation before anything is sent, "
    "results trimmed to fit the agent's context, shared rate limiting, scopes and toolsets for least "
    "privilege, and confirmation before anything is destroyed. Turn on the demo sandbox to try it "
    "without a Close account."
)
KEYWORDS = ["close", "crm", "sales", "leads", "mcp"]
REQUIRES_PYTHON = ">=3.11"
VERSION = __version__


def source_root() -> Path:
    """The source checkout this package runs from (the bundle and registry files are built there)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise SystemExit(f"close-mcp packaging runs from a source checkout; no pyproject.toml in {root}")
    return root
