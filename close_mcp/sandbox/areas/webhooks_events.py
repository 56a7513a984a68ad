"""Webhook subscriptions and the Event Log (tool manifest ``webhooks_events``).

Delivery of events to subscriptions is not here: the sandbox (``app.py``) submits every emitted event to
its :class:`~close_mcp.sandbox.webhook_delivery.WebhookDispatcher`; these hooks validate subscriptions
with the dispatcher's rules and tell it about updates and deletions.
"""

from __future__ import annotations

import secrets

from close_mcp.sandbox.engine import Ctx, Field, Hooks, Resource, choice
from close_mcp.sandbox.store import Obj, validation_error
from close_mcp.sandbox.validate import FieldErrors
from close_mcp.sandbox.webhook_delivery import WebhookDispatcher, check_webhook_url, validate_events

MAX_WEBHOOKS = 40  # per organization (close-api.md §6)
EVENT_FILTERS = ("object_type", "object_id", "action", "lead_id", "user_id", "request_id")
# Allowed filter combinations on /event/ (each may add date_updated__*), close-api.md §2.2.
EVENT_FILTER_SETS = {
    frozenset(s.split()) for s in ("", "object_type object_id", "object_type action", "object_id action")
} | {
    frozenset(s.split())
    for s in (
        "lead_id object_type",
        "lead_id object_type action",
        "lead_id user_id object_type",
        "lead_id user_id object_type action",
        "lead_id user_id",
        "user_id object_id",
        "user_id object_id action",
        "user_id object_type",
        "user_id object_type action",
        "lead_id",
        "user_id",
        "request_id",
    )
}


def _dispatcher(ctx: Ctx) -> WebhookDispatcher | None:
    """The sandbox's webhook dispatcher (``app.state.webhooks``), if this write came over HTTP."""
    if ctx.request is None:
        return None
    return getattr(ctx.request.app.state, "webhooks", None)


def _check_webhook(ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    """``url``: https, or http to loopback when the sandbox allows it; ``events``: ``validate_events``."""
    if "url" in body:
        dispatcher = _dispatcher(ctx)
        loopback = dispatcher is not None and dispatcher.policy.allow_loopback_http
        if problem := check_webhook_url(body["url"], loopback):
            errs.add("url", problem)
    if "events" in body:
        for key, message in validate_events(body["events"]).items():
            errs.add(key, message)


def _updated(ctx: Ctx, hook: Obj, _previous: Obj, _changed: list[str]) -> None:
    if (dispatcher := _dispatcher(ctx)) is not None:
        dispatcher.update(hook)  # a pause or a new URL takes effect at once


def _deleted(ctx: Ctx, hook: Obj) -> None:
    if (dispatcher := _dispatcher(ctx)) is not None:
        dispatcher.remove(hook["id"])


def _at_most_40(ctx: Ctx, _body: Obj, existing: Obj | None) -> None:
    if existing is None and len(ctx.store.webhooks) >= MAX_WEBHOOKS:
        raise validation_error(
            errors=[f"Organization has reached the maximum of {MAX_WEBHOOKS} webhook subscriptions."]
        )


def _paused(_ctx: Ctx, hook: Obj, _previous: Obj, _changed: list[str]) -> None:
    hook["pause_reason"] = "api" if hook["status"] == "paused" else None


WEBHOOK = Resource(
    "webhook",
    "WebhookSubscription",
    "/webhook/",
    "whsub",
    fields=(
        Field("url", required=True),
        Field("events", required=True),
        Field("verify_ssl", "bool", default=True),
        Field("status", choices=choice("active", "paused"), writable="update", default="active"),
        *Field.many("pause_reason latest_error", writable="never", default=None),
        Field("health_status", writable="never", default="healthy"),
        Field("recent_consecutive_fail_buckets_cnt", writable="never", default=0),
        Field("counters", writable="never", default={}),
        Field("signature_key", writable="never", default=lambda _ctx: secrets.token_hex(32)),
    ),
    admin_ops=("create",),
    events=(),
    default_order=None,
    create_status=201,  # close-api.md §4
    hooks=Hooks(
        validate=_check_webhook,
        prepare=_at_most_40,
        inserted=lambda _ctx, hook: hook.pop("organization_id", None),
        changed=_paused,
        after_update=_updated,
        after_delete=_deleted,
    ),
)


def _event_params(_ctx: Ctx, params: dict[str, str]) -> dict[str, str]:
    used = frozenset(k for k in params if k in EVENT_FILTERS)
    if used not in EVENT_FILTER_SETS:
        raise validation_error(
            errors=[
                "Unsupported combination of filters: "
                + ", ".join(sorted(used))
                + ". Allowed: object_type+object_id, object_type+action, object_id+action, lead_id[+user_id]"
                "[+object_type[+action]], user_id[+object_id|object_type[+action]], request_id."
            ]
        )
    return params


EVENT = Resource(
    "event",
    "Event",
    "/event/",
    "ev",
    ops=("list", "get"),
    source=lambda store: store.live_events(),  # newest first, 30-day retention
    filters=(*EVENT_FILTERS, "date_updated"),
    default_order=None,
    pagination="cursor",
    max_limit=50,  # default and cap (close-api.md §2.2)
    hooks=Hooks(params=_event_params),
)
RESOURCES = (WEBHOOK, EVENT)
