"""The Claude Desktop MCP bundle (``.mcpb``): one file a user opens to install close-mcp, no terminal.

    python -m close_mcp.packaging.bundle            # → dist/close-mcp-<version>.mcpb
    python -m close_mcp.packaging.bundle --out DIR

The bundle is of server type ``uv`` (manifest 0.4): it carries the source and ``pyproject.toml``,
and the host installs Python and the dependencies with uv, on any OS. The manifest asks the user
for the Close API key (a *sensitive* field, kept in the OS keychain by the host), the scope, the
toolsets, and whether to use the demo sandbox; the host passes them as close-mcp's environment
variables. An optional field the user leaves empty arrives as the literal ``${user_config.…}``
text, which :mod:`close_mcp.settings` reads as unset.

The archive is reproducible: sorted entries, fixed timestamps and modes, so the same source gives
the same bytes (and the same SHA-256 for a registry entry).
"""

from __future__ import annotations

import argparse
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from close_mcp.access import SCOPES
from close_mcp.manifest import load_manifests
from close_mcp.packaging import identity

MANIFEST_VERSION = "0.4"
ENTRY_POINT = "server/main.py"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_COPIED = ("pyproject.toml", "README.md", "LICENSE")
_LAUNCHER = '''"""close-mcp as an MCP bundle: the stdio server, configured by the environment the host sets
from the bundle's user_config (CLOSE_API_KEY, CLOSE_MCP_SCOPE, CLOSE_MCP_TOOLSETS, CLOSE_MCP_SANDBOX)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the bundle's own close_mcp

from close_mcp.cli import main  # noqa: E402

main([])
'''


def manifest() -> dict[str, Any]:
    tools = [
        {"name": s.name, "description": s.description.split(". ")[0].rstrip(".")} for s in load_manifests()
    ]
    return {
        "$schema": "https://raw.githubusercontent.com/anthropics/mcpb/main/schemas/mcpb-manifest-v0.4.schema.json",
        "manifest_version": MANIFEST_VERSION,
        "name": identity.NAME,
        "display_name": identity.DISPLAY_NAME,
        "version": identity.VERSION,
        "description": identity.DESCRIPTION,
        "long_description": identity.LONG_DESCRIPTION,
        "author": {"name": identity.AUTHOR, "url": identity.REPOSITORY},
        "repository": {"type": "git", "url": identity.REPOSITORY},
        "homepage": identity.REPOSITORY,
        "support": f"{identity.REPOSITORY}/issues",
        "license": identity.LICENSE,
        "keywords": identity.KEYWORDS,
        "server": {
            "type": "uv",
            "entry_point": ENTRY_POINT,
            "mcp_config": {
                "command": "uv",
                "args": ["run", "--directory", "${__dirname}", ENTRY_POINT],
                "env": {
                    "CLOSE_API_KEY": "${user_config.api_key}",
                    "CLOSE_MCP_SCOPE": "${user_config.scope}",
                    "CLOSE_MCP_TOOLSETS": "${user_config.toolsets}",
                    "CLOSE_MCP_SANDBOX": "${user_config.sandbox}",
                },
            },
        },
        "tools": tools,
        "compatibility": {
            "platforms": ["darwin", "win32", "linux"],
            "runtimes": {"python": identity.REQUIRES_PYTHON},
        },
        "user_config": {
            "api_key": {
                "type": "string",
                "title": "Close API key",
                "description": "From Close: Settings → Developer → API Keys. Leave empty to use the demo sandbox.",
                "sensitive": True,
                "required": False,
            },
            "scope": {
                "type": "string",
                "title": "Scope",
                "description": f"Which tools the agent gets: {', '.join(SCOPES)} "
                "(write_safe: everything but deletes, merges and organization changes).",
                "default": "write_safe",
                "required": False,
            },
            "toolsets": {
                "type": "string",
                "title": "Toolsets",
                "description": "default: the daily tools, the rest found on demand (find_tools); all: every "
                "tool listed; or a comma list of areas, e.g. leads,contacts,tasks.",
                "default": "default",
                "required": False,
            },
            "sandbox": {
                "type": "boolean",
                "title": "Use the demo sandbox",
                "description": "Serve a local demo Close organization instead of yours (no key needed).",
                "default": False,
                "required": False,
            },
        },
    }


def _source_files(root: Path) -> Iterator[tuple[str, Path]]:
    for name in _COPIED:
        yield name, root / name
    for folder in ("close_mcp", "tool_manifests"):
        for path in sorted((root / folder).rglob("*")):
            if (
                path.is_file()
                and "__pycache__" not in path.parts
                and path.suffix in (".py", ".json", ".typed")
            ):
                yield path.relative_to(root).as_posix(), path


def bundle_entries(root: Path) -> list[tuple[str, bytes]]:
    """Every file of the bundle, by its path inside the archive, sorted."""
    entries = [(arc, path.read_bytes()) for arc, path in _source_files(root)]
    entries.append(("manifest.json", (json.dumps(manifest(), indent=2, ensure_ascii=False) + "\n").encode()))
    entries.append((ENTRY_POINT, _LAUNCHER.encode()))
    return sorted(entries)


def build(out_dir: Path, root: Path | None = None) -> Path:
    root = root or identity.source_root()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{identity.NAME}-{identity.VERSION}.mcpb"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for arc, data in bundle_entries(root):
            info = zipfile.ZipInfo(arc, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m close_mcp.packaging.bundle", description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    root = identity.source_root()
    target = build(args.out or root / "dist", root)
    print(f"wrote {target} ({target.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
