"""Sandbox routes for configuration objects: custom fields, users, the organization,
statuses and pipelines, webhook subscriptions and the Event Log."""

from __future__ import annotations

import base64
import binascii
import json
import secrets

from starlette.responses import Response

from close_mcp.sandbox.http import Ctx, filter_by, json_response, one, page, select_fields
from close_mcp.sandbox.store import MAX_WEBHOOKS, Obj, SandboxError, apply_patch, validation_error
from close_mcp.sandbox.validate import FieldErrors, check_choice, check_required, check_type, pick
from close_mcp.sandbox.views import organization_view, user_view

CF_TYPES = {"text", "number", "date", "datetime", "choices", "user", "contact", "hidden"}
CF_FIELDS = {"name", "type", "choices", "accepts_multiple_values", "description", "editable_with_roles"}
ADMIN_ROLES = {"admin"}
EVENT_MAX_LIMIT = 50
WEBHOOK_FIELDS = {"url", "events", "verify_ssl", "status"}
# Allowed filter combinations on /event/ (each may add date_updated__*), close-api.md §2.2.
EVENT_FILTER_SETS = [
    frozenset(s)
    for s in (
        (),
        ("object_type", "object_id"),
        ("object_type", "action"),
        ("object_id", "action"),
        ("lead_id", "object_type"),
        ("lead_id", "object_type", "action"),
        ("lead_id", "user_id", "object_type"),
        ("lead_id", "user_id", "object_type", "action"),
        ("lead_id", "user_id"),
        ("user_id", "object_id"),
        ("user_id", "object_id", "action"),
        ("user_id", "object_type"),
        ("user_id", "object_type", "action"),
        ("lead_id",),
        ("user_id",),
        ("request_id",),
    )
]
EVENT_FILTERS = {"object_type", "object_id", "action", "lead_id", "user_id", "request_id"}


def _require_admin(ctx: Ctx) -> None:
    """Only users who can manage the organization may change its schema or settings."""
    if ctx.store.users[ctx.info.user_id]["role_id"] not in ADMIN_ROLES:
        raise SandboxError(403, {"error": "You don't have permission to manage this organization."})


# ----- custom fields -------------------------------------------------------------------
def cf_routes(kind: str) -> list[tuple[str, dict[str, object]]]:
    def list_fields(ctx: Ctx) -> Response:
        return page(ctx, list(ctx.store.custom_fields[kind].values()), lambda _s, o: o, total=False)

    def check(errs: FieldErrors, body: Obj, creating: bool) -> None:
        if creating:
            check_required(errs, body, "name", "type")
        check_type(errs, body, "name", str, "string")
        check_choice(errs, body, "type", CF_TYPES)
        if body.get("type") == "choices" and not body.get("choices"):
            errs.add("choices", "This field is required for choices fields.")
        check_type(errs, body, "choices", list, "list")
        if body.get("accepts_multiple_values") and body.get("type") not in ("choices", "user", "contact"):
            errs.add(
                "accepts_multiple_values", "Only user, choices and contact fields accept multiple values."
            )
        if isinstance(body.get("description"), str) and len(body["description"]) > 280:
            errs.add("description", "Ensure this field has no more than 280 characters.")

    def create_field(ctx: Ctx) -> Response:
        _require_admin(ctx)
        errs, body = FieldErrors(), pick(ctx.body, CF_FIELDS)
        body = {k: v for k, v in body.items() if not k.startswith("custom.")}
        check(errs, body, creating=True)
        errs.raise_if_any()
        cf = {
            "id": ctx.store.ids.new("cf"),
            "description": None,
            "choices": None,
            "accepts_multiple_values": False,
            "editable_with_roles": [],
            "referenced_custom_type_id": None,
            "back_reference_is_visible": False,
            **body,
        }
        ctx.store.custom_fields[kind][cf["id"]] = ctx.store.stamp_new(cf, ctx.info)
        return one(ctx, cf)

    def get_field(ctx: Ctx) -> Response:
        return one(ctx, ctx.store.get_custom_field(kind, ctx.path_id))

    def update_field(ctx: Ctx) -> Response:
        _require_admin(ctx)
        cf = ctx.store.get_custom_field(kind, ctx.path_id)
        errs, body = FieldErrors(), pick(ctx.body, CF_FIELDS)
        body = {k: v for k, v in body.items() if not k.startswith("custom.")}
        check(errs, {**cf, **body}, creating=False)
        errs.raise_if_any()
        if apply_patch(cf, body)[1]:
            ctx.store.stamp_update(cf, ctx.info)
        return one(ctx, cf)

    def delete_field(ctx: Ctx) -> Response:
        _require_admin(ctx)
        cf = ctx.store.get_custom_field(kind, ctx.path_id)
        del ctx.store.custom_fields[kind][cf["id"]]
        for obj in getattr(
            ctx.store, {"lead": "leads", "contact": "contacts", "opportunity": "opportunities"}[kind]
        ).values():
            obj.pop(f"custom.{cf['id']}", None)
        return json_response({})

    return [
        (f"/custom_field/{kind}/", {"GET": list_fields, "POST": create_field}),
        (f"/custom_field/{kind}/{{id}}/", {"GET": get_field, "PUT": update_field, "DELETE": delete_field}),
    ]


