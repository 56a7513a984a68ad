"""The small commands and breakages a new user meets first: a closed pipe, ``--version`` after a
subcommand, ``--help`` naming the environment, ``tools --search``, ``config HOST``."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_helpers import CLOSE_MCP, cli_env, run_cli

from close_mcp.settings import ENV_VARS

pytestmark = pytest.mark.anyio
SECRET = "api_not_to_be_printed_0123456789"


def test_a_closed_pipe_ends_quietly_with_status_0(tmp_path):
    """The reader is gone before close-mcp writes (what `| head -1` does to a slower writer)."""
    with subprocess.Popen(
        [*CLOSE_MCP, "tools"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(tmp_path)
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 0 and err == ""


@pytest.mark.skipif(shutil.which("head") is None, reason="needs a shell with head")
def test_tools_piped_into_head_exits_quietly(tmp_path):
    command = f'{shlex.join([*CLOSE_MCP, "tools"])} | head -1; echo "status=${{PIPESTATUS[0]}}" >&2'
    result = subprocess.run(["bash", "-c", command], capture_output=True, env=cli_env(tmp_path), timeout=60)
    assert result.stdout.decode().split() == ["TOOL", "ACCESS", "METHOD", "PATH"]
    assert result.stderr.decode().strip() == "status=0"


@pytest.mark.parametrize("where", [["--version"], ["serve", "--version"], ["call", "--version"]])
async def test_version_is_accepted_anywhere(tmp_path, where):
    code, out, _ = await run_cli(*where, env=cli_env(tmp_path))
    assert code == 0 and out.startswith("close-mcp ")


@pytest.mark.parametrize("where", [[], ["serve"], ["call"]])
async def test_help_lists_every_environment_variable(tmp_path, where):
    code, out, _ = await run_cli(*where, "--help", env=cli_env(tmp_path))
    assert code == 0
    missing = [v.variable for v in ENV_VARS if v.variable not in out]
    assert not missing and "CLOSE_API_KEY" in out


async def test_tools_search_ranks_by_purpose(tmp_path):
    code, out, _ = await run_cli("tools", "--search", "delete", "a", "lead", env=cli_env(tmp_path))
    assert code == 0 and out.splitlines()[0].split()[0] == "delete_lead"
    code, out, _ = await run_cli("tools", "--search", "who", "am", "I", env=cli_env(tmp_path))
    assert out.splitlines()[0].startswith("get_current_user")
    code, out, _ = await run_cli("tools", "--search", "opportunities", env=cli_env(tmp_path))
    assert {line.split()[0] for line in out.splitlines()} >= {"list_opportunities", "create_opportunity"}
    code, out, _ = await run_cli("tools", "--search", "zebra", env=cli_env(tmp_path))
    assert code == 0 and "no tool matches" in out


@pytest.mark.parametrize("host", ["claude-desktop", "cursor", "vscode"])
async def test_config_prints_valid_json_with_the_command_and_no_key(tmp_path, host):
    code, out, err = await run_cli("config", host, env=cli_env(tmp_path, CLOSE_API_KEY=SECRET))
    assert code == 0 and SECRET not in out + err
    doc = json.loads(out)
    servers = doc["servers"] if host == "vscode" else doc["mcpServers"]
    entry = servers["close"]
    assert entry["command"].startswith("/") and entry["args"][-2:] == ["-m", "close_mcp"]  # run as python -m
    assert entry["env"]["CLOSE_API_KEY"] in ("<your Close API key>", "${input:close-api-key}")
    if host == "vscode":
        assert doc["inputs"][0]["password"] is True and entry["type"] == "stdio"


async def test_config_uses_the_installed_command_and_the_flags_given(tmp_path):
    venv_command = shutil.which("close-mcp")
    if venv_command is None:
        pytest.skip("close-mcp is not on PATH")
    result = subprocess.run(
        [
            venv_command,
            "config",
            "claude-desktop",
            "--sandbox",
            "--scope",
            "read",
            "--toolsets",
            "leads,tasks",
        ],
        capture_output=True,
        env=cli_env(tmp_path, CLOSE_API_KEY=SECRET),
        timeout=60,
    )
    entry = json.loads(result.stdout)["mcpServers"]["close"]
    assert entry == {
        "command": venv_command,
        "args": ["--sandbox"],
        "env": {"CLOSE_MCP_SCOPE": "read", "CLOSE_MCP_TOOLSETS": "leads,tasks"},
    }


async def test_config_claude_code_is_one_shell_command(tmp_path):
    code, out, err = await run_cli("config", "claude-code", env=cli_env(tmp_path, CLOSE_API_KEY=SECRET))
    words = shlex.split(out)
    assert code == 0 and SECRET not in out + err
    assert words[:4] == ["claude", "mcp", "add", "close"] and "CLOSE_API_KEY=<your Close API key>" in words
    assert words[words.index("--") + 1 :][-2:] == ["-m", "close_mcp"]


def test_a_command_run_by_uvx_is_configured_as_uvx(tmp_path):
    """uvx's environments live in uv's cache and may vanish: the snippet starts `uvx close-mcp`."""
    from close_mcp.commands.host_config import installed_command, where_to_put

    cached = tmp_path / ".cache" / "uv" / "archive-v0" / "AbC123" / "bin" / "close-mcp"
    cached.parent.mkdir(parents=True)
    cached.write_text("")
    command = installed_command(str(cached))
    assert Path(command[0]).name in ("uvx", "uvx.exe") and command[1:] == ["close-mcp"]
    assert "--from" in where_to_put("cursor", str(cached))
    venv = tmp_path / "venv" / "bin" / "close-mcp"
    venv.parent.mkdir(parents=True)
    venv.write_text("")
    assert installed_command(str(venv)) == [str(venv)]


def test_the_readme_configuration_table_names_every_variable():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme[readme.index("## Configuration") : readme.index("## Least privilege")]
    assert not [
        v.variable for v in ENV_VARS if f"`{v.variable}" not in table and f" {v.variable}" not in table
    ]
