"""The sandbox delivers its own events: a subscription made through ``POST /webhook/`` receives
correctly signed events for a create, an update, a delete and a merge, and a 500 is retried."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from close_mcp.sandbox import SandboxConfig, run_sandbox
from close_mcp.sandbox.app import Sandbox

from ._receiver import Receiver, wait_for
from .conftest import FAST

pytestmark = pytest.mark.anyio
LEAD_EVENTS = [{"object_type": "lead", "action": a} for a in ("created", "updated", "deleted", "merged")]


@pytest.fixture
async def api() -> AsyncIterator[tuple[Sandbox, httpx2.AsyncClient]]:
    config = SandboxConfig(leads=4, allow_loopback_webhooks=True, webhook_policy=FAST)
    async with (
        run_sandbox(config) as sb,
        httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as http,
    ):
        yield sb.sandbox, http


async def _subscribe(http: httpx2.AsyncClient, receiver: Receiver, name: str) -> dict[str, Any]:
    r = await http.post("/webhook/", json={"url": receiver.url(name), "events": LEAD_EVENTS})
    assert r.status_code == 201, r.text
    sub: dict[str, Any] = r.json()
    receiver.keys[sub["id"]] = sub["signature_key"]
    return sub


async def test_create_update_delete_and_merge_arrive_signed_and_a_500_is_retried(api, receiver):
    sandbox, http = api
    receiver.script("crm", 500)  # the first delivery fails once
    sub = await _subscribe(http, receiver, "crm")
    before = len(sandbox.store().events)  # the seed's past events are not delivered
    a = (await http.post("/lead/", json={"name": "Hooked A"})).json()
    assert (await http.put(f"/lead/{a['id']}/", json={"name": "Hooked A2"})).status_code == 200
    b = (await http.post("/lead/", json={"name": "Hooked B"})).json()
    assert (
        await http.post("/lead/merge/", json={"source": b["id"], "destination": a["id"]})
    ).status_code == 200
    assert (await http.delete(f"/lead/{a['id']}/")).status_code == 200

    store = sandbox.store()
    wanted = {(e["object_type"], e["action"]) for e in LEAD_EVENTS}
    expected = [e["id"] for e in store.events[before:] if (e["object_type"], e["action"]) in wanted]
    await wait_for(lambda: receiver.delivered_ids("crm") == expected)
    hits = receiver.to("crm")
    assert all(h.verified for h in hits)  # signed with the subscription's key (Close-Sig-Hash)
    assert hits[0].answered == 500 and hits[1].event_id == hits[0].event_id  # retried, in order
    actions = [h.payload["event"]["action"] for h in hits[1:]]
    assert {"created", "updated", "deleted", "merged"} <= set(actions)
    assert all(h.payload["subscription_id"] == sub["id"] for h in hits)
    merged = next(h.payload["event"] for h in hits if h.payload["event"]["action"] == "merged")
    assert merged["object_id"] == a["id"] and merged["meta"]["merge_source_lead_id"] == b["id"]

    shown = (await http.get(f"/webhook/{sub['id']}/")).json()  # the health fields, on the subscription
    assert shown["counters"]["delivered"] == len(expected) and shown["counters"]["failed_attempts"] == 1
    assert shown["latest_error"] == "HTTP 500" and shown["health_status"] == "healthy"
    assert shown["recent_consecutive_fail_buckets_cnt"] == 0  # reset by the successes after the 500


async def test_unsubscribed_events_and_paused_subscriptions_get_nothing(api, receiver):
    _sandbox, http = api
    sub = await _subscribe(http, receiver, "paused")
    other = (
        await http.post(
            "/webhook/",
            json={
                "url": receiver.url("notes"),
                "events": [{"object_type": "activity.note", "action": "created"}],
            },
        )
    ).json()
    receiver.keys[other["id"]] = other["signature_key"]
    assert (await http.put(f"/webhook/{sub['id']}/", json={"status": "paused"})).status_code == 200
    lead = (await http.post("/lead/", json={"name": "Quiet"})).json()
    await http.post("/activity/note/", json={"lead_id": lead["id"], "note": "hello"})
    await wait_for(lambda: len(receiver.to("notes", ok_only=True)) == 1)
    assert receiver.to("paused") == []
    assert receiver.to("notes")[0].payload["event"]["object_type"] == "activity.note"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [("https://hooks.example.com/close", True), ("http://hooks.example.com/close", False)],
)
async def test_webhook_urls_must_be_https_or_allowed_loopback(api, url, allowed):
    _sandbox, http = api
    r = await http.post("/webhook/", json={"url": url, "events": LEAD_EVENTS})
    assert r.status_code == (201 if allowed else 400)
    if not allowed:
        assert r.json()["field-errors"]["url"] == "Must be an https URL."


async def test_loopback_http_needs_the_option_and_events_are_validated(receiver):
    async with (
        run_sandbox(SandboxConfig(leads=2)) as sb,
        httpx2.AsyncClient(base_url=sb.base_url, auth=(sb.api_key, "")) as http,
    ):
        r = await http.post("/webhook/", json={"url": receiver.url("x"), "events": LEAD_EVENTS})
        assert r.status_code == 400 and "allow_loopback_http" in r.json()["field-errors"]["url"]
        bad = [
            {"object_type": "lead", "action": ""},
            {"object_type": "lead", "action": "created", "extra_filter": {"type": "nope"}},
        ]
        r = await http.post("/webhook/", json={"url": "https://example.com/h", "events": bad})
        errors = r.json()["field-errors"]
        assert r.status_code == 400 and errors["events.0.action"] == "This field is required."
        assert "unknown filter type" in errors["events.1.extra_filter"]


def test_the_cli_flag_allows_loopback_webhooks():
    from close_mcp.cli import build_parser

    assert build_parser().parse_args(["sandbox", "--allow-loopback-webhooks"]).allow_loopback_webhooks is True
    assert build_parser().parse_args(["sandbox"]).allow_loopback_webhooks is False
