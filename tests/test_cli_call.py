"""``close-mcp call``: one tool through the real server, run as a real process against a sandbox the
test can inspect; a destructive call answered on a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import anyio
import pytest
from cli_helpers import CLOSE_MCP, cli_env, run_cli, sandbox_env

pytestmark = pytest.mark.anyio


async def test_read_prints_a_table_and_exits_0(shared_sandbox, tmp_path):
    code, out, err = await run_cli("call", "list_leads", "limit=2", env=sandbox_env(tmp_path, shared_sandbox))
    assert code == 0, err
    lines = out.splitlines()
    assert (
        lines[0].split()[:2] == ["ID", "DISPLAY_NAME"]
        and lines[1].startswith("lead_")
        and lines[2].startswith("lead_")
    )
    assert "count: 2" in out and "has_more: true" in out and shared_sandbox.api_key not in out + err


async def test_json_output_is_the_structured_result(shared_sandbox, tmp_path):
    env = sandbox_env(tmp_path, shared_sandbox)
    code, out, _ = await run_cli("call", "list_leads", "--json", '{"limit": 3}', "--output", "json", env=env)
    result = json.loads(out)
    assert code == 0 and result["count"] == 3 and len(result["items"]) == 3


async def test_values_are_typed_by_the_schema(shared_sandbox, tmp_path):
    """``query=2024`` stays text (query is a string), ``limit=1`` is a number, ``fields`` a comma list."""
    env = sandbox_env(tmp_path, shared_sandbox)
    args = ("call", "list_leads", "query=Logistics", "limit=1", "fields=id,display_name", "--output", "json")
    code, out, err = await run_cli(*args, env=env)
    assert code == 0, err
    (item,) = json.loads(out)["items"]
    assert set(item) == {"id", "display_name"} and "Logistics" in item["display_name"]
    code, out, err = await run_cli("call", "list_leads", "query=2024", "--output", "json", env=env)
    assert code == 0, err  # a number-looking query is still a valid string


async def test_write_creates_the_object(sandbox, tmp_path):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    code, out, err = await run_cli(
        "call",
        "create_task",
        f"lead_id={lead_id}",
        "text=Call back from the shell",
        env=sandbox_env(tmp_path, sandbox),
    )
    assert code == 0, err
    created = [t for t in store.tasks.values() if t["text"] == "Call back from the shell"]
    assert len(created) == 1 and created[0]["lead_id"] == lead_id and created[0]["id"] in out


@pytest.mark.parametrize(
    "words,says",
    [
        (["limit=abc"], "limit: expected a number, got 'abc'"),
        (["limit=0"], "`limit`: 0 is less than the minimum of 1"),
        (["colour=red"], "colour"),
        (["--json", "[1]"], "--json must be a JSON object"),
        (["oops"], "expected key=value"),
    ],
)
async def test_bad_arguments_exit_2_with_a_clear_error_and_send_nothing(sandbox, tmp_path, words, says):
    before = len(sandbox.sandbox.stats.requests)
    code, out, err = await run_cli("call", "list_leads", *words, env=sandbox_env(tmp_path, sandbox))
    assert code == 2 and says in err and out == ""
    assert len(sandbox.sandbox.stats.requests) == before


async def test_unknown_tool_exits_2_and_suggests_names(tmp_path):
    code, _, err = await run_cli("call", "--sandbox", "list_lead", env=cli_env(tmp_path))
    assert code == 2 and "unknown tool 'list_lead'" in err and "list_leads" in err


async def test_tool_error_exits_1(shared_sandbox, tmp_path):
    code, _, err = await run_cli(
        "call", "get_lead", "lead_id=lead_doesnotexist", env=sandbox_env(tmp_path, shared_sandbox)
    )
    assert code == 1 and "Not found (404)" in err


async def test_scope_refusal_exits_1_and_sends_nothing(sandbox, tmp_path):
    lead_id = next(iter(sandbox.sandbox.store().leads))
    before = len(sandbox.sandbox.stats.requests)
    env = sandbox_env(tmp_path, sandbox, CLOSE_MCP_SCOPE="read")
    code, _, err = await run_cli("call", "delete_lead", f"lead_id={lead_id}", env=env)
    assert code == 1 and "refused" in err and "write_destructive" in err
    assert len(sandbox.sandbox.stats.requests) == before and lead_id in sandbox.sandbox.store().leads


async def test_destructive_without_a_terminal_needs_confirm_true(sandbox, tmp_path):
    """No terminal: no elicitation is offered, so the server's ``confirm: true`` rule applies."""
    store = sandbox.sandbox.store()
    lead_id, other = list(store.leads)[:2]
    env = sandbox_env(tmp_path, sandbox, CLOSE_MCP_SCOPE="write_destructive")
    code, _, err = await run_cli("call", "delete_lead", f"lead_id={lead_id}", env=env, stdin=b"y\n")
    assert code == 1 and "confirm: true" in err and lead_id in store.leads
    assert not [r for r in sandbox.sandbox.stats.requests if r["method"] == "DELETE"]
    code, _, err = await run_cli("call", "delete_lead", f"lead_id={other}", "--yes", env=env)
    assert code == 0, err
    assert other not in store.leads


