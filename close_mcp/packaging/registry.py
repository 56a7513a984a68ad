"""The MCP registry entry, ``server.json``, generated from the package: one command per release.

    python -m close_mcp.packaging.registry           # write server.json at the repository root
    python -m close_mcp.packaging.registry --check   # exit 1 if it is stale (what the tests check)

A release is: bump ``close_mcp.__version__``, add its ``## [X.Y.Z]`` section to CHANGELOG.md, run
this. It refuses to write an entry for a version the changelog does not describe.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from close_mcp.access import SCOPES
from close_mcp.packaging import identity

SCHEMA = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"


def _env(name: str, description: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "description": description, **more}


def server_json() -> dict[str, Any]:
    version = identity.VERSION
    return {
        "$schema": SCHEMA,
        "name": identity.REGISTRY_NAME,
        "title": identity.DISPLAY_NAME,
        "description": identity.DESCRIPTION,
        "version": version,
        "repository": {"url": identity.REPOSITORY, "source": "github"},
        "websiteUrl": identity.REPOSITORY,
        "packages": [
            {
                "registryType": "pypi",
                "registryBaseUrl": "https://pypi.org",
                "identifier": identity.NAME,
                "version": version,
                "runtimeHint": "uvx",
                "transport": {"type": "stdio"},
                "environmentVariables": [
                    _env(
                        "CLOSE_API_KEY",
                        "Close API key (Close: Settings → Developer → API Keys); not needed with the sandbox",
                        isSecret=True,
                        format="string",
                    ),
                    _env(
                        "CLOSE_MCP_SCOPE",
                        "Which tools are exposed: read, write_safe (no deletes) or write_destructive",
                        default="write_safe",
                        choices=list(SCOPES),
                        format="string",
                    ),
                    _env(
                        "CLOSE_MCP_TOOLSETS",
                        "default (daily tools; the rest discoverable), all, or a comma list of areas",
                        default="default",
                        format="string",
                    ),
                    _env(
                        "CLOSE_MCP_SANDBOX",
                        "true: serve an embedded demo Close organization instead (no key needed)",
                        default="false",
                        format="boolean",
                    ),
                ],
            }
        ],
    }


def render() -> str:
    return json.dumps(server_json(), indent=2, ensure_ascii=False) + "\n"


def changelog_has(version: str, changelog: Path) -> bool:
    text = changelog.read_text(encoding="utf-8") if changelog.is_file() else ""
    return re.search(rf"^## \[{re.escape(version)}\]", text, re.MULTILINE) is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m close_mcp.packaging.registry", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if server.json is stale")
    parser.add_argument("--out", type=Path, help="where to write (default: server.json at the root)")
    args = parser.parse_args(argv)
    root = identity.source_root()
    out = args.out or root / "server.json"
    if not changelog_has(identity.VERSION, root / "CHANGELOG.md"):
        print(
            f"CHANGELOG.md has no '## [{identity.VERSION}]' section: describe the release first",
            file=sys.stderr,
        )
        return 1
    text = render()
    if args.check:
        if not out.is_file() or out.read_text(encoding="utf-8") != text:
            print(f"{out} is stale: run python -m close_mcp.packaging.registry", file=sys.stderr)
            return 1
        return 0
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} ({identity.REGISTRY_NAME} {identity.VERSION})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
