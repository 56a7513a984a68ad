"""The release artifacts: the ``.mcpb`` bundle (built, validated and resolved by the official
``@anthropic-ai/mcpb``, then started as a host would start it), the registry's ``server.json``
(in sync with the version and the fields the registry documents), the license metadata."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import metadata
from pathlib import Path

import anyio
import pytest
from conftest import SPECS, payload
from mcp import Client, StdioServerParameters
from npm_helpers import npm_ci_once

from close_mcp import __version__
from close_mcp.packaging import bundle, identity, registry
from close_mcp.settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[1]
MCPB = Path(__file__).parent / "mcpb"
needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="Node.js is needed for @anthropic-ai/mcpb",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """The bundle file, and the folder a host unpacks it into."""
    out = tmp_path_factory.mktemp("dist")
    target = bundle.build(out, ROOT)
    unpacked = out / "unpacked"
    with zipfile.ZipFile(target) as archive:
        archive.extractall(unpacked)
    return target, unpacked


@pytest.fixture(scope="module")
def mcpb_tools() -> Path:
    npm_ci_once(MCPB, MCPB / "node_modules" / "@anthropic-ai" / "mcpb")
    return MCPB


def test_bundle_holds_the_server_and_builds_reproducibly(built, tmp_path):
    target, unpacked = built
    assert target.name == f"close-mcp-{__version__}.mcpb"
    for needed in (
        "manifest.json",
        "server/main.py",
        "pyproject.toml",
        "LICENSE",
        "README.md",
        "close_mcp/cli.py",
    ):
        assert (unpacked / needed).is_file(), needed
    assert len(list((unpacked / "tool_manifests").glob("*.json"))) >= 2
    assert not list(unpacked.rglob("__pycache__"))
    assert bundle.build(tmp_path, ROOT).read_bytes() == target.read_bytes()  # same source, same bytes


def test_manifest_asks_for_the_key_as_a_secret(built):
    manifest = json.loads((built[1] / "manifest.json").read_text())
    assert manifest["manifest_version"] == "0.4" and manifest["version"] == __version__
    assert manifest["server"]["type"] == "uv" and manifest["server"]["entry_point"] == "server/main.py"
    config = manifest["user_config"]
    assert config["api_key"]["sensitive"] is True and config["api_key"]["type"] == "string"
    assert {"scope", "toolsets", "sandbox"} <= config.keys() and config["sandbox"]["type"] == "boolean"
    env = manifest["server"]["mcp_config"]["env"]
    assert env["CLOSE_API_KEY"] == "${user_config.api_key}"
    assert set(env) <= {v.variable for v in ENV_VARS}  # only variables close-mcp reads
    assert [t["name"] for t in manifest["tools"]] == [s.name for s in SPECS]
    assert manifest["license"] == "MIT"


@needs_node
def test_the_official_validator_accepts_the_bundle(built, mcpb_tools):
    target, unpacked = built
    cli = mcpb_tools / "node_modules" / ".bin" / "mcpb"
    checked = subprocess.run([cli, "validate", unpacked / "manifest.json"], capture_output=True, timeout=120)
    assert checked.returncode == 0 and b"validation passes" in checked.stdout, checked.stdout + checked.stderr
    info = subprocess.run([cli, "info", target], capture_output=True, timeout=120)
    assert info.returncode == 0 and target.name.encode() in info.stdout


def _resolved(mcpb_tools: Path, unpacked: Path, user_config: dict) -> dict:
    """What a host would run, per the official library, for these answers of the user."""
    done = subprocess.run(
        ["node", mcpb_tools / "resolve.mjs", unpacked, json.dumps(user_config)],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


@needs_node
@pytest.mark.anyio
@pytest.mark.parametrize("answers", ["sandbox", "key"])
async def test_the_server_starts_as_a_host_resolves_it(built, mcpb_tools, shared_sandbox, answers):
    """The host's env (an unset optional field arrives as a literal ``${user_config.…}``) and the
    bundle's entry point, started with this Python instead of uv (not installed here)."""
    _, unpacked = built
    user = {"sandbox": True} if answers == "sandbox" else {"api_key": shared_sandbox.api_key, "scope": "read"}
    config = await anyio.to_thread.run_sync(_resolved, mcpb_tools, unpacked, user)
    assert config["command"] == "uv" and config["args"][-1] == "server/main.py"
    env = dict(config["env"])
    if answers == "sandbox":
        assert env["CLOSE_API_KEY"] == "${user_config.api_key}"  # what close-mcp must read as unset
    else:
        env["CLOSE_API_BASE_URL"] = shared_sandbox.base_url  # the test's sandbox stands in for Close
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(unpacked / config["args"][-1])],
        env={"PATH": os.environ.get("PATH", ""), **env},
        cwd=str(unpacked),
    )
    with anyio.fail_after(60):
        async with Client(params, mode="legacy") as client:
            tools = (await client.list_tools()).tools
            result = await client.call_tool("list_leads", {"limit": 1})
    assert not result.is_error and payload(result)["count"] == 1
    # the bundle's default toolset: the daily tools (within the scope) and the discovery tools
    discovery = {"find_tools", "enable_tools", "call_tool"}
    if answers == "key":
        assert {t.name for t in tools} == {
            s.name for s in SPECS if s.default and s.access == "read"
        } | discovery
    else:  # the bundle's default scope, write_safe
        assert {t.name for t in tools} == {
            s.name for s in SPECS if s.default and s.access != "destructive"
        } | discovery


