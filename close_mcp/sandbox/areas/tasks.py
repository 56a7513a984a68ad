"""Tasks, with completion activities and the bulk update (tool manifest ``tasks``)."""

from __future__ import annotations

import copy
from datetime import date, timedelta

from starlette.responses import Response

from close_mcp.sandbox.areas.common import current_user
from close_mcp.sandbox.engine import (
    Ctx,
    Field,
    Hooks,
    Parent,
    Resource,
    Route,
    choice,
    json_response,
    names,
    write,
)
from close_mcp.sandbox.engine.handlers import matching
from close_mcp.sandbox.seeding import LeadSeed, SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore, SandboxError
from close_mcp.sandbox.validate import FieldErrors

BULK_FIELDS = ("assigned_to", "date", "is_complete")
BULK_UPDATE_LIMIT = 1000  # flask-mongorest default bulk cap (close-api.md §4)


def task_view(store: OrgStore, task: Obj) -> Obj:
    out = copy.deepcopy(task)
    due = (task.get("date") or "")[:10]
    view = (
        "archive"
        if task.get("is_complete")
        else ("future" if due and due > date.today().isoformat() else "inbox")
    )
    out.update(
        is_dateless=not task.get("date"),
        due_date=due or None,
        view=view,
    )
    return out


def _params(_ctx: Ctx, params: dict[str, str]) -> dict[str, str]:
    """Without ``_type`` only ``lead`` tasks are listed; ``_type=all`` lists every kind (close-api.md §3.3)."""
    if params.get("_type") == "all":
        return {k: v for k, v in params.items() if k != "_type"}
    if "_type" not in params and "_type__in" not in params:
        return {**params, "_type": "lead"}
    return params


def _check(_ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    if existing is not None and "text" in body and existing["_type"] != "lead":
        errs.add("text", "Only lead tasks have editable text.")


def _completed(ctx: Ctx, task: Obj) -> None:
    write.emit(ctx, TASK, "completed", task, changed=["is_complete"])
    activity = {"_type": "TaskCompleted", "lead_id": task["lead_id"], "contact_id": task.get("contact_id")}
    activity.update(task_id=task["id"], task_text=task.get("text"))
    write.insert(ctx, ctx.registry["activity"], activity, emit_event=False)


def _after_create(ctx: Ctx, task: Obj) -> None:
    if task["is_complete"]:
        _completed(ctx, task)


def _after_update(ctx: Ctx, task: Obj, previous: Obj, changed: list[str]) -> None:
    if "is_complete" in changed and task.get("is_complete") and not previous.get("is_complete"):
        _completed(ctx, task)


def bulk_update(ctx: Ctx) -> Response:
    """``PUT /task/``: filters from the query string or the body's ``_params``; the body may
    set only ``assigned_to``, ``date`` and ``is_complete`` (close-api.md §6)."""
    errs = FieldErrors()
    for name in sorted(k for k in ctx.body if k not in BULK_FIELDS and k != "_params"):
        errs.add(name, "This field cannot be bulk-updated; allowed: assigned_to, date, is_complete.")
    errs.raise_if_any()
    body = {k: v for k, v in ctx.body.items() if k in BULK_FIELDS}
    write.clean_body(ctx, TASK, body, {"_type": "lead"})  # validates; the same for every target
    targets = matching(ctx, TASK)
    if len(targets) > BULK_UPDATE_LIMIT:
        raise SandboxError(400, {"errors": ["It's not allowed to update more than 1000 objects at once"]})
    for view in targets:
        write.patch(ctx, TASK, ctx.store.tasks[view["id"]], dict(body))
    return json_response({"ok": True})  # documented example body (close-api.md §10.5, vs {"count"})


TASK = Resource(
    "task",
    "Task",
    "/task/",
    "task",
    fields=(
        Field("_type", choices=choice("lead", "outgoing_call"), writable="create", default="lead"),
        Field("lead_id", ref="lead", required=True, writable="create", named="lead_name"),
        Field(
            "assigned_to", ref="user", error_key="assigned_to", default=current_user, named="assigned_to_name"
        ),
        Field("text", "str", default=""),
        Field("date", "date", default=None),
        Field("is_complete", "bool", default=False),
        Field("contact_id", ref="contact", writable="create", default=None, named="contact_name"),
        *Field.many("object_type object_id priority resolution", writable="never", default=None),
    ),
    parent=Parent("lead", "lead_id"),
    events=("created", "updated", "deleted", "completed"),
    filters=names("id _type lead_id assigned_to is_complete view date date_created date_updated contact_id"),
    filter_views=True,  # view is derived
    order_by=("date", "date_created"),
    default_order="date",
    hooks=Hooks(
        view=task_view,
        params=_params,
        validate=_check,
        after_create=_after_create,
        after_update=_after_update,
    ),
    routes=(Route("/task/", "PUT", bulk_update),),
)
RESOURCES = (TASK,)

# ----- seed ----------------------------------------------------------------------------
TEXTS = ["Send proposal", "Follow up on demo", "Call back about pricing", "Share case study"]
TEXTS += ["Check in after trial"]


def seed_lead(sc: SeedCtx, one: LeadSeed) -> None:
    rng = sc.rng
    for _ in range(rng.choice([0, 1, 1, 2])):
        tid = sc.ids.new("task")
        due = (sc.now + timedelta(days=rng.randint(-10, 20))).date().isoformat()
        task = {"id": tid, "_type": "lead", "lead_id": one.lead["id"], "assigned_to": rng.choice(sc.user_ids)}
        task.update(text=rng.choice(TEXTS), date=due, is_complete=rng.random() < 0.25, contact_id=None)
        task.update(object_type=None, object_id=None, priority=None, resolution=None)
        sc.store.tasks[tid] = sc.stamp(task, one.created)
