"""``close-mcp doctor`` as a user runs it: against a sandbox with a good key, a wrong key, an
unreachable URL, and with host configuration files in a home folder the test makes."""

from __future__ import annotations

import json
import socket
import sys

import httpx2
import pytest
from cli_helpers import cli_env, run_cli, sandbox_env

from close_mcp.sandbox import SandboxConfig, run_sandbox

pytestmark = pytest.mark.anyio


def _claude_desktop_config(home, servers: dict) -> None:
    folder = home / ("Library/Application Support/Claude" if sys.platform == "darwin" else ".config/Claude")
    folder.mkdir(parents=True)
    (folder / "claude_desktop_config.json").write_text(json.dumps({"mcpServers": servers}))


async def test_good_key_names_user_organization_and_headroom(tmp_path):
    async with run_sandbox(SandboxConfig(rate_limit=50)) as sb:
        _claude_desktop_config(
            tmp_path,
            {
                "close": {
                    "command": sys.executable,
                    "args": ["-m", "close_mcp"],
                    "env": {"CLOSE_API_KEY": sb.api_key},
                },
                "other": {"command": "npx", "args": ["something-else"]},
            },
        )
        (tmp_path / ".cursor").mkdir()
        (tmp_path / ".cursor" / "mcp.json").write_text(
            '{"mcpServers": {"close": {"command": "/gone/venv/bin/close-mcp"}}'
        )
        async with httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as http:
            me = (await http.get("/me/")).json()
        code, out, err = await run_cli("doctor", env=sandbox_env(tmp_path, sb))
    assert sb.api_key not in out + err  # never a secret
    assert "[ok]  reachable:" in out
    assert f"CLOSE_API_KEY belongs to {me['first_name']} {me['last_name']} <{me['email']}>" in out
    assert f"organization {me['organizations'][0]['name']} ({me['organizations'][0]['id']})" in out
    assert "rate limit:" in out and "of 50 requests left" in out
    assert "scope write_safe, toolsets default:" in out
    assert "Claude Desktop:" in out and "(key set)" in out
    # the broken Cursor file is reported with what to fix, and the exit status says so
    assert "Cursor:" in out and "not valid JSON" in out and "What to fix:" in out and code == 1


async def test_good_key_and_clean_hosts_exit_0(shared_sandbox, tmp_path):
    _claude_desktop_config(
        tmp_path, {"close": {"command": sys.executable, "args": ["-m", "close_mcp", "--sandbox"]}}
    )
    code, out, _ = await run_cli("doctor", env=sandbox_env(tmp_path, shared_sandbox))
    assert code == 0 and "Nothing to fix." in out and "(sandbox)" in out


async def test_stale_command_and_placeholder_key_are_fixes(shared_sandbox, tmp_path):
    _claude_desktop_config(
        tmp_path,
        {
            "close": {"command": "/old/venv/bin/close-mcp"},
            "close-2": {
                "command": sys.executable,
                "args": ["-m", "close_mcp"],
                "env": {"CLOSE_API_KEY": "<your Close API key>"},
            },
        },
    )
    code, out, _ = await run_cli("doctor", env=sandbox_env(tmp_path, shared_sandbox))
    assert code == 1
    assert "/old/venv/bin/close-mcp, which does not exist" in out and "key still the placeholder" in out


async def test_wrong_key_is_refused_with_what_to_fix(shared_sandbox, tmp_path):
    env = cli_env(tmp_path, CLOSE_API_KEY="api_wrong_key_0000", CLOSE_API_BASE_URL=shared_sandbox.base_url)
    code, out, err = await run_cli("doctor", env=env)
    assert code == 1 and "[FIX] Close refused CLOSE_API_KEY (401 Unauthorized)" in out
    assert "Set a valid CLOSE_API_KEY" in out and "api_wrong_key_0000" not in out + err


async def test_unreachable_url_says_so(tmp_path):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = cli_env(
        tmp_path, CLOSE_API_KEY="api_some_key", CLOSE_API_BASE_URL=f"http://127.0.0.1:{port}/api/v1"
    )
    code, out, _ = await run_cli("doctor", env=env)
    assert code == 1 and f"cannot reach http://127.0.0.1:{port}/api/v1" in out
    assert "Check the network" in out and "CLOSE_API_BASE_URL" in out


async def test_no_key_at_all_is_the_first_fix(tmp_path):
    code, out, _ = await run_cli(
        "doctor", "--api-base-url", "http://127.0.0.1:9/api/v1", env=cli_env(tmp_path)
    )
    assert code == 1 and "no Close credential is set" in out and "close-mcp config HOST" in out


async def test_sandbox_doctor_needs_no_key(tmp_path):
    code, out, _ = await run_cli("doctor", "--sandbox", env=cli_env(tmp_path))
    assert code == 0 and "the sandbox's demo key belongs to" in out and "scope write_destructive" in out


@pytest.mark.parametrize("platform", ["darwin", "win32", "linux"])
def test_host_files_are_found_where_each_host_keeps_them(tmp_path, platform):
    """Each host's own file format and place, per OS: VS Code's ``servers``, Claude Code's per-project
    entries in ~/.claude.json, a project's .cursor/mcp.json."""
    from close_mcp.commands.doctor import check_hosts

    home, project = tmp_path / "home", tmp_path / "project"
    user_dir = {
        "darwin": home / "Library" / "Application Support",
        "win32": home / "AppData" / "Roaming",
        "linux": home / ".config",
    }[platform]
    entry = {
        "command": sys.executable,
        "args": ["-m", "close_mcp"],
        "env": {"CLOSE_API_KEY": "${input:close-api-key}"},
    }
    files = {
        user_dir / "Code" / "User" / "mcp.json": {"servers": {"close": {"type": "stdio", **entry}}},
        home / ".claude.json": {"projects": {"/some/project": {"mcpServers": {"crm": {**entry, "env": {}}}}}},
        project / ".cursor" / "mcp.json": {"mcpServers": {"close": {"url": "https://mcp.example.com/mcp"}}},
    }
    for path, doc in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
    found: list = []
    check_hosts(found, home, platform, project)
    texts = [f.text for f in found]
    assert any(t.startswith("VS Code:") and "key from ${input:close-api-key}" in t for t in texts)
    assert any(t.startswith("Claude Code:") and "'crm'" in t and "no key in its env" in t for t in texts)
    assert any(t.startswith("Cursor:") and "remote server https://mcp.example.com/mcp" in t for t in texts)
    assert any(t.startswith("Claude Desktop: no configuration found") for t in texts)
    assert all(f.status != "fix" for f in found)
