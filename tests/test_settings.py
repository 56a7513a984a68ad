"""Settings: read in one place, environment first and flags over it; bad values are one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from close_mcp.settings import DEFAULT_BASE_URL, Settings
from close_mcp.settings_error import SettingsError


def test_defaults_without_environment():
    s = Settings.load(environ={})
    assert s.base_url == DEFAULT_BASE_URL and s.credential() is None
    assert s.effective_scope == "write_safe" and s.toolsets == ["default"] and s.audit_path(None) is None


def test_environment_then_flags_win():
    env = {
        "CLOSE_API_KEY": "api_key_from_env",
        "CLOSE_MCP_WAIT_BUDGET": "5",
        "CLOSE_MCP_OUTPUT_BUDGET": "4000",
        "CLOSE_MCP_TOOLSETS": "leads, tasks",
        "CLOSE_MCP_EXTRA_MANIFESTS": "/a,/b",
        "CLOSE_MCP_STATELESS": "1",
        "CLOSE_MCP_PORT": "9000",
        "CLOSE_MCP_AUDIT_LOG": "audit.jsonl",
    }
    s = Settings.load(environ=env, flags={"wait_budget": 7.5, "scope": None, "port": None})
    assert s.wait_budget == 7.5 and s.output_budget == 4000 and s.port == 9000 and s.stateless
    assert s.toolsets == ["leads", "tasks"] and s.extra_manifests == [Path("/a"), Path("/b")]
    assert s.require_credential().kind == "api_key" and s.audit_path("default.jsonl") == Path("audit.jsonl")


def test_oauth_token_is_used_when_no_key():
    s = Settings.load(environ={"CLOSE_ACCESS_TOKEN": "tok"})
    assert s.require_credential().kind == "oauth" and "tok" not in repr(s.require_credential())


def test_sandbox_defaults_to_the_destructive_scope():
    assert Settings.load(environ={}, flags={"sandbox": True}).effective_scope == "write_destructive"


@pytest.mark.parametrize(
    "env,flags,message",
    [
        ({"CLOSE_MCP_WAIT_BUDGET": "soon"}, {}, "CLOSE_MCP_WAIT_BUDGET must be a number, got 'soon'"),
        ({}, {"output_budget": 10}, "at least 1000 characters"),
        ({}, {"wait_budget": -1}, "cannot be negative"),
        ({"CLOSE_API_BASE_URL": "http://api.close.com/api/v1"}, {}, "must be https"),
        ({"CLOSE_MCP_SCOPE": "admin"}, {}, "unknown scope 'admin'"),
        ({"CLOSE_MCP_TRANSPORT": "carrier-pigeon"}, {}, "unknown transport"),
        ({"CLOSE_MCP_HTTP_TIMEOUT": "0"}, {}, "HTTP timeout must be positive"),
    ],
)
def test_bad_values_are_one_line_errors(env, flags, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        Settings.load(environ=env, flags=flags)


def test_missing_credential_says_how_to_fix_it():
    with pytest.raises(SettingsError, match=r"set CLOSE_API_KEY .*close-mcp --sandbox"):
        Settings.load(environ={}).require_credential()


def test_unfilled_host_placeholders_count_as_unset():
    """An MCP bundle host passes an optional field the user left empty as ``${user_config.NAME}``;
    Claude Code's .mcp.json passes an unset ``${VAR}`` the same way."""
    env = {
        "CLOSE_API_KEY": "${user_config.api_key}",
        "CLOSE_MCP_TOOLSETS": "${user_config.toolsets}",
        "CLOSE_ACCESS_TOKEN": "${CLOSE_ACCESS_TOKEN}",
        "CLOSE_MCP_SANDBOX": "true",
    }
    s = Settings.load(environ=env)
    assert s.credential() is None and s.toolsets == ["default"] and s.sandbox


@pytest.mark.parametrize(
    "raw,expected", [("1", True), ("true", True), ("YES", True), ("false", False), ("0", False)]
)
def test_boolean_variables_take_words(raw, expected):
    assert Settings.load(environ={"CLOSE_MCP_SANDBOX": raw}).sandbox is expected
