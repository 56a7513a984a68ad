"""``--oauth`` settings: what is required and refused at start-up, and the real ``close-mcp serve
--sandbox --oauth`` process serving the metadata a host discovers."""

from __future__ import annotations

import socket
import subprocess

import anyio
import httpx2
import pytest
from cli_helpers import CLOSE_MCP, cli_env

from close_mcp.http_app import RemoteConfig
from close_mcp.oauth.records import load_key
from close_mcp.settings import Settings
from close_mcp.settings_error import SettingsError

pytestmark = pytest.mark.anyio


def test_oauth_needs_a_close_oauth_app_except_on_the_sandbox():
    with pytest.raises(SettingsError, match="CLOSE_OAUTH_CLIENT_ID and CLOSE_OAUTH_CLIENT_SECRET"):
        Settings.load(environ={"CLOSE_MCP_OAUTH": "1"})
    assert Settings.load(environ={"CLOSE_MCP_OAUTH": "1", "CLOSE_MCP_SANDBOX": "1"}).oauth
    app = {"CLOSE_OAUTH_CLIENT_ID": "oa2client_x", "CLOSE_OAUTH_CLIENT_SECRET": "s"}
    settings = Settings.load(environ={"CLOSE_MCP_OAUTH": "1", **app}, flags={"host": "0.0.0.0"})
    RemoteConfig.from_settings(settings)  # signing in is auth enough to listen beyond loopback
    with pytest.raises(SettingsError, match="refusing to listen"):
        RemoteConfig.from_settings(Settings.load(environ=app, flags={"host": "0.0.0.0"}))


def test_public_url_must_be_https_and_a_bad_key_is_named(tmp_path):
    with pytest.raises(SettingsError, match="CLOSE_MCP_PUBLIC_URL must be https"):
        Settings.load(environ={"CLOSE_MCP_PUBLIC_URL": "http://mcp.example.com"})
    with pytest.raises(SettingsError, match="CLOSE_MCP_OAUTH_KEY must be a Fernet key"):
        load_key("not-a-key", tmp_path / "k")
    made = load_key(None, tmp_path / "dir" / "k")
    assert load_key(None, tmp_path / "dir" / "k") == made  # created once, then read
    assert (tmp_path / "dir" / "k").stat().st_mode & 0o777 == 0o600


async def test_serve_sandbox_oauth_publishes_the_metadata(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = cli_env(tmp_path)
    command = [*CLOSE_MCP, "serve", "--sandbox", "--oauth", "--port", str(port)]
    async with await anyio.open_process(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as proc:
        try:
            base = f"http://127.0.0.1:{port}"
            async with httpx2.AsyncClient() as http:
                with anyio.fail_after(60):
                    while True:
                        try:
                            response = await http.get(f"{base}/.well-known/oauth-authorization-server")
                            break
                        except httpx2.ConnectError:
                            await anyio.sleep(0.1)
                assert response.json()["issuer"] == base
                unauthorized = await http.post(f"{base}/mcp", json={})
                assert unauthorized.status_code == 401
        finally:
            proc.terminate()
    assert (tmp_path / ".close-mcp" / "oauth-grants.key").stat().st_mode & 0o777 == 0o600


def test_an_unreadable_store_is_a_start_up_error_naming_the_file(tmp_path):
    from close_mcp.oauth.file_store import FileStore

    broken = tmp_path / "grants.json"
    broken.write_text("{not json")
    with pytest.raises(SettingsError, match="not a readable close-mcp OAuth store"):
        FileStore(broken)
