"""MCP hosts: where each keeps its configuration (per OS) and the snippet that adds close-mcp to it.

``close-mcp config HOST`` prints the snippet, with the absolute path of the installed command and
the key as a placeholder (never the real one); ``close-mcp doctor`` reads the files found here.
Standard locations only: Windows' roaming AppData and Linux's ``~/.config`` are taken at their
default places under the home folder.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from close_mcp.settings import Settings

KEY_PLACEHOLDER = "<your Close API key>"
SERVER_NAME = "close"


def in_uv_cache(path: Path) -> bool:
    """``uvx`` runs a tool from a throw-away environment in uv's cache (``…/uv/archive-v0/…``)."""
    parts = [p.lower() for p in path.absolute().parts]
    return "uv" in parts and any(p.startswith("archive-v") for p in parts)


def installed_command(argv0: str | None = None) -> list[str]:
    """How a host should start this close-mcp: as it is being run (the absolute path of the
    ``close-mcp`` command, or this Python with ``-m close_mcp``), else the command on PATH.
    Run by ``uvx``, whose environment may be deleted any time, it is ``uvx close-mcp``."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    ran = Path(argv0)
    if in_uv_cache(ran):
        return [shutil.which("uvx") or "uvx", "close-mcp"]
    if ran.name in ("close-mcp", "close-mcp.exe") and ran.exists():
        return [str(ran.absolute())]
    if ran.name == "__main__.py" and ran.parent.name == "close_mcp":
        return [str(Path(sys.executable).absolute()), "-m", "close_mcp"]
    found = shutil.which("close-mcp")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "close_mcp"]


def server_entry(settings: Settings, argv0: str | None = None) -> tuple[str, list[str], dict[str, str]]:
    """command, args and env of the server: the sandbox needs no key; scope and toolsets as given."""
    command, *args = installed_command(argv0)
    env: dict[str, str] = {}
    if settings.sandbox:
        args.append("--sandbox")
    else:
        env["CLOSE_API_KEY"] = KEY_PLACEHOLDER
    if settings.scope:
        env["CLOSE_MCP_SCOPE"] = settings.scope
    if settings.toolsets != ["all"]:
        env["CLOSE_MCP_TOOLSETS"] = ",".join(settings.toolsets)
    return command, args, env


def _mcp_servers(settings: Settings, argv0: str | None) -> str:
    command, args, env = server_entry(settings, argv0)
    entry: dict[str, Any] = {"command": command, "args": args}
    if env:
        entry["env"] = env
    return json.dumps({"mcpServers": {SERVER_NAME: entry}}, indent=2)


def _vscode(settings: Settings, argv0: str | None) -> str:
    command, args, env = server_entry(settings, argv0)
    doc: dict[str, Any] = {}
    if "CLOSE_API_KEY" in env:  # VS Code asks once and keeps the key in its secret storage
        env["CLOSE_API_KEY"] = "${input:close-api-key}"
        doc["inputs"] = [
            {
                "type": "promptString",
                "id": "close-api-key",
                "description": "Close API key (Close: Settings → Developer → API Keys)",
                "password": True,
            }
        ]
    entry: dict[str, Any] = {"type": "stdio", "command": command, "args": args}
    if env:
        entry["env"] = env
    doc["servers"] = {SERVER_NAME: entry}
    return json.dumps(doc, indent=2)


def _claude_code(settings: Settings, argv0: str | None) -> str:
    command, args, env = server_entry(settings, argv0)
    words = ["claude", "mcp", "add", SERVER_NAME, "--scope", "user"]
    for name, value in env.items():
        words += ["--env", f"{name}={value}"]
    return shlex.join([*words, "--", command, *args])


@dataclass(frozen=True)
class Host:
    label: str
    snippet: Callable[[Settings, str | None], str]
    where: str  # what to do with the snippet
    servers_key: str  # where a config file lists its servers

    def config_paths(self, home: Path, platform: str, cwd: Path) -> list[Path]:
        return _PATHS[self.label](home, platform, cwd)


def _user_dir(home: Path, platform: str, app: str) -> Path:
    if platform == "darwin":
        return home / "Library" / "Application Support" / app
    if platform.startswith("win"):
        return home / "AppData" / "Roaming" / app
    return home / ".config" / app


_PATHS: dict[str, Callable[[Path, str, Path], list[Path]]] = {
    "Claude Desktop": lambda home, platform, cwd: [
        _user_dir(home, platform, "Claude") / "claude_desktop_config.json"
    ],
    "Claude Code": lambda home, platform, cwd: [home / ".claude.json", cwd / ".mcp.json"],
    "Cursor": lambda home, platform, cwd: [home / ".cursor" / "mcp.json", cwd / ".cursor" / "mcp.json"],
    "VS Code": lambda home, platform, cwd: [
        _user_dir(home, platform, "Code") / "User" / "mcp.json",
        cwd / ".vscode" / "mcp.json",
    ],
}

HOSTS: dict[str, Host] = {
    "claude-desktop": Host(
        "Claude Desktop",
        _mcp_servers,
        "merge into claude_desktop_config.json (Settings → Developer → Edit Config), then restart Claude",
        "mcpServers",
    ),
    "claude-code": Host("Claude Code", _claude_code, "run this command in a terminal", "mcpServers"),
    "cursor": Host(
        "Cursor",
        _mcp_servers,
        "merge into ~/.cursor/mcp.json (or a project's .cursor/mcp.json)",
        "mcpServers",
    ),
    "vscode": Host(
        "VS Code",
        _vscode,
        "merge into .vscode/mcp.json (or run MCP: Open User Configuration)",
        "servers",
    ),
}


def snippet(host: str, settings: Settings, argv0: str | None = None) -> str:
    return HOSTS[host].snippet(settings, argv0)


def where_to_put(host: str, argv0: str | None = None) -> str:
    note = f"# {HOSTS[host].label}: {HOSTS[host].where}"
    if in_uv_cache(Path(sys.argv[0] if argv0 is None else argv0)):
        note += (
            "\n# (run by uvx: `uvx close-mcp` installs close-mcp from PyPI; for a local clone, put "
            '"--from", "/path/to/the/clone" before "close-mcp" in args)'
        )
    return note
