"""The MCP Inspector (the tool host developers use to look at a server) lists close-mcp's tools, resources,
resource templates and prompts: its CLI mode spawns ``close-mcp --sandbox`` over stdio, as a host does."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import anyio
import pytest
from npm_helpers import npm_ci_once

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None, reason="needs Node.js"),
]
INSPECTOR = Path(__file__).parent / "inspector"
CLI = INSPECTOR / "node_modules" / ".bin" / "mcp-inspector"
CLOSE_MCP = Path(sys.executable).with_name("close-mcp")


@pytest.fixture(scope="module")
def inspector() -> Path:
    npm_ci_once(INSPECTOR, CLI)
    return CLI


async def _listed(inspector: Path, method: str) -> dict:
    done = await anyio.run_process(
        [str(inspector), "--cli", str(CLOSE_MCP), "--sandbox", "--method", method], check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    ("method", "key", "expected"),
    [
        ("tools/list", "tools", {"list_leads", "search_leads", "find_tools", "get_lead_overview"}),
        ("resources/list", "resources", {"close://me", "close://schema/pipelines"}),
        ("resources/templates/list", "resourceTemplates", {"close://lead/{lead_id}"}),
        ("prompts/list", "prompts", {"pipeline_review", "weekly_report"}),
    ],
)
async def test_the_inspector_lists_what_close_mcp_offers(inspector, method, key, expected):
    listed = (await _listed(inspector, method))[key]
    names = {entry.get("uriTemplate") or entry.get("uri") or entry["name"] for entry in listed}
    assert expected <= names, sorted(names)