class Terminal:
    """A close-mcp process on a pseudo-terminal: what it shows, and typing an answer."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.screen = b""

    def _read(self) -> bytes:
        try:
            return os.read(self.master, 4096)
        except OSError:  # EIO: the process closed the terminal
            return b""

    async def wait_for(self, text: str) -> None:
        while text.encode() not in self.screen:
            chunk = await anyio.to_thread.run_sync(self._read, abandon_on_cancel=True)
            if not chunk:
                raise AssertionError(
                    f"{text!r} never appeared; screen: {self.screen.decode(errors='replace')}"
                )
            self.screen += chunk

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    async def finish(self) -> int:
        while chunk := await anyio.to_thread.run_sync(self._read, abandon_on_cancel=True):
            self.screen += chunk
        code = await anyio.to_thread.run_sync(self.proc.wait, abandon_on_cancel=True)
        os.close(self.master)
        return code


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize("answer,deleted", [("n", False), ("y", True)])
async def test_destructive_call_asks_on_a_terminal(sandbox, tmp_path, answer, deleted):
    store = sandbox.sandbox.store()
    lead_id = next(lid for lid in store.leads if store.children_of(lid)["contacts"])
    name = store.leads[lead_id]["name"]
    env = sandbox_env(tmp_path, sandbox, CLOSE_MCP_SCOPE="write_destructive")
    with anyio.fail_after(60):
        term = Terminal([*CLOSE_MCP, "call", "delete_lead", f"lead_id={lead_id}"], env)
        await term.wait_for("[y/N]")
        asked = term.screen.decode()
        assert name in asked and "contacts" in asked  # the server's preview of what goes
        sent_before_answer = [r["method"] for r in sandbox.sandbox.stats.requests]
        assert "DELETE" not in sent_before_answer  # only the preview's reads so far
        term.type(answer)
        code = await term.finish()
    screen = term.screen.decode()
    assert (lead_id not in store.leads) == deleted
    methods = [r["method"] for r in sandbox.sandbox.stats.requests]
    if deleted:
        assert code == 0 and methods.count("DELETE") == 1, screen
    else:
        assert code == 1 and "did not confirm" in screen and "Nothing was sent" in screen
        assert methods == sent_before_answer  # "n": not one more request reached Close


async def test_calls_are_audited_like_the_servers(sandbox, tmp_path):
    audit = tmp_path / "audit.jsonl"
    env = sandbox_env(tmp_path, sandbox, CLOSE_MCP_AUDIT_LOG=str(audit))
    assert (await run_cli("call", "list_leads", "limit=1", env=env))[0] == 0
    assert (await run_cli("call", "list_leads", "limit=0", env=env))[0] == 2
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["tool"], r["outcome"], r["agent"]) for r in lines] == [
        ("list_leads", "ok", "local"),
        ("list_leads", "invalid", "local"),
    ]


async def test_the_issue_example_works_even_when_nothing_matches(tmp_path):
    code, out, err = await run_cli("call", "--sandbox", "list_leads", "query=acme", env=cli_env(tmp_path))
    assert code == 0 and ("count: " in out or "nothing matched" in out), err