def test_server_json_is_in_sync_with_the_version():
    assert registry.main(["--check"]) == 0, "run python -m close_mcp.packaging.registry"
    doc = json.loads((ROOT / "server.json").read_text())
    assert doc["version"] == __version__ and all(p["version"] == __version__ for p in doc["packages"])


def test_server_json_has_the_registry_fields():
    """The constraints the registry documents for server.json (schema 2025-12-11)."""
    doc = json.loads((ROOT / "server.json").read_text())
    assert doc["$schema"].startswith("https://static.modelcontextprotocol.io/schemas/")
    assert re.fullmatch(r"[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+", doc["name"]) and 3 <= len(doc["name"]) <= 200
    assert doc["name"].split("/")[0].startswith("io.github.")
    assert 1 <= len(doc["description"]) <= 100
    assert not re.search(r"[\^~><*x]|latest", doc["version"])  # an exact version, never a range
    assert {"url", "source"} <= doc["repository"].keys()
    for package in doc["packages"]:
        assert {"registryType", "identifier", "version", "transport"} <= package.keys()
        assert package["registryType"] == "pypi" and package["identifier"] == "close-mcp"
        assert package["transport"] == {"type": "stdio"}
        for variable in package["environmentVariables"]:
            assert variable["name"] in {v.variable for v in ENV_VARS}
            assert variable.get("format", "string") in ("string", "number", "boolean", "filepath")
            assert isinstance(variable["description"], str)
        secret = [v["name"] for v in package["environmentVariables"] if v.get("isSecret")]
        assert secret == ["CLOSE_API_KEY"]
    # PyPI ownership: the registry looks for this marker in the package's README
    assert f"mcp-name: {doc['name']}" in (ROOT / "README.md").read_text()


def test_every_release_has_a_changelog_entry():
    assert registry.changelog_has(__version__, ROOT / "CHANGELOG.md")
    assert not registry.changelog_has("99.0.0", ROOT / "CHANGELOG.md")


def test_license_file_and_pep_639_metadata():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT" and project["project"]["license-files"] == ["LICENSE"]
    assert "setuptools>=77" in project["build-system"]["requires"]
    installed = metadata("close-mcp")
    assert installed["License-Expression"] == "MIT" and installed["Version"] == __version__
    assert __version__ == identity.VERSION
