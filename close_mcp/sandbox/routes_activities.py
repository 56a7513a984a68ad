"""Sandbox routes for activities: the combined feed and the note / call / email endpoints."""

from __future__ import annotations

import re

from starlette.responses import Response

from close_mcp.sandbox.http import Ctx, filter_by, json_response, one, page
from close_mcp.sandbox.ids import iso, now_utc
from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo, SandboxError, apply_patch
from close_mcp.sandbox.validate import (
    FieldErrors,
    check_choice,
    check_date,
    check_reference,
    check_required,
    check_type,
    pick,
)
from close_mcp.sandbox.views import activity_view

EMAIL_STATUSES = {"inbox", "draft", "scheduled", "outbox", "sent", "error"}
CALL_STATUSES = {"created", "in-progress", "completed", "cancel", "no-answer", "busy", "failed", "timeout"}
DISPOSITIONS = {"answered", "no-answer", "vm-answer", "vm-left", "busy", "blocked", "error", "abandoned"}
EMAIL_MAX_SKIP = 250_000  # observed live (close-api.md §2.1)

COMMON = {"lead_id", "contact_id", "user_id", "activity_at"}
KINDS: dict[str, tuple[str, set[str]]] = {
    "note": ("Note", COMMON | {"note", "note_html", "title", "pinned"}),
    "call": (
        "Call",
        COMMON
        | {
            "direction",
            "status",
            "duration",
            "phone",
            "disposition",
            "note",
            "note_html",
            "recording_url",
            "outcome_id",
        },
    ),
    "email": (
        "Email",
        COMMON
        | {
            "status",
            "sender",
            "to",
            "cc",
            "bcc",
            "subject",
            "body_text",
            "body_html",
            "template_id",
            "date_scheduled",
            "followup_date",
            "send_in",
        },
    ),
}


def newest_activity_first(store: OrgStore) -> list[Obj]:
    return sorted(
        store.activities.values(), key=lambda a: a.get("activity_at") or a["date_created"], reverse=True
    )


def list_activities(ctx: Ctx) -> Response:
    """``GET /activity/``. ``user_id``/``contact_id``/``_type`` filters apply only together with
    one ``lead_id``; without it they are silently ignored, as observed live (close-api.md §3.3)."""
    params = dict(ctx.params)
    if not params.get("lead_id") or "," in params.get("lead_id", ""):
        for key in [k for k in params if k.split("__")[0] in ("user_id", "contact_id", "_type")]:
            params.pop(key)
    items = filter_by(
        newest_activity_first(ctx.store),
        params,
        ["id", "lead_id", "contact_id", "user_id", "_type", "date_created", "activity_at"],
    )
    return page(ctx, items, activity_view, total=False)


