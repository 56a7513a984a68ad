"""How results carry their data (``--result-form``): the JSON once as text by default, structuredContent
with a pointer, or both; and the output budget counting the result as it goes on the wire."""

from __future__ import annotations

import json
import subprocess
import sys

import anyio
import pytest
from cli_helpers import cli_env, run_cli, sandbox_env
from conftest import connect, payload, settings_for_tests, text_of

from bench.remote_load import INIT, INITIALIZED, tool_call
from close_mcp.result_forms import POINTER_RESERVE
from close_mcp.settings import Settings, SettingsError
from close_mcp.tool_handlers import OUTCOME_META
from close_mcp.trim import escaped_len

pytestmark = pytest.mark.anyio


async def _one_of_each(client, lead_id: str) -> list:
    return [
        await client.call_tool("get_lead", {"lead_id": lead_id}),
        await client.call_tool("list_leads", {"limit": 5}),
        await client.call_tool("find_tools", {"query": "webhook"}),
        await client.call_tool("call_tool", {"name": "get_lead", "arguments": {"lead_id": lead_id}}),
        await client.call_tool("delete_lead", {"lead_id": lead_id, "dry_run": True}),
    ]


async def test_default_form_is_the_json_as_text_only(shared_sandbox):
    lead_id = next(iter(shared_sandbox.sandbox.store().leads))
    async with connect(
        shared_sandbox, settings=settings_for_tests(sandbox=True, toolsets=["default"])
    ) as client:
        results = await _one_of_each(client, lead_id)
    for result in results:
        assert not result.is_error, text_of(result)
        assert result.structured_content is None and len(result.content) == 1
        assert isinstance(json.loads(text_of(result)), dict)
    assert [results[i].meta[OUTCOME_META] for i in (0, 1, 3, 4)] == ["ok", "ok", "ok", "dry_run"]
    assert json.loads(text_of(results[0]))["id"] == lead_id == json.loads(text_of(results[3]))["id"]


async def test_structured_form_sends_the_json_once_as_structured_content(shared_sandbox):
    lead_id = next(iter(shared_sandbox.sandbox.store().leads))
    settings = settings_for_tests(sandbox=True, toolsets=["default"], result_form="structured")
    async with connect(shared_sandbox, settings=settings) as client:
        results = await _one_of_each(client, lead_id)
        bad = await client.call_tool("get_lead", {"lead_id": "lead_nope"})
    for result in results:
        assert not result.is_error and isinstance(result.structured_content, dict)
        assert "structuredContent" in text_of(result) and len(text_of(result)) < POINTER_RESERVE
    assert results[0].structured_content["id"] == lead_id == results[3].structured_content["id"]
    assert results[4].meta[OUTCOME_META] == "dry_run"
    # errors stay text: the agent reads what to do whatever the form
    assert bad.is_error and bad.structured_content is None and "lead_nope" in text_of(bad)


async def test_both_form_sends_the_same_json_twice(shared_sandbox):
    lead_id = next(iter(shared_sandbox.sandbox.store().leads))
    settings = settings_for_tests(sandbox=True, toolsets=["default"], result_form="both")
    async with connect(shared_sandbox, settings=settings) as client:
        results = await _one_of_each(client, lead_id)
    for result in results:
        assert not result.is_error and result.structured_content == json.loads(text_of(result))


@pytest.mark.parametrize("form", ["text", "structured", "both"])
async def test_budget_counts_each_form_on_the_wire(shared_sandbox, form):
    """With a small budget, what a result puts on the wire (its text as a JSON string, its
    structuredContent as JSON) stays within it, and a page uses most of it."""
    budget = 3000
    settings = settings_for_tests(sandbox=True, output_budget=budget, result_form=form)
    async with connect(shared_sandbox, settings=settings) as c:
        results = [
            await c.call_tool("list_leads", {"limit": 100}),
            await c.call_tool("list_leads", {"limit": 100, "fields": ["_all"]}),
            await c.call_tool("get_lead", {"lead_id": next(iter(shared_sandbox.sandbox.store().leads))}),
        ]
    for result in results:
        assert not result.is_error, text_of(result)
        text_on_wire = escaped_len(text_of(result))
        structured_on_wire = len(
            json.dumps(result.structured_content, ensure_ascii=False, separators=(",", ":"))
        )
        wire = text_on_wire + (structured_on_wire if result.structured_content is not None else 0)
        assert wire <= budget, (form, wire)
    assert escaped_len(json.dumps(payload(results[0]), separators=(",", ":"))) > budget / 3


async def test_default_stdio_wire_message_carries_the_payload_once(shared_sandbox, tmp_path):
    """The bytes a host reads from a real ``close-mcp`` process: one copy of the result, its text
    escaped inside the JSON-RPC message, within the output budget."""
    budget = 4000
    env = sandbox_env(tmp_path, shared_sandbox, CLOSE_MCP_OUTPUT_BUDGET=str(budget))
    lead_id = next(iter(shared_sandbox.sandbox.store().leads))
    messages = [
        INIT,
        INITIALIZED,
        tool_call(2, "get_lead", {"lead_id": lead_id}),
        tool_call(3, "list_leads", {"limit": 100}),
    ]
    lines: dict[int, bytes] = {}
    async with await anyio.open_process(
        [sys.executable, "-m", "close_mcp"], env=env, stderr=subprocess.DEVNULL
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        await proc.stdin.send(b"".join(json.dumps(m).encode() + b"\n" for m in messages))
        buffer = b""
        with anyio.fail_after(60):
            while len(lines) < 3:
                buffer += await proc.stdout.receive()
                *whole, buffer = buffer.split(b"\n")
                for line in whole:
                    reply = json.loads(line)
                    if "id" in reply:
                        lines[reply["id"]] = line
        await proc.stdin.aclose()
        proc.terminate()
    for key in (2, 3):
        line = lines[key]
        result = json.loads(line)["result"]
        text = result["content"][0]["text"]
        assert "structuredContent" not in result and b"structuredContent" not in line
        data = json.loads(text)
        marker = str(data.get("id") or data["items"][0]["id"])
        assert line.count(marker.encode()) == text.count(marker) >= 1  # each mention once, in the text
        assert escaped_len(text) <= budget and len(line) < escaped_len(text) + 200
    assert len(lines[3]) > budget / 2  # the page used the budget, it was not cut short


async def test_close_mcp_call_reads_every_form(shared_sandbox, tmp_path):
    for form in ("text", "structured", "both"):
        env = sandbox_env(tmp_path, shared_sandbox, CLOSE_MCP_RESULT_FORM=form)
        code, out, err = await run_cli("call", "list_leads", "limit=2", "--output", "json", env=env)
        assert code == 0 and json.loads(out)["count"] == 2, (form, err)
        code, out, err = await run_cli("call", "list_leads", "limit=2", env=env)
        assert code == 0 and out.splitlines()[1].startswith("lead_"), (form, out)


async def test_unknown_result_form_is_refused_naming_the_choices(tmp_path):
    with pytest.raises(SettingsError, match="text, structured, both"):
        Settings.load(environ={"CLOSE_MCP_RESULT_FORM": "xml"})
    code, _, err = await run_cli("--result-form", "xml", "--sandbox", env=cli_env(tmp_path))
    assert code == 2 and "--result-form" in err and "Traceback" not in err
