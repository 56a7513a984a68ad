"""Sandbox routes for opportunities and tasks (including the bulk task update)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

from close_mcp.sandbox.http import Ctx, filter_by, json_response, one, page
from close_mcp.sandbox.ids import iso, now_utc
from close_mcp.sandbox.routes_leads import newest_first
from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo, SandboxError, apply_patch, validation_error
from close_mcp.sandbox.validate import (
    FieldErrors,
    check_choice,
    check_custom,
    check_date,
    check_reference,
    check_required,
    check_type,
    pick,
)
from close_mcp.sandbox.views import opportunity_view, task_view

OPP_FIELDS = {
    "lead_id",
    "status_id",
    "value",
    "value_period",
    "confidence",
    "note",
    "contact_id",
    "user_id",
    "date_won",
    "pipeline_id",
}
TASK_FIELDS = {"_type", "lead_id", "assigned_to", "text", "date", "is_complete", "contact_id"}
BULK_TASK_FIELDS = {"assigned_to", "date", "is_complete"}
BULK_UPDATE_LIMIT = 1000  # flask-mongorest default bulk cap (close-api.md §4)
_OPP_ORDER = {
    "date_won",
    "date_updated",
    "date_created",
    "confidence",
    "user_name",
    "value",
    "annualized_value",
    "annualized_expected_value",
}


def _order(items: list[Obj], order_by: str | None, allowed: set[str]) -> list[Obj]:
    if not order_by:
        return items
    key = order_by.lstrip("-")
    if key not in allowed:
        raise validation_error(
            {"_order_by": f"Not a valid choice. Valid choices: {', '.join(sorted(allowed))}."}
        )
    present = [o for o in items if o.get(key) is not None]
    missing = [o for o in items if o.get(key) is None]
    return sorted(present, key=lambda o: o[key], reverse=order_by.startswith("-")) + missing


# ----- opportunities -------------------------------------------------------------------
def _opportunity_aggregates(views: list[Obj]) -> Obj:
    agg: Obj = {"count_by_value_period": {"one_time": 0, "monthly": 0, "annual": 0}}
    for period in ("one_time", "monthly", "annual"):
        same = [v for v in views if v.get("value_period") == period]
        agg["count_by_value_period"][period] = len(same)
        agg[f"total_value_{period}"] = sum(v.get("value") or 0 for v in same)
        agg[f"expected_value_{period}"] = sum(v.get("expected_value") or 0 for v in same)
    agg["total_value_annualized"] = sum(v.get("annualized_value") or 0 for v in views)
    agg["expected_value_annualized"] = sum(v.get("annualized_expected_value") or 0 for v in views)
    return agg


def list_opportunities(ctx: Ctx) -> Response:
    store = ctx.store
    views = [opportunity_view(store, o) for o in newest_first(store.opportunities)]
    views = filter_by(
        views,
        ctx.params,
        [
            "lead_id",
            "user_id",
            "status_id",
            "status_label",
            "status_type",
            "value_period",
            "date_won",
            "date_created",
            "date_updated",
            "contact_id",
            "pipeline_id",
        ],
    )
    views = _order(views, ctx.params.get("_order_by"), _OPP_ORDER)
    return page(ctx, views, lambda _s, v: v, extra=_opportunity_aggregates(views))


def _check_opportunity(errs: FieldErrors, store: OrgStore, body: Obj) -> None:
    check_type(errs, body, "value", int, "integer (the value in cents)")
    check_choice(errs, body, "value_period", {"one_time", "monthly", "annual"})
    check_type(errs, body, "confidence", int, "integer")
    if isinstance(body.get("confidence"), int) and not 0 <= body["confidence"] <= 100:
        errs.add("confidence", "Must be between 0 and 100.")
    check_type(errs, body, "note", str, "string")
    check_date(errs, body, "date_won")
    check_reference(errs, store, body, "lead_id", "leads")
    check_reference(errs, store, body, "contact_id", "contacts")
    check_reference(errs, store, body, "user_id", "users")
    if body.get("status_id") is not None and body["status_id"] not in store.opportunity_statuses():
        errs.add("status", "Object does not exist.")
    check_custom(errs, store, "opportunity", body)


def _status_moved(store: OrgStore, info: RequestInfo, opp: Obj, old_status: str | None) -> None:
    """A status change records an OpportunityStatusChange activity; a won status sets date_won."""
    statuses = store.opportunity_statuses()
    new = statuses[opp["status_id"]]
    if new["type"] == "won" and not opp.get("date_won"):
        opp["date_won"] = now_utc().date().isoformat()
    old = statuses.get(old_status or "", {})
    activity = {
        "id": store.ids.new("acti"),
        "_type": "OpportunityStatusChange",
        "lead_id": opp["lead_id"],
        "contact_id": None,
        "user_id": info.user_id,
        "users": [],
        "opportunity_id": opp["id"],
        "old_status_id": old.get("id"),
        "old_status_label": old.get("label"),
        "new_status_id": new["id"],
        "new_status_label": new["label"],
        "activity_at": iso(now_utc()),
    }
    store.activities[activity["id"]] = store.stamp_new(activity, info)


def create_opportunity(ctx: Ctx) -> Response:
    store, errs = ctx.store, FieldErrors()
    body = pick(ctx.body, OPP_FIELDS)
    _check_opportunity(errs, store, body)
    errs.raise_if_any()
    body.pop("pipeline_id", None)
    if body.get("lead_id") is None:  # Close creates an "Untitled" lead (close-api.md §6)
        lead = {
            "id": store.ids.new("lead"),
            "name": "Untitled",
            "description": "",
            "url": None,
            "status_id": next(iter(store.lead_statuses)),
            "addresses": [],
            "integration_links": [],
            "source": None,
        }
        store.leads[lead["id"]] = store.stamp_new(lead, ctx.info)
        store.emit("lead", "created", lead, ctx.info)
        body["lead_id"] = lead["id"]
    first_pipeline = next(iter(store.pipelines.values()))
    opp = {
        "id": store.ids.new("oppo"),
        "status_id": first_pipeline["statuses"][0]["id"],
        "value": None,
        "value_period": "one_time",
        "confidence": 0,
        "note": "",
        "contact_id": None,
        "user_id": ctx.info.user_id,
        "date_won": None,
        **body,
    }
    store.opportunities[opp["id"]] = store.stamp_new(opp, ctx.info)
    _status_moved(store, ctx.info, opp, None)
    store.emit("opportunity", "created", opp, ctx.info)
    return one(ctx, opportunity_view(store, opp))


def get_opportunity(ctx: Ctx) -> Response:
    return one(ctx, opportunity_view(ctx.store, ctx.store.get("opportunities", ctx.path_id, "Opportunity")))


def update_opportunity(ctx: Ctx) -> Response:
    store, errs = ctx.store, FieldErrors()
    opp = store.get("opportunities", ctx.path_id, "Opportunity")
    body = pick(ctx.body, OPP_FIELDS)
    _check_opportunity(errs, store, body)
    errs.raise_if_any()
    body.pop("pipeline_id", None)
    old_status = opp["status_id"]
    previous, changed = apply_patch(opp, body)
    if "status_id" in changed:
        _status_moved(store, ctx.info, opp, old_status)
    if changed:
        store.stamp_update(opp, ctx.info)
        store.emit("opportunity", "updated", opp, ctx.info, previous=previous, changed=changed)
    return one(ctx, opportunity_view(store, opp))


def delete_opportunity(ctx: Ctx) -> Response:
    opp = ctx.store.get("opportunities", ctx.path_id, "Opportunity")
    del ctx.store.opportunities[opp["id"]]
    ctx.store.emit("opportunity", "deleted", opp, ctx.info, previous=opp)
    return json_response({})


# ----- tasks ---------------------------------------------------------------------------
def matching_tasks(store: OrgStore, params: Mapping[str, str]) -> list[Obj]:
    """``/task/`` filters; without ``_type`` only ``lead`` tasks are returned (close-api.md §3.3)."""
    views = [task_view(store, t) for t in store.tasks.values()]
    if params.get("_type") == "all":
        params = {k: v for k, v in params.items() if k != "_type"}
    elif "_type" not in params and "_type__in" not in params:
        views = [v for v in views if v["_type"] == "lead"]
    views = filter_by(
        views,
        params,
        [
            "id",
            "_type",
            "lead_id",
            "assigned_to",
            "is_complete",
            "view",
            "date",
            "date_created",
            "date_updated",
            "contact_id",
        ],
    )
    order = params.get("_order_by") or "date"
    return _order(views, order, {"date", "date_created"})


def list_tasks(ctx: Ctx) -> Response:
    return page(ctx, matching_tasks(ctx.store, ctx.params), lambda _s, v: v)


def _check_task(errs: FieldErrors, store: OrgStore, body: Obj) -> None:
    check_choice(errs, body, "_type", {"lead", "outgoing_call"})
    check_reference(errs, store, body, "lead_id", "leads")
    check_reference(errs, store, body, "contact_id", "contacts")
    if body.get("assigned_to") is not None and body["assigned_to"] not in store.users:
        errs.add("assigned_to", "Object does not exist.")
    check_type(errs, body, "text", str, "string")
    check_type(errs, body, "is_complete", bool, "boolean")
    check_date(errs, body, "date")


def _task_completed(store: OrgStore, info: RequestInfo, task: Obj) -> None:
    store.emit("task", "completed", task, info, changed=["is_complete"])
    activity = {
        "id": store.ids.new("acti"),
        "_type": "TaskCompleted",
        "lead_id": task["lead_id"],
        "contact_id": task.get("contact_id"),
        "user_id": info.user_id,
        "users": [],
        "task_id": task["id"],
        "task_text": task.get("text"),
        "activity_at": iso(now_utc()),
    }
    store.activities[activity["id"]] = store.stamp_new(activity, info)


def create_task(ctx: Ctx) -> Response:
    store, errs = ctx.store, FieldErrors()
    body = pick(ctx.body, TASK_FIELDS)
    check_required(errs, body, "lead_id")
    _check_task(errs, store, body)
    errs.raise_if_any()
    task = {
        "id": store.ids.new("task"),
        "_type": "lead",
        "assigned_to": ctx.info.user_id,
        "text": "",
        "date": None,
        "is_complete": False,
        "contact_id": None,
        "object_type": None,
        "object_id": None,
        "priority": None,
        "resolution": None,
        **body,
    }
    store.tasks[task["id"]] = store.stamp_new(task, ctx.info)
    store.emit("task", "created", task, ctx.info)
    if task["is_complete"]:
        _task_completed(store, ctx.info, task)
    return one(ctx, task_view(store, task))


def get_task(ctx: Ctx) -> Response:
    return one(ctx, task_view(ctx.store, ctx.store.get("tasks", ctx.path_id, "Task")))


def _update_one_task(store: OrgStore, info: RequestInfo, task: Obj, body: Obj) -> None:
    was_complete = task.get("is_complete")
    previous, changed = apply_patch(task, body)
    if changed:
        store.stamp_update(task, info)
        store.emit("task", "updated", task, info, previous=previous, changed=changed)
    if task.get("is_complete") and not was_complete:
        _task_completed(store, info, task)


def update_task(ctx: Ctx) -> Response:
    store, errs = ctx.store, FieldErrors()
    task = store.get("tasks", ctx.path_id, "Task")
    body = pick(ctx.body, {"assigned_to", "date", "is_complete", "text"})
    if "text" in body and task["_type"] != "lead":
        errs.add("text", "Only lead tasks have editable text.")
    _check_task(errs, store, body)
    errs.raise_if_any()
    _update_one_task(store, ctx.info, task, body)
    return one(ctx, task_view(store, task))


def bulk_update_tasks(ctx: Ctx) -> Response:
    """``PUT /task/``: filters from the query string or the body's ``_params``; the body may
    set only ``assigned_to``, ``date`` and ``is_complete`` (close-api.md §6)."""
    store, errs = ctx.store, FieldErrors()
    unknown = sorted(k for k in ctx.body if k not in BULK_TASK_FIELDS and k != "_params")
    for name in unknown:
        errs.add(name, "This field cannot be bulk-updated; allowed: assigned_to, date, is_complete.")
    body = pick(ctx.body, BULK_TASK_FIELDS)
    _check_task(errs, store, body)
    errs.raise_if_any()
    targets = matching_tasks(store, ctx.params)
    if len(targets) > BULK_UPDATE_LIMIT:
        raise SandboxError(400, {"errors": ["It's not allowed to update more than 1000 objects at once"]})
    for view in targets:
        _update_one_task(store, ctx.info, store.tasks[view["id"]], dict(body))
    return json_response(
        {"ok": True}
    )  # documented example body (close-api.md §6, conflicting with {"count"})


def delete_task(ctx: Ctx) -> Response:
    task = ctx.store.get("tasks", ctx.path_id, "Task")
    del ctx.store.tasks[task["id"]]
    ctx.store.emit("task", "deleted", task, ctx.info, previous=task)
    return json_response({})


ROUTES = [
    ("/opportunity/", {"GET": list_opportunities, "POST": create_opportunity}),
    ("/opportunity/{id}/", {"GET": get_opportunity, "PUT": update_opportunity, "DELETE": delete_opportunity}),
    ("/task/", {"GET": list_tasks, "POST": create_task, "PUT": bulk_update_tasks}),
    ("/task/{id}/", {"GET": get_task, "PUT": update_task, "DELETE": delete_task}),
]