# ----- users & organization ------------------------------------------------------------
def me(ctx: Ctx) -> Response:
    user = user_view(ctx.store, ctx.store.users[ctx.info.user_id])
    org = ctx.store.org
    user.update(
        organizations=[{"id": org["id"], "name": org["name"]}],
        memberships=[
            {
                "id": user["membership_id"],
                "organization_id": org["id"],
                "user_id": user["id"],
                "role_id": user["role_id"],
                "permissions_granted": [],
            }
        ],
        email_accounts=[],
        phone_numbers=[],
    )
    return one(ctx, user)


def list_users(ctx: Ctx) -> Response:
    order = ctx.params.get("_order_by")
    users = list(ctx.store.users.values())
    if order in ("last_name,first_name", "first_name,last_name"):
        keys = order.split(",")
        users.sort(key=lambda u: tuple(u[k] for k in keys))
    return page(ctx, users, user_view, total=False)


def get_user(ctx: Ctx) -> Response:
    return one(ctx, user_view(ctx.store, ctx.store.get("users", ctx.path_id, "User")))


def _org(ctx: Ctx) -> Obj:
    if ctx.path_id != ctx.store.org["id"]:
        raise SandboxError(404, {"error": "Empty query: Organization matching query does not exist."})
    return ctx.store.org


def get_organization(ctx: Ctx) -> Response:
    _org(ctx)
    return one(ctx, organization_view(ctx.store))


def update_organization(ctx: Ctx) -> Response:
    org = _org(ctx)
    _require_admin(ctx)
    errs, body = FieldErrors(), pick(ctx.body, {"name", "currency"})
    body = {k: v for k, v in body.items() if not k.startswith("custom.")}
    check_type(errs, body, "name", str, "string")
    if "name" in body and not body["name"]:
        errs.add("name", "This field may not be blank.")
    check_choice(errs, body, "currency", {"USD", "EUR", "GBP", "CAD", "AUD"})
    errs.raise_if_any()
    if apply_patch(org, body)[1]:
        ctx.store.stamp_update(org, ctx.info)
        org["currency_symbol"] = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "$", "AUD": "$"}[org["currency"]]
    return one(ctx, organization_view(ctx.store))


def list_lead_statuses(ctx: Ctx) -> Response:
    return page(ctx, list(ctx.store.lead_statuses.values()), lambda _s, o: o, total=False)


def list_pipelines(ctx: Ctx) -> Response:
    return page(ctx, list(ctx.store.pipelines.values()), lambda _s, o: o, total=False)


# ----- webhooks ------------------------------------------------------------------------
def _check_webhook(errs: FieldErrors, body: Obj, creating: bool) -> None:
    if creating:
        check_required(errs, body, "url", "events")
    if "url" in body and not str(body["url"]).startswith("https://"):
        errs.add("url", "Must be an https URL.")
    if "events" in body:
        events = body["events"]
        if (
            not isinstance(events, list)
            or not events
            or not all(
                isinstance(e, dict)
                and isinstance(e.get("object_type"), str)
                and isinstance(e.get("action"), str)
                for e in events
            )
        ):
            errs.add("events", "Must be a non-empty list of {object_type, action} objects.")
    check_type(errs, body, "verify_ssl", bool, "boolean")
    check_choice(errs, body, "status", {"active", "paused"})


def list_webhooks(ctx: Ctx) -> Response:
    return page(ctx, list(ctx.store.webhooks.values()), lambda _s, o: o, total=False)


def create_webhook(ctx: Ctx) -> Response:
    _require_admin(ctx)
    errs, body = FieldErrors(), pick(ctx.body, WEBHOOK_FIELDS - {"status"})
    _check_webhook(errs, body, creating=True)
    errs.raise_if_any()
    if len(ctx.store.webhooks) >= MAX_WEBHOOKS:
        raise validation_error(
            errors=[f"Organization has reached the maximum of {MAX_WEBHOOKS} webhook subscriptions."]
        )
    hook = {
        "id": ctx.store.ids.new("whsub"),
        "verify_ssl": True,
        "status": "active",
        "pause_reason": None,
        "health_status": "healthy",
        "latest_error": None,
        "recent_consecutive_fail_buckets_cnt": 0,
        "counters": {},
        "signature_key": secrets.token_hex(32),
        **body,
    }
    ctx.store.webhooks[hook["id"]] = ctx.store.stamp_new(hook, ctx.info)
    hook.pop("organization_id", None)
    return one(ctx, hook, status=201)


