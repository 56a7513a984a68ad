"""Least privilege through a real MCP client: scopes, toolsets, per-agent grants, audit, confirmation, dry run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import mcp.types as types
import pytest
from conftest import SPECS, connect, payload, text_of
from remote_helpers import remote_client, remote_server

from bench.remote_load import start_server
from close_mcp.audit import AuditLog
from close_mcp.http_app import RemoteConfig, parse_tokens
from close_mcp.policy import AccessPolicy, GrantFile, load_grants
from close_mcp.sandbox import SandboxConfig, run_sandbox
from close_mcp.settings_error import SettingsError

pytestmark = pytest.mark.anyio
ACCESS = Counter(s.access for s in SPECS)
TOOLSETS = {s.toolset for s in SPECS}
ALICE, BOB = "alice-token-0123456789abcdef", "bob-token-0123456789abcdef00"


def _requests(sandbox) -> int:
    return len(sandbox.sandbox.stats.requests)


@pytest.mark.parametrize(
    "scope,accesses",
    [
        ("read", {"read"}),
        ("write_safe", {"read", "write"}),
        ("write_destructive", {"read", "write", "destructive"}),
    ],
)
async def test_each_scope_lists_exactly_its_tools(sandbox, scope, accesses):
    async with connect(sandbox, policy=AccessPolicy(scope=scope)) as client:
        tools = (await client.list_tools()).tools
    assert len(tools) == sum(ACCESS[a] for a in accesses)
    assert {t.name for t in tools} == {s.name for s in SPECS if s.access in accesses}


async def test_out_of_scope_call_is_refused_without_a_request(sandbox):
    lead_id = next(iter(sandbox.sandbox.store().leads))
    async with connect(sandbox, policy=AccessPolicy(scope="write_safe")) as client:
        before = _requests(sandbox)
        result = await client.call_tool("delete_lead", {"lead_id": lead_id, "confirm": True})
        assert result.is_error and "needs scope write_destructive" in text_of(result)
        assert _requests(sandbox) == before and lead_id in sandbox.sandbox.store().leads
    async with connect(sandbox, policy=AccessPolicy(scope="read")) as client:
        result = await client.call_tool("create_note", {"lead_id": lead_id, "note": "x"})
        assert result.is_error and "needs scope write_safe" in text_of(result)
        assert _requests(sandbox) == before


async def test_toolsets_filter_listing_and_calls(sandbox):
    async with connect(sandbox, policy=AccessPolicy(toolsets={"leads", "tasks"})) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {s.name for s in SPECS if s.toolset in ("leads", "tasks")}
        result = await client.call_tool("list_webhooks", {})
        assert result.is_error and "webhooks_events toolset" in text_of(result)


def _policy(tmp_path, text: str, suffix: str = ".toml"):
    path = tmp_path / f"policy{suffix}"
    path.write_text(text)
    return path


async def test_grants_hold_each_agent_over_the_remote_transport(sandbox, tmp_path):
    path = _policy(tmp_path, '[agents.alice]\nleads = "read"\n\n[agents.bob]\ntasks = "write"\n')
    policy = AccessPolicy(grants=GrantFile(path, TOOLSETS))
    audit_path = tmp_path / "audit.jsonl"
    audit = AuditLog(audit_path)
    config = RemoteConfig(tokens=parse_tokens(f"alice:{ALICE},bob:{BOB}", None))
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    task_id = next(t for t in store.tasks if store.tasks[t]["_type"] == "lead")
    async with (
        remote_server(sandbox, config, policy=policy, audit=audit) as base,
        remote_client(base, "mcp", {"Authorization": f"Bearer {ALICE}"}) as alice,
        remote_client(base, "sse", {"Authorization": f"Bearer {BOB}"}) as bob,
    ):
        assert {t.name for t in (await alice.list_tools()).tools} == {
            s.name for s in SPECS if s.toolset == "leads" and s.access == "read"
        }
        assert {t.name for t in (await bob.list_tools()).tools} == {
            s.name for s in SPECS if s.toolset == "tasks" and s.access in ("read", "write")
        }
        assert not (await alice.call_tool("get_lead", {"lead_id": lead_id})).is_error
        before = _requests(sandbox)
        denied = await alice.call_tool("update_lead", {"lead_id": lead_id, "name": "Hacked"})
        assert denied.is_error and "granted 'read' on leads" in text_of(denied)
        denied = await alice.call_tool("list_tasks", {})
        assert denied.is_error and "granted 'none' on tasks" in text_of(denied)
        assert (await bob.call_tool("list_leads", {})).is_error
        assert _requests(sandbox) == before
        assert not (await bob.call_tool("update_task", {"task_id": task_id, "is_complete": True})).is_error
        denied = await bob.call_tool("delete_task", {"task_id": task_id, "confirm": True})
        assert denied.is_error and task_id in store.tasks
        # a policy edit applies without dropping the session
        path.write_text('[agents.alice]\nleads = "write"\n')
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 5_000_000))
        assert not (await alice.call_tool("update_lead", {"lead_id": lead_id, "name": "Renamed"})).is_error
        assert (await bob.call_tool("list_tasks", {})).is_error
    audit.close()
    lines = [json.loads(x) for x in audit_path.read_text().splitlines()]
    refused = [x for x in lines if x["outcome"] == "refused"]
    assert {x["agent"] for x in refused} == {"alice", "bob"} and len(refused) >= 4
    assert ALICE not in audit_path.read_text() and BOB not in audit_path.read_text()


@pytest.mark.parametrize(
    "text,suffix,message",
    [
        (
            '[agents.alice]\nleads = "read"\nwebhooks = "read"\n',
            ".toml",
            "policy.toml:3: unknown toolset 'webhooks'",
        ),
        (
            '[agents.alice]\nleads = "read"\n\n[agents.bob]\ntasks = "admin"\n',
            ".toml",
            "policy.toml:5: access for bob.tasks",
        ),
        ('[agents.alice\nleads = "read"\n', ".toml", "policy.toml:1: invalid TOML"),
        (
            '{"agents": {"alice": {"leads": "read",\n "tasks": "writ"}}}',
            ".json",
            "policy.json:2: access for alice.tasks",
        ),
        ('{"agents": {"alice": {"leads": "read",}}}', ".json", "policy.json:1: invalid JSON"),
        ('[people.alice]\nleads = "read"\n', ".toml", "expected only an 'agents' table"),
    ],
)
def test_bad_policy_files_name_the_line(tmp_path, text, suffix, message):
    with pytest.raises(SettingsError) as err:
        load_grants(_policy(tmp_path, text, suffix), TOOLSETS)
    assert message in str(err.value)


def test_bad_policy_fails_start_up_in_one_line(tmp_path):
    path = _policy(tmp_path, '[agents.alice]\nleads = "rread"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "close_mcp", "serve", "--sandbox", "--policy", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "policy.toml:2: access for alice.leads" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_audit_log_lines_and_no_secrets(tmp_path):
    key = "sk_RECOGNISABLE_audit_key_42"
    async with run_sandbox(SandboxConfig(leads=5, api_keys=[key])) as sb:
        path = tmp_path / "audit.jsonl"
        audit = AuditLog(path, fsync=True)
        lead_id = next(iter(sb.sandbox.store().leads))
        async with connect(sb, audit=audit, policy=AccessPolicy(scope="write_safe")) as client:
            await client.call_tool("get_lead", {"lead_id": lead_id})
            await client.call_tool("create_note", {"lead_id": lead_id, "note": "n" * 5000})
            await client.call_tool("get_lead", {"lead_id": "lead_missing0000"})
            await client.call_tool("delete_lead", {"lead_id": lead_id})
            await client.call_tool("get_lead", {"lead_id": "../x"})
        audit.close()
    text = path.read_text()
    lines = [json.loads(x) for x in text.splitlines()]
    assert [x["outcome"] for x in lines] == ["ok", "ok", "error:404", "refused", "invalid"]
    first = lines[0]
    assert set(first) >= {
        "ts",
        "agent",
        "tool",
        "access",
        "arguments",
        "ids",
        "outcome",
        "duration_ms",
    }
    assert "close_request_id" not in first  # the sandbox, like Close's docs, names no request ID
    assert first["agent"] == "local" and first["ids"][0] == lead_id and first["access"] == "read"
    assert lines[1]["arguments"]["note"].endswith("[5000 chars]") and lines[1]["ids"][-1].startswith("acti_")
    assert key not in text


def test_audit_survives_kill_9(tmp_path):
    """A stdio server writing the audit log is killed with SIGKILL: every completed call is recorded."""
    from bench.stdio_rpc import StdioPeer

    sandbox = subprocess.Popen(
        [sys.executable, "-m", "close_mcp", "sandbox", "--port", "0", "--leads", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base_url = sandbox.stdout.readline().strip().split()[-1]
        key = sandbox.stdout.readline().split(":", 1)[1].split()[0].rstrip(",")
        path = tmp_path / "audit.jsonl"
        env = {
            "PATH": os.environ["PATH"],
            "CLOSE_API_KEY": key,
            "CLOSE_API_BASE_URL": base_url,
            "CLOSE_MCP_AUDIT_LOG": str(path),
        }
        peer = StdioPeer([sys.executable, "-m", "close_mcp"], env)
        peer.initialize()
        for i in range(12):
            reply = peer.request(
                "tools/call", {"name": "list_users" if i % 2 else "get_current_user", "arguments": {}}
            )
            assert not reply["result"].get("isError")
        peer.proc.send_signal(signal.SIGKILL)
        peer.close()
        lines = path.read_text().splitlines()
        assert len(lines) == 12 and all(json.loads(x)["outcome"] == "ok" for x in lines)
        assert key not in path.read_text()
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        sandbox.stdout.close()


async def test_destructive_call_needs_confirm_without_elicitation(sandbox, mcp):
    store = sandbox.sandbox.store()
    lead_id = next(lid for lid in store.leads if len(store.children_of(lid)["contacts"]) >= 2)
    name = store.leads[lead_id]["name"]
    before = Counter(r["method"] for r in sandbox.sandbox.stats.requests)
    result = await mcp.call_tool("delete_lead", {"lead_id": lead_id})
    assert result.is_error and "confirm: true" in text_of(result) and name in text_of(result)
    assert f"{len(store.children_of(lead_id)['contacts'])} contacts" in text_of(result)
    after = Counter(r["method"] for r in sandbox.sandbox.stats.requests)
    assert after["DELETE"] == before["DELETE"] and lead_id in store.leads
    assert not (await mcp.call_tool("delete_lead", {"lead_id": lead_id, "confirm": True})).is_error
    assert lead_id not in store.leads


async def test_bulk_update_preview_counts_matches(sandbox, mcp):
    user = list(sandbox.sandbox.store().users)[1]
    result = await mcp.call_tool("bulk_update_tasks", {"filter_assigned_to": user, "is_complete": True})
    assert result.is_error and "objects match these filters" in text_of(result)


@pytest.mark.parametrize("answer,deleted", [("accept", True), ("decline", False), ("cancel", False)])
async def test_elicitation_decides(sandbox, answer, deleted):
    store = sandbox.sandbox.store()
    lead_id = next(iter(store.leads))
    asked: list[str] = []

    async def elicit(context, params):
        asked.append(params.message)
        return types.ElicitResult(action=answer, content={"confirm": True} if answer == "accept" else None)

    async with connect(sandbox, elicitation_callback=elicit) as client:
        result = await client.call_tool("delete_lead", {"lead_id": lead_id})
    assert (asked and store.leads.get(lead_id, {}).get("name", "") in asked[0]) or deleted
    assert (lead_id not in store.leads) == deleted
    assert result.is_error != deleted


async def test_confirm_true_does_not_skip_the_users_prompt(sandbox):
    lead_id = next(iter(sandbox.sandbox.store().leads))

    async def decline(context, params):
        return types.ElicitResult(action="decline")

    async with connect(sandbox, elicitation_callback=decline) as client:
        result = await client.call_tool("delete_lead", {"lead_id": lead_id, "confirm": True})
    assert result.is_error and lead_id in sandbox.sandbox.store().leads


async def test_dry_run_returns_the_request_and_sends_nothing(sandbox, mcp):
    lead_id = next(iter(sandbox.sandbox.store().leads))
    cf = next(iter(sandbox.sandbox.store().custom_fields["lead"]))
    before = _requests(sandbox)
    result = await mcp.call_tool(
        "update_lead", {"lead_id": lead_id, "name": "Dry", "custom": {cf: "Retail"}, "dry_run": True}
    )
    plan = payload(result)
    assert not result.is_error and plan["dry_run"] is True
    assert plan["request"]["method"] == "PUT" and plan["request"]["url"].endswith(f"/api/v1/lead/{lead_id}/")
    assert plan["request"]["body"] == {"name": "Dry", f"custom.{cf}": "Retail"}
    deleted = await mcp.call_tool("delete_lead", {"lead_id": lead_id, "dry_run": True})
    assert payload(deleted)["request"]["method"] == "DELETE"
    # A dry run may read the custom field definitions (to check the choice); it changes nothing.
    sent = [(r["method"], r["path"]) for r in list(sandbox.sandbox.stats.requests)[before:]]
    assert set(sent) <= {("GET", "/custom_field/lead/")}
    assert sandbox.sandbox.store().leads[lead_id]["name"] != "Dry"


async def test_stateless_http_falls_back_to_confirm(sandbox):
    lead_id = next(iter(sandbox.sandbox.store().leads))
    async with (
        remote_server(sandbox, RemoteConfig(stateless=True)) as base,
        remote_client(base, "mcp") as client,
    ):
        result = await client.call_tool("delete_lead", {"lead_id": lead_id})
        assert result.is_error and "confirm: true" in text_of(result)
        assert not (await client.call_tool("delete_lead", {"lead_id": lead_id, "confirm": True})).is_error


async def test_sighup_reloads_grants_in_a_running_server(sandbox, tmp_path):
    """`close-mcp serve` with hashed tokens from `hash-token` and a policy; SIGHUP applies an edit whose
    mtime was put back (so only the signal can have triggered the reload)."""
    import anyio
    from remote_helpers import remote_client

    from close_mcp.uvicorn_runner import wait_until_serving

    line = subprocess.run(
        [sys.executable, "-m", "close_mcp", "hash-token", "alice"],
        input=ALICE + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert line.startswith("alice sha256:") and ALICE not in line
    tokens = tmp_path / "tokens"
    tokens.write_text(line)
    policy = _policy(tmp_path, '[agents.alice]\nleads = "none"\n')
    proc, base = start_server(sandbox, "--tokens-file", str(tokens), "--policy", str(policy))
    try:
        await wait_until_serving(f"{base}/healthz")
        async with remote_client(base, "mcp", {"Authorization": f"Bearer {ALICE}"}) as alice:
            assert (await alice.call_tool("list_leads", {})).is_error
            stat = policy.stat()
            policy.write_text('[agents.alice]\nleads = "read"\n')
            os.utime(policy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            assert (await alice.call_tool("list_leads", {})).is_error  # same mtime: not reloaded yet
            proc.send_signal(signal.SIGHUP)
            with anyio.fail_after(10):  # the signal is handled asynchronously: poll until it took
                while (await alice.call_tool("list_leads", {"limit": 1})).is_error:
                    await anyio.sleep(0.05)
            assert not (await alice.call_tool("list_leads", {"limit": 1})).is_error
    finally:
        proc.terminate()
        proc.wait(timeout=20)
