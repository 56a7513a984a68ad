"""Bulk actions over an Advanced Filtering ``s_query``: edit, delete, email and sequence
subscription (tool manifest ``bulk_actions``).

A bulk action is a job. ``POST /bulk_action/<kind>/`` validates the body, selects the leads
(``results_limit`` caps them, ``sort`` orders them) and answers the job with ``status: created``.
The sandbox runs the job **one step per GET of the job** (``GET /bulk_action/<kind>/{id}/``):
created → processing → done; the effect is applied on the step into ``done`` (edit and delete
really change the leads matched at creation; email and sequence enrolment are recorded in the
store, in ``sandbox_outbox`` and ``sandbox_sequence_enrolments``, never sent). A paused job does
not advance: ``PUT /bulk_action/<kind>/{id}/`` with ``status: paused`` pauses it and ``status:
processing`` resumes it (close-api.md §9: "pause/resume via status"; the PUT method is a guess,
it is not among Close's listed operations).

Guesses, with sources: field names and status values from the OpenAPI schemas
``Bulk*Action`` / ``BulkActionStatus`` (../shared/reference/close-openapi.yml); the ``bulk_``
prefix from close-api.md §5.1 (import ids; bulk action ids unpublished); every POST answers 200
(close-api.md §4: not in the 201 list). Only lead-level edits are served (``set_lead_status``,
``set_custom_field``, ``clear_custom_field``); the other ``BulkEditActionType`` values are a 400.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta

from starlette.responses import Response

from close_mcp.sandbox.areas.bulk_select import select_leads
from close_mcp.sandbox.areas.reports_common import seed_stamp
from close_mcp.sandbox.engine import READ, Ctx, Field, Hooks, Resource, Route, choice, one, write
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore, SandboxError, validation_error
from close_mcp.sandbox.validate import FieldErrors

STATUSES = choice("created", "loading", "processing", "done", "paused", "resuming", "error")
EDIT_TYPES = ("set_lead_status", "set_custom_field", "clear_custom_field")
SEQUENCE_ACTIONS = choice("subscribe", "resume", "resume_finished", "pause", "reassign")
PREFERENCES = choice("lead", "contact", "all")
COMMON = (
    Field("s_query", "dict", writable="never"),
    Field("query", writable="never", default=None),  # the legacy text query; not accepted here
    Field("results_limit", "int", writable="never", default=None),
    Field("sort", "list", writable="never", default=[]),
    Field("send_done_email", "bool", writable="never", default=True),
    Field("status", choices=STATUSES, writable="never", default="created"),
    *Field.many("n_leads n_objects", "int", writable="never", default=0),
    *Field.many("n_leads_processed n_objects_processed", "int", writable="never", default=0),
)


def hide_private(_store: OrgStore, job: Obj) -> Obj:
    """Jobs keep the matched lead ids in ``_lead_ids``; Close does not show them."""
    return {k: copy.deepcopy(v) for k, v in job.items() if not k.startswith("_")}


def _kind(name: str, model: str, path: str, *extra: Field, filters: tuple[str, ...] = ()) -> Resource:
    return Resource(
        name,
        model,
        path,
        "bulk",
        fields=(*COMMON, *extra),
        collection=name + "s",
        ops=READ,
        events=(),
        filters=filters,
        hooks=Hooks(view=hide_private),
        routes=(
            Route(path, "POST", lambda ctx: _create(ctx, name)),
            Route(path + "{id}/", "GET", lambda ctx: _advance(ctx, name)),
            Route(path + "{id}/", "PUT", lambda ctx: _pause_resume(ctx, name)),
        ),
    )


EDIT = _kind(
    "bulk_edit",
    "BulkEditAction",
    "/bulk_action/edit/",
    Field("type", writable="never"),
    *Field.many("lead_status_id custom_field_name custom_field_value", writable="never", default=None),
)
DELETE = _kind(
    "bulk_delete", "BulkDeleteAction", "/bulk_action/delete/", Field("bulk_object_type", default="lead")
)
EMAIL = _kind(
    "bulk_email",
    "BulkEmailAction",
    "/bulk_action/email/",
    *Field.many("template_id sender email_account_id", writable="never", default=None),
    Field("contact_preference", writable="never", default="lead"),
    filters=("template_id",),  # the documented list filter (OpenAPI GET /bulk_action/email/)
)
SEQUENCE = _kind(
    "bulk_sequence_subscription",
    "BulkSequenceSubscriptionAction",
    "/bulk_action/sequence_subscription/",
    Field("action_type", writable="never", default="subscribe"),
    *Field.many("sequence_id sender_account_id sender_name sender_email", writable="never", default=None),
    Field("contact_preference", writable="never", default="contact"),
    Field("calls_assigned_to", "list", writable="never", default=None),
    Field("from_phone_number_id", writable="never", default=None),
)
RESOURCES = (EDIT, DELETE, EMAIL, SEQUENCE)
BY_NAME = {r.name: r for r in RESOURCES}


# ----- create ----------------------------------------------------------------------------
def _lead_custom_field(ctx: Ctx, name: object) -> Obj | None:
    wanted = str(name).casefold()
    return next((f for f in ctx.store.custom_fields["lead"].values() if f["name"].casefold() == wanted), None)


def _edit_fields(ctx: Ctx, body: Obj, errs: FieldErrors) -> Obj:
    kind = body.get("type")
    if kind is None:
        errs.add("type", "This field is required.")
        return {}
    if kind not in EDIT_TYPES:
        errs.add("type", "Not a valid choice.")  # other object kinds: not served (module docstring)
        return {}
    out: Obj = {"type": kind}
    if kind == "set_lead_status":
        status = body.get("lead_status_id")
        if status is None:
            errs.add("lead_status_id", "This field is required.")
        elif status not in ctx.store.lead_statuses:
            errs.add("lead_status", "Object does not exist.")
        out["lead_status_id"] = status
        return out
    name = body.get("custom_field_name")
    if name is None:
        errs.add("custom_field_name", "This field is required.")
    elif _lead_custom_field(ctx, name) is None:
        errs.add("custom_field_name", "Object does not exist.")
    out["custom_field_name"] = name
    if kind == "set_custom_field":
        if "custom_field_value" not in body:
            errs.add("custom_field_value", "This field is required.")
        out["custom_field_value"] = body.get("custom_field_value")
    return out


def _known(ctx: Ctx, resource: str, value: object) -> bool:
    """A reference into an area the sandbox may not serve yet: checked only when it does."""
    if resource not in ctx.registry.resources:
        return isinstance(value, str) and bool(value)
    return ctx.registry.exists(ctx.store, resource, value)


def _email_fields(ctx: Ctx, body: Obj, errs: FieldErrors) -> Obj:
    if body.get("template_id") is None:
        errs.add("template_id", "This field is required.")
    elif not _known(ctx, "email_template", body["template_id"]):
        errs.add("template", "Object does not exist.")
    if body.get("contact_preference", "lead") not in PREFERENCES:
        errs.add("contact_preference", "Not a valid choice.")
    keys = ("template_id", "sender", "email_account_id", "contact_preference")
    return {k: body[k] for k in keys if k in body}


def _sequence_fields(ctx: Ctx, body: Obj, errs: FieldErrors) -> Obj:
    action = body.get("action_type", "subscribe")
    if action not in SEQUENCE_ACTIONS:
        errs.add("action_type", "Not a valid choice.")
    if action == "subscribe":
        if body.get("sequence_id") is None:
            errs.add("sequence_id", "This field is required.")
        elif not _known(ctx, "sequence", body["sequence_id"]):
            errs.add("sequence", "Object does not exist.")
        for name in ("sender_account_id", "sender_name", "sender_email"):
            if not body.get(name):
                errs.add(name, "This field is required.")  # Close needs a sender to enrol (guess)
    if body.get("contact_preference", "contact") not in PREFERENCES:
        errs.add("contact_preference", "Not a valid choice.")
    keys = "sequence_id sender_account_id sender_name sender_email contact_preference calls_assigned_to"
    keys += " from_phone_number_id"
    return {"action_type": action, **{k: body[k] for k in keys.split() if k in body}}


def _delete_fields(_ctx: Ctx, body: Obj, errs: FieldErrors) -> Obj:
    if body.get("bulk_object_type", "lead") != "lead":
        errs.add("bulk_object_type", "Only lead bulk deletes are served by the sandbox.")
    return {"bulk_object_type": "lead"}


KIND_FIELDS: dict[str, Callable[[Ctx, Obj, FieldErrors], Obj]] = {
    "bulk_edit": _edit_fields,
    "bulk_delete": _delete_fields,
    "bulk_email": _email_fields,
    "bulk_sequence_subscription": _sequence_fields,
}


def _create(ctx: Ctx, name: str) -> Response:
    body, errs = ctx.body, FieldErrors()
    if body.get("s_query") is None:
        errs.add("s_query", "This field is required.")
    if not isinstance(body.get("send_done_email", True), bool):
        errs.add("send_done_email", "Not a valid boolean.")
    fields = KIND_FIELDS[name](ctx, body, errs)
    errs.raise_if_any()
    leads = select_leads(ctx, body["s_query"], body.get("sort"), body.get("results_limit"))
    fields.update(
        s_query=body["s_query"],
        sort=body.get("sort") or [],
        results_limit=body.get("results_limit"),
        send_done_email=body.get("send_done_email", True),
        n_leads=len(leads),
        n_objects=len(leads),
        _lead_ids=[lead["id"] for lead in leads],  # the matched leads, fixed at creation
    )
    job = write.insert(ctx, BY_NAME[name], fields, emit_event=False)
    return _respond(ctx, name, job)


def _respond(ctx: Ctx, name: str, job: Obj) -> Response:
    return one(ctx, ctx.registry.view(ctx.store, name, job))


# ----- run -------------------------------------------------------------------------------
def _advance(ctx: Ctx, name: str) -> Response:
    job = ctx.registry.lookup(ctx.store, name, ctx.path_id)
    if job["status"] == "created":
        job["status"] = "processing"
        ctx.store.stamp_update(job, ctx.info)
    elif job["status"] in ("processing", "resuming"):
        _run(ctx, name, job)
        job.update(status="done", n_leads_processed=job["n_leads"], n_objects_processed=job["n_objects"])
        ctx.store.stamp_update(job, ctx.info)
    return _respond(ctx, name, job)


def _pause_resume(ctx: Ctx, name: str) -> Response:
    job = ctx.registry.lookup(ctx.store, name, ctx.path_id)
    wanted = ctx.body.get("status")
    if wanted not in ("paused", "processing"):
        raise validation_error({"status": "Not a valid choice; use paused or processing."})
    if job["status"] in ("done", "error"):
        raise validation_error(errors=[f"The bulk action is already {job['status']}."])
    job["status"] = "paused" if wanted == "paused" else "processing"
    ctx.store.stamp_update(job, ctx.info)
    return _respond(ctx, name, job)


def _run(ctx: Ctx, name: str, job: Obj) -> None:
    meta = {"bulk_action_id": job["id"]}
    lead_res = ctx.registry["lead"]
    leads = [ctx.store.leads[i] for i in job.get("_lead_ids", []) if i in ctx.store.leads]
    if name == "bulk_delete":
        for lead in leads:
            write.delete(ctx, lead_res, lead, meta=meta)
    elif name == "bulk_edit":
        change = _edit_change(ctx, job)
        for lead in leads:
            write.update(ctx, lead_res, lead, dict(change), meta=meta)
    else:
        _record(ctx, name, job, leads)


def _edit_change(ctx: Ctx, job: Obj) -> Obj:
    if job["type"] == "set_lead_status":
        return {"status_id": job["lead_status_id"]}
    field = _lead_custom_field(ctx, job["custom_field_name"])
    if field is None:
        raise SandboxError(400, {"errors": ["The custom field no longer exists."], "field-errors": {}})
    value = job.get("custom_field_value") if job["type"] == "set_custom_field" else None
    return {f"custom.{field['id']}": value}


def _record(ctx: Ctx, name: str, job: Obj, leads: list[Obj]) -> None:
    """Bulk email and sequence enrolment are recorded per contact with an email, never sent.
    ``contact_preference`` ``lead`` takes each lead's first such contact, ``contact``/``all``
    every one (developer.close.com bulk email docs' wording; a guess for the exact rule)."""
    collection = "sandbox_outbox" if name == "bulk_email" else "sandbox_sequence_enrolments"
    every = job.get("contact_preference") in ("contact", "all")
    for lead in leads:
        contacts = [c for c in ctx.store.children_of(lead["id"])["contacts"] if c.get("emails")]
        for contact in contacts if every else contacts[:1]:
            entry = {"bulk_action_id": job["id"], "lead_id": lead["id"], "contact_id": contact["id"]}
            entry["to"] = contact["emails"][0]["email"]
            entry.update(template_id=job.get("template_id"), sequence_id=job.get("sequence_id"))
            ctx.store.collection(collection)[f"{job['id']}:{contact['id']}"] = entry


# ----- seed ------------------------------------------------------------------------------
def seed(sc: SeedCtx) -> None:
    """One finished job of each kind, as an org that has used bulk actions has (history only:
    nothing is applied again)."""
    query = {"type": "and", "queries": [{"type": "object_type", "object_type": "lead"}]}
    for res in RESOURCES:
        n = sc.rng.randint(3, 40)
        job: Obj = {"id": sc.ids.new("bulk"), "s_query": query, "query": None, "results_limit": None}
        job.update(sort=[], send_done_email=True, status="done", n_leads=n, n_objects=n)
        job.update(n_leads_processed=n, n_objects_processed=n, _lead_ids=[])
        if res is EDIT:
            job.update(type="set_lead_status", lead_status_id=next(iter(sc.store.lead_statuses)))
            job.update(custom_field_name=None, custom_field_value=None)
        elif res is DELETE:
            job["bulk_object_type"] = "lead"
        elif res is EMAIL:
            job.update(template_id="tmpl_sandboxWelcome", sender=None, email_account_id=None)
            job["contact_preference"] = "lead"
        else:
            job.update(action_type="subscribe", sequence_id="seq_sandboxOnboarding", sender_name="Sandbox")
            job.update(sender_account_id=None, sender_email=None, contact_preference="contact")
            job.update(calls_assigned_to=None, from_phone_number_id=None)
        when = sc.now - timedelta(days=sc.rng.randint(2, 60))
        sc.store.collection(res.store_name)[job["id"]] = seed_stamp(sc, job, when)