def get_webhook(ctx: Ctx) -> Response:
    return one(ctx, ctx.store.get("webhooks", ctx.path_id, "WebhookSubscription"))


def update_webhook(ctx: Ctx) -> Response:
    hook = ctx.store.get("webhooks", ctx.path_id, "WebhookSubscription")
    errs, body = FieldErrors(), pick(ctx.body, WEBHOOK_FIELDS)
    _check_webhook(errs, body, creating=False)
    errs.raise_if_any()
    if apply_patch(hook, body)[1]:
        ctx.store.stamp_update(hook, ctx.info)
        hook["pause_reason"] = "api" if hook["status"] == "paused" else None
    return one(ctx, hook)


def delete_webhook(ctx: Ctx) -> Response:
    hook = ctx.store.get("webhooks", ctx.path_id, "WebhookSubscription")
    del ctx.store.webhooks[hook["id"]]
    return json_response({})


# ----- event log -----------------------------------------------------------------------
def _encode_cursor(direction: str, event_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([direction, event_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        direction, event_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        assert direction in ("n", "p") and isinstance(event_id, str)
    except (ValueError, AssertionError, TypeError, binascii.Error):
        raise validation_error({"_cursor": "Invalid cursor."}) from None
    return direction, event_id


def list_events(ctx: Ctx) -> Response:
    """``GET /event/``: newest first, cursor pagination, ``_limit`` capped at 50."""
    used = frozenset(k for k in ctx.params if k in EVENT_FILTERS)
    if used not in EVENT_FILTER_SETS:
        raise validation_error(
            errors=[
                "Unsupported combination of filters: "
                + ", ".join(sorted(used))
                + ". Allowed: object_type+object_id, object_type+action, object_id+action, lead_id[+user_id]"
                "[+object_type[+action]], user_id[+object_id|object_type[+action]], request_id."
            ]
        )
    try:
        limit = min(int(ctx.params.get("_limit") or EVENT_MAX_LIMIT), EVENT_MAX_LIMIT)
    except ValueError:
        raise SandboxError(400, {"error": "_limit must be an integer"}) from None
    events = filter_by(ctx.store.live_events(), ctx.params, [*sorted(EVENT_FILTERS), "date_updated"])
    start = 0
    if ctx.params.get("_cursor"):
        direction, anchor = _decode_cursor(ctx.params["_cursor"])
        position = next((i for i, e in enumerate(events) if e["id"] == anchor), None)
        if position is None:
            raise validation_error({"_cursor": "Cursor expired or does not match these filters."})
        start = position + 1 if direction == "n" else max(0, position - limit)
        if direction == "p":
            limit = position - start
    window = events[start : start + max(limit, 0)]
    fields = ctx.params.get("_fields")
    return json_response(
        {
            "data": [select_fields(e, fields) for e in window],
            "cursor_next": _encode_cursor("n", window[-1]["id"])
            if window and start + len(window) < len(events)
            else None,
            # Guess: a non-empty page always offers cursor_previous, so a client can poll for newer events.
            "cursor_previous": _encode_cursor("p", window[0]["id"]) if window else None,
        }
    )


def get_event(ctx: Ctx) -> Response:
    event = next((e for e in ctx.store.live_events() if e["id"] == ctx.path_id), None)
    if event is None:
        raise SandboxError(404, {"error": "Empty query: Event matching query does not exist."})
    return one(ctx, event)


ROUTES = [
    *cf_routes("lead"),
    *cf_routes("contact"),
    *cf_routes("opportunity"),
    ("/me/", {"GET": me}),
    ("/user/", {"GET": list_users}),
    ("/user/{id}/", {"GET": get_user}),
    ("/organization/{id}/", {"GET": get_organization, "PUT": update_organization}),
    ("/status/lead/", {"GET": list_lead_statuses}),
    ("/pipeline/", {"GET": list_pipelines}),
    ("/webhook/", {"GET": list_webhooks, "POST": create_webhook}),
    ("/webhook/{id}/", {"GET": get_webhook, "PUT": update_webhook, "DELETE": delete_webhook}),
    ("/event/", {"GET": list_events}),
    ("/event/{id}/", {"GET": get_event}),
]
