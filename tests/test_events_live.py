"""End to end on loopback: a client subscribed to ``close://lead/{id}`` is told the lead changed after
another client changes it through the sandbox — pushed by the sandbox's signed webhooks to the real
remote server, and followed from the Event Log by a stdio-style server; a delivery answered 500 is
retried and reaches subscribers exactly once; switching from push to follow loses and repeats nothing."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import anyio
import httpx2
import pytest
from conftest import connect, payload, settings_for_tests
from mcp import Client, StdioServerParameters
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from test_events_support import FAST, Updates, events_server, poll, remote_listener

from close_mcp.client import CloseClient
from close_mcp.credentials import Credential
from close_mcp.events.follow import EventLogFollower
from close_mcp.events.hub import EventHub
from close_mcp.events.keyring import KeyRing
from close_mcp.sandbox import RunningSandbox, SandboxConfig, run_sandbox
from close_mcp.shared_store import MemoryStore
from close_mcp.uvicorn_runner import bind, serve_app_on

pytestmark = pytest.mark.anyio
FOLLOW = {"events": "follow", "follow_min_interval": 0.05, "follow_max_interval": 0.2}


@pytest.fixture
async def hooked() -> AsyncIterator[RunningSandbox]:
    """A sandbox that delivers webhooks to loopback http, retrying within milliseconds."""
    async with run_sandbox(SandboxConfig(leads=5, allow_loopback_webhooks=True, webhook_policy=FAST)) as sb:
        yield sb


def a_lead(sandbox: RunningSandbox) -> str:
    return next(iter(sandbox.sandbox.store().leads))


async def rename(sandbox: RunningSandbox, lead_id: str, name: str) -> None:
    """Another client changes the lead, through MCP and the sandbox."""
    async with connect(sandbox) as writer:
        result = await writer.call_tool("update_lead", {"lead_id": lead_id, "name": name})
        assert not result.is_error


def lead_events(sandbox: RunningSandbox, lead_id: str) -> list[str]:
    return [e["id"] for e in sandbox.sandbox.store().events if e.get("lead_id") == lead_id]


async def test_push_a_subscribed_client_hears_another_clients_change(hooked, tmp_path):
    keys = tmp_path / "webhook-keys.json"
    lead_id = a_lead(hooked)
    uri = f"close://lead/{lead_id}"
    updates = Updates()
    async with events_server(hooked, keys) as server, remote_listener(server.base, updates) as listener:
        assert "wait_for_events" not in {
            t.name for t in (await listener.list_tools()).tools
        }  # nothing live yet
        unconfirmed = await listener.call_tool("subscribe_webhooks", {"object_types": ["lead"]})
        assert unconfirmed.is_error and "confirm: true" in unconfirmed.content[0].text
        assert hooked.sandbox.store().webhooks == {}  # nothing made before the user agrees
        bad = await listener.call_tool("subscribe_webhooks", {"object_types": ["Lead!"], "confirm": True})
        assert bad.is_error and "object_types" in bad.content[0].text
        made = await listener.call_tool("subscribe_webhooks", {"object_types": ["lead"], "confirm": True})
        assert not made.is_error, made.content[0].text
        assert payload(made)["action"] == "created"
        secret = KeyRing.load(keys).accepted_keys()[0]
        assert secret not in made.content[0].text and secret not in str(payload(made))
        await listener.subscribe_resource(uri)

        await rename(hooked, lead_id, "Pushed Name")
        await updates.wait_for(uri)
        read = await listener.read_resource("close://events/recent")
        assert "Pushed Name" in read.contents[0].text
        assert {t.name for t in (await listener.list_tools()).tools} >= {
            "wait_for_events",
            "subscribe_webhooks",
        }


class FlakyFront:
    """A real loopback front for the receiver whose first answer is a 500: either before the receiver
    saw the delivery (``forward_first=False``) or after it accepted it (the answer lost on the way)."""

    def __init__(self, forward_first: bool) -> None:
        self.forward_first, self.target, self.answers = forward_first, "", list[int]()

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.startswith(("close-", "content-type"))}
        first = not self.answers
        status = 500
        if not first or self.forward_first:
            async with httpx2.AsyncClient() as http:
                forwarded = await http.post(self.target, content=body, headers=headers)
            status = 500 if first else forwarded.status_code
        self.answers.append(status)
        return Response(status_code=status)


@pytest.fixture
async def hooked_slow_retry() -> AsyncIterator[RunningSandbox]:
    """Retries after just over a second, so each attempt carries a new close-sig-timestamp (Close's
    retries are minutes apart; the identical timestamp and body again is a replay, refused)."""
    policy = replace(FAST, base_delay=1.1, max_delay=1.1)
    async with run_sandbox(SandboxConfig(leads=5, allow_loopback_webhooks=True, webhook_policy=policy)) as sb:
        yield sb


@pytest.mark.parametrize("forward_first", [False, True], ids=["refused-first", "answer-lost-first"])
async def test_push_a_500_first_is_retried_and_reaches_subscribers_exactly_once(
    hooked_slow_retry, tmp_path, forward_first
):
    hooked = hooked_slow_retry
    front = FlakyFront(forward_first)
    sock = bind("127.0.0.1", 0)
    front_base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = Starlette(routes=[Route("/webhooks/close", front.hook, methods=["POST"])])
    lead_id = a_lead(hooked)
    uri = f"close://lead/{lead_id}"
    updates = Updates()
    try:
        async with (
            serve_app_on(app, sock),
            events_server(hooked, tmp_path / "keys.json", public_url=front_base) as server,
            remote_listener(server.base, updates) as listener,
        ):
            front.target = server.hook_url
            made = await listener.call_tool(
                "subscribe_webhooks", {"object_types": ["lead"], "actions": ["updated"], "confirm": True}
            )
            assert not made.is_error, made.content[0].text
            await listener.subscribe_resource(uri)
            await rename(hooked, lead_id, "Retried Name")
            dispatcher = hooked.sandbox.webhooks
            await poll(lambda: any(d.outcome == "delivered" for d in dispatcher.deliveries))
            await updates.wait_for(uri)
            hub = server.remote.app.events.hub
            assert front.answers[0] == 500 and front.answers[1:] == [202]
            assert [e["id"] for e in hub.recent] == lead_events(hooked, lead_id)[-1:]
            assert hub.counts["duplicate_push"] == (1 if forward_first else 0)
            assert updates.uris.count(uri) == 1
    finally:
        sock.close()


async def test_follow_a_subscribed_client_hears_another_clients_change(sandbox):
    lead_id = a_lead(sandbox)
    uri = f"close://lead/{lead_id}"
    updates = Updates()
    settings = settings_for_tests(sandbox=True, **FOLLOW)
    async with connect(sandbox, settings=settings, message_handler=updates) as listener:
        await listener.subscribe_resource(uri)
        await listener.subscribe_resource("close://events/recent")
        await rename(sandbox, lead_id, "Followed Name")
        await updates.wait_for(uri)
        waited = await listener.call_tool("wait_for_events", {"lead_id": lead_id, "timeout_seconds": 0})
        assert payload(waited)["timed_out"]  # from now on only: the rename was before
        await rename(sandbox, lead_id, "Followed Again")
        await updates.wait_for(uri, count=2)
        assert updates.uris.count("close://events/recent") == 2
        lead_view = await listener.read_resource(f"close://events/lead/{lead_id}")
        assert "Followed Again" in lead_view.contents[0].text

        await listener.unsubscribe_resource(uri)  # still subscribed to every event
        await rename(sandbox, lead_id, "Unwatched 1")
        await rename(sandbox, lead_id, "Unwatched 2")
        await updates.wait_for("close://events/recent", count=4)  # published in order: both are out
        assert updates.uris.count(uri) == 2


async def test_follow_over_a_real_stdio_process(sandbox, tmp_path):
    lead_id = a_lead(sandbox)
    uri = f"close://lead/{lead_id}"
    updates = Updates()
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "close_mcp", "--api-base-url", sandbox.base_url, "--events", "follow"],
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),  # the key and state files' default folder
            "CLOSE_API_KEY": sandbox.api_key,
        },
    )
    async with Client(params, mode="legacy", message_handler=updates) as listener:
        await listener.subscribe_resource(uri)
        await rename(sandbox, lead_id, "Heard over stdio")
        await updates.wait_for(uri)
    state = json.loads((tmp_path / ".config" / "close-mcp" / "events-state.json").read_text())
    assert state["recent_ids"] == lead_events(sandbox, lead_id)[-1:]  # kept for the next start


async def test_the_state_file_never_replaces_a_special_file(sandbox, tmp_path):
    fifo = tmp_path / "not-a-file"
    os.mkfifo(fifo)
    settings = settings_for_tests(sandbox=True, events_state=fifo, **FOLLOW)
    async with connect(sandbox, settings=settings) as client:
        assert not (await client.call_tool("wait_for_events", {"timeout_seconds": 0})).is_error
    assert fifo.is_fifo()


async def test_follow_wait_for_events_returns_the_matching_change_once(sandbox):
    lead_id = a_lead(sandbox)
    settings = settings_for_tests(sandbox=True, **FOLLOW)
    updates = Updates()
    async with connect(sandbox, settings=settings, message_handler=updates) as listener:
        await listener.subscribe_resource("close://events/recent")
        await rename(sandbox, lead_id, "Before Waiting")
        await updates.wait_for("close://events/recent")
        recent = json.loads((await listener.read_resource("close://events/recent")).contents[0].text)
        anchor = recent["events"][0]["id"]
        got: dict[str, Any] = {}

        async def wait() -> None:  # registered before or after the rename's event: found either way
            got["result"] = await listener.call_tool(
                "wait_for_events",
                {"lead_id": lead_id, "action": "updated", "timeout_seconds": 30, "after_event_id": anchor},
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await rename(sandbox, lead_id, "Waited For")
        result = got["result"]
        events = payload(result)["events"]
        assert [e["object_id"] for e in events] == [lead_id] and events[0]["changed_fields"] == ["name"]
        assert lead_id in result.content[0].text
        again = await listener.call_tool(
            "wait_for_events", {"lead_id": lead_id, "timeout_seconds": 0, "after_event_id": events[0]["id"]}
        )
        assert payload(again)["events"] == [] and payload(again)["timed_out"]
        bad = await listener.call_tool("wait_for_events", {"lead_id": "Acme", "timeout_seconds": 500})
        assert bad.is_error and "lead_id" in bad.content[0].text


async def test_switching_from_push_to_follow_keeps_one_stream_without_gap_or_repeat(hooked, tmp_path):
    lead_id = a_lead(hooked)
    uri = f"close://lead/{lead_id}"
    updates = Updates()
    async with (
        events_server(hooked, tmp_path / "keys.json") as server,
        remote_listener(server.base, updates) as listener,
        httpx2.AsyncClient(base_url=hooked.base_url, auth=(hooked.api_key, "")) as http,
        CloseClient(Credential(hooked.api_key), hooked.base_url) as close,
    ):
        made = await listener.call_tool("subscribe_webhooks", {"object_types": ["lead"], "confirm": True})
        await listener.subscribe_resource(uri)
        hub = server.remote.app.events.hub
        await rename(hooked, lead_id, "Pushed")
        await updates.wait_for(uri)
        # The laptop leaves the public network: Close can no longer push; two more changes happen.
        sub_id = payload(made)["subscription"]["id"]
        assert (await http.delete(f"/webhook/{sub_id}/")).status_code == 200
        await rename(hooked, lead_id, "Missed by push 1")
        await rename(hooked, lead_id, "Missed by push 2")
        follower = EventLogFollower(close, hub)  # follow takes over on the same hub
        assert await follower.poll_once() == 2
        assert await follower.poll_once() == 0  # the overlap re-reads; dedupe publishes nothing again
        await updates.wait_for(uri, count=3)
        expected = lead_events(hooked, lead_id)[-3:]
        assert [e["id"] for e in hub.recent] == expected
        assert hub.counts["published_push"] == 1 and hub.counts["published_follow"] == 2
        assert hub.counts["duplicate_follow"] == 0  # seen events are skipped before publishing
        assert updates.uris.count(uri) == 3


async def test_a_restarted_follower_resumes_from_the_shared_store(sandbox):
    store = MemoryStore()  # the shared store of a scale-out deployment outlives one process
    lead_id = a_lead(sandbox)
    async with CloseClient(Credential(sandbox.api_key), sandbox.base_url) as close:
        first = EventHub(store)
        await EventLogFollower(close, first).start_position()
        await rename(sandbox, lead_id, "Seen by the first")
        assert await EventLogFollower(close, first).poll_once() == 1
        await rename(sandbox, lead_id, "While restarting")
        second = EventHub(store)  # a new process: empty memory, same store
        assert await EventLogFollower(close, second).poll_once() == 1
        assert [e["id"] for e in second.recent] == lead_events(sandbox, lead_id)[-1:]


async def test_follow_resumes_after_a_restart_from_its_state_file(sandbox, tmp_path):
    lead_id = a_lead(sandbox)
    settings = settings_for_tests(sandbox=True, events_state=tmp_path / "events-state.json", **FOLLOW)
    updates = Updates()
    async with connect(sandbox, settings=settings, message_handler=updates) as first:
        await first.subscribe_resource(f"close://lead/{lead_id}")
        await rename(sandbox, lead_id, "Before the restart")
        await updates.wait_for(f"close://lead/{lead_id}")
        seen = await first.call_tool("wait_for_events", {"lead_id": lead_id, "timeout_seconds": 0})
    await rename(sandbox, lead_id, "While it was down")
    async with connect(sandbox, settings=settings) as second:
        before, down = lead_events(sandbox, lead_id)[-2:]
        got = await second.call_tool(
            "wait_for_events", {"lead_id": lead_id, "timeout_seconds": 30, "after_event_id": before}
        )
        assert [e["id"] for e in payload(got)["events"]] == [down]  # the missed one, once
    assert payload(seen)["timed_out"]