def _strip_html(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def _validate(kind: str, errs: FieldErrors, store: OrgStore, body: Obj, creating: bool) -> None:
    if creating:
        check_required(errs, body, "lead_id")
    check_reference(errs, store, body, "lead_id", "leads")
    check_reference(errs, store, body, "contact_id", "contacts")
    check_reference(errs, store, body, "user_id", "users")
    check_date(errs, body, "activity_at")
    if kind == "note":
        check_type(errs, body, "note", str, "string")
        check_type(errs, body, "note_html", str, "string")
    elif kind == "call":
        check_choice(errs, body, "direction", {"inbound", "outbound"})
        check_choice(errs, body, "status", CALL_STATUSES)
        check_choice(errs, body, "disposition", DISPOSITIONS)
        check_type(errs, body, "duration", int, "integer")
        if body.get("recording_url") and not str(body["recording_url"]).startswith("https://"):
            errs.add("recording_url", "Must be an https URL.")
    else:
        if creating:
            check_required(errs, body, "status")
        check_choice(errs, body, "status", EMAIL_STATUSES)
        if body.get("status") in {"inbox", "scheduled", "outbox", "error"} and not body.get("sender"):
            errs.add("sender", "This field is required for this status.")
        if body.get("status") == "scheduled" and not body.get("date_scheduled"):
            errs.add("date_scheduled", "This field is required for scheduled emails.")
        for name in ("to", "cc", "bcc"):
            check_type(errs, body, name, list, "list of email addresses")
        check_date(errs, body, "date_scheduled")


def _send_email(store: OrgStore, info: RequestInfo, email: Obj) -> None:
    """``outbox`` really sends: the sandbox delivers at once and fires ``activity.email.sent``."""
    email.update(status="sent", date_sent=iso(now_utc()), direction="outgoing")
    store.emit("activity.email", "sent", email, info)


def create_activity(kind: str) -> object:
    type_name, allowed = KINDS[kind]

    def handler(ctx: Ctx) -> Response:
        store, errs = ctx.store, FieldErrors()
        body = pick(ctx.body, allowed)
        _validate(kind, errs, store, body, creating=True)
        errs.raise_if_any()
        body = {k: v for k, v in body.items() if not k.startswith("custom.")}
        activity: Obj = {
            "id": store.ids.new("acti"),
            "_type": type_name,
            "contact_id": None,
            "user_id": ctx.info.user_id,
            "users": [],
            "activity_at": iso(now_utc()),
            **body,
        }
        if kind == "note" and "note_html" in body:
            activity["note"] = _strip_html(body["note_html"])
        if kind == "call":
            activity.setdefault("status", "completed")
            activity.setdefault("direction", "outbound")
            activity["source"] = "External"
        if kind == "email":
            activity.setdefault("direction", "incoming" if body.get("status") == "inbox" else "outgoing")
            activity.setdefault("thread_id", store.ids.new("acti"))
            for name in ("to", "cc", "bcc", "attachments"):
                activity.setdefault(name, [])
            activity["body_preview"] = (
                activity.get("body_text") or _strip_html(activity.get("body_html") or "")
            )[:120]
        store.activities[activity["id"]] = store.stamp_new(activity, ctx.info)
        store.emit(f"activity.{kind}", "created", activity, ctx.info)
        if kind == "email" and activity["status"] == "outbox":
            _send_email(store, ctx.info, activity)
        return one(ctx, activity_view(store, activity))

    return handler


def _typed(ctx: Ctx, kind: str) -> Obj:
    activity = ctx.store.activities.get(ctx.path_id)
    if activity is None or activity["_type"] != KINDS[kind][0]:
        raise SandboxError(404, {"error": f"Empty query: {KINDS[kind][0]} matching query does not exist."})
    return activity


def list_typed(kind: str) -> object:
    def handler(ctx: Ctx) -> Response:
        items = [a for a in newest_activity_first(ctx.store) if a["_type"] == KINDS[kind][0]]
        items = filter_by(items, ctx.params, ["lead_id", "user_id", "date_created"])
        return page(
            ctx, items, activity_view, total=False, max_skip=EMAIL_MAX_SKIP if kind == "email" else 250_000
        )

    return handler


def get_typed(kind: str) -> object:
    def handler(ctx: Ctx) -> Response:
        return one(ctx, activity_view(ctx.store, _typed(ctx, kind)))

    return handler


def update_typed(kind: str) -> object:
    def handler(ctx: Ctx) -> Response:
        store, errs = ctx.store, FieldErrors()
        activity = _typed(ctx, kind)
        body = pick(ctx.body, KINDS[kind][1] - {"lead_id"})
        body = {k: v for k, v in body.items() if not k.startswith("custom.")}
        _validate(kind, errs, store, body, creating=False)
        if kind == "email" and activity["status"] not in ("draft", "scheduled", "outbox"):
            errs.add("status", "Only draft, scheduled or unsent outbox emails can be edited.")
        errs.raise_if_any()
        previous, changed = apply_patch(activity, body)
        if changed:
            store.stamp_update(activity, ctx.info)
            store.emit(f"activity.{kind}", "updated", activity, ctx.info, previous=previous, changed=changed)
        if kind == "email" and "status" in changed and activity["status"] == "outbox":
            _send_email(store, ctx.info, activity)
        return one(ctx, activity_view(store, activity))

    return handler


def delete_typed(kind: str) -> object:
    def handler(ctx: Ctx) -> Response:
        activity = _typed(ctx, kind)
        del ctx.store.activities[activity["id"]]
        ctx.store.emit(f"activity.{kind}", "deleted", activity, ctx.info, previous=activity)
        return json_response({})

    return handler


ROUTES = [("/activity/", {"GET": list_activities})]
for _kind in KINDS:
    ROUTES.append((f"/activity/{_kind}/", {"GET": list_typed(_kind), "POST": create_activity(_kind)}))
    ROUTES.append(
        (
            f"/activity/{_kind}/{{id}}/",
            {"GET": get_typed(_kind), "PUT": update_typed(_kind), "DELETE": delete_typed(_kind)},
        )
    )
