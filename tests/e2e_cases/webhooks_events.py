"""End-to-end cases for the webhooks_events tools."""

from __future__ import annotations

from e2e_cases.registry import BAD_REQUEST, Call, case, close_error, not_admin, revoked_key


# ----- webhooks and events --------------------------------------------------------------------
async def _hook(call: Call) -> str:
    hook = await call(
        "create_webhook",
        {"url": "https://example.com/hook", "events": [{"object_type": "lead", "action": "created"}]},
    )
    return str(hook["id"])


@case("create_webhook")
async def _(call: Call) -> None:
    hook_id = await _hook(call)
    assert hook_id in call.store.webhooks and len(call.store.webhooks[hook_id]["signature_key"]) == 64


@case("list_webhooks")
async def _(call: Call) -> None:
    hook_id = await _hook(call)
    assert [h["id"] for h in (await call("list_webhooks", {}))["items"]] == [hook_id]


@case("get_webhook")
async def _(call: Call) -> None:
    hook_id = await _hook(call)
    assert (await call("get_webhook", {"webhook_id": hook_id}))["url"] == "https://example.com/hook"


@case("update_webhook")
async def _(call: Call) -> None:
    hook_id = await _hook(call)
    await call("update_webhook", {"webhook_id": hook_id, "status": "paused"})
    assert call.store.webhooks[hook_id]["status"] == "paused"


@case("delete_webhook")
async def _(call: Call) -> None:
    hook_id = await _hook(call)
    await call("delete_webhook", {"webhook_id": hook_id})
    assert hook_id not in call.store.webhooks


@case("list_events", writes=False)
async def _(call: Call) -> None:
    page = await call("list_events", {"limit": 5})
    newest = sorted(reversed(call.store.events), key=lambda e: e["date_updated"], reverse=True)[:5]
    assert page["count"] == 5 and [e["id"] for e in page["items"]] == [e["id"] for e in newest]


@case("get_event", writes=False)
async def _(call: Call) -> None:
    event = call.store.live_events()[0]
    got = await call("get_event", {"event_id": event["id"]})
    assert (got["id"], got["action"], got["object_id"]) == (event["id"], event["action"], event["object_id"])


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
not_admin(
    "create_webhook",
    {"url": "https://example.com/close-hook", "events": [{"object_type": "lead", "action": "created"}]},
)
close_error("list_events", {"action": "created"}, BAD_REQUEST, "Unsupported combination of filters: action")
revoked_key("list_webhooks")
