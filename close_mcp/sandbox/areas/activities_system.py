"""System activities on a lead's timeline (tool manifest ``activities``): lead and opportunity
status changes, task completions, Created, LeadMerge, form submissions and import updates.
Close writes most of them itself; the API reads them and deletes some. They share the
``activities`` collection with the feed (``activities.py``)."""

from __future__ import annotations

from datetime import timedelta

from close_mcp.sandbox.areas.activities import typed
from close_mcp.sandbox.engine import READ, Ctx, Field, Hooks, Resource
from close_mcp.sandbox.engine.resource import Op
from close_mcp.sandbox.ids import iso
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj

FILTERS = ("id", "lead_id", "contact_id", "user_id", "date_created", "activity_at")  # SPEC list params
READ_DELETE: tuple[Op, ...] = ("list", "get", "delete")
LOGGED: tuple[Op, ...] = ("list", "get", "create", "delete")  # status changes: no PUT in Close


def _never(*names: str) -> tuple[Field, ...]:
    return tuple(Field(n, writable="never", default=None) for n in names)


# ----- status changes ------------------------------------------------------------------
# The opportunity statuses live inside the pipelines; this declaration has no endpoints and only
# lets the status-change fields reference them (``ref=``, "Object does not exist.").
OPPORTUNITY_STATUSES = Resource(
    "activity_opportunity_status",
    "Status",
    "/status/opportunity/",
    "stat",
    ops=(),
    source=lambda store: list(store.opportunity_statuses().values()),
)


def _label_lead_change(ctx: Ctx, body: Obj, _existing: Obj | None) -> None:
    """SPEC: "Creating a lead status change does not change the lead's status. It only logs the
    status change event" (for importing history). Labels come from the statuses."""
    for side in ("old", "new"):
        status = ctx.store.lead_statuses.get(body.get(f"{side}_status_id") or "")
        body[f"{side}_status_label"] = status["label"] if status else None


LEAD_STATUS_CHANGE = typed(
    "LeadStatusChange",
    (
        Field("new_status_id", ref="lead_status", required=True, writable="create"),
        Field("old_status_id", ref="lead_status", writable="create", default=None),
        *_never("old_status_label", "new_status_label"),
    ),
    Hooks(prepare=_label_lead_change),
    name="lead_status_change",
    path="/activity/status_change/lead/",
    ops=LOGGED,
    object_type="activity.lead_status_change",
    filters=FILTERS,
)


def _label_opp_change(ctx: Ctx, body: Obj, _existing: Obj | None) -> None:
    """Labels and types from the statuses, value fields from the opportunity (shape as the
    opportunities area records a real status move); the opportunity itself is not changed."""
    statuses = ctx.store.opportunity_statuses()
    for side in ("old", "new"):
        status = statuses.get(body.get(f"{side}_status_id") or "")
        body[f"{side}_status_label"] = status["label"] if status else None
        body[f"{side}_status_type"] = status["type"] if status else None
    opp = ctx.store.opportunities[body["opportunity_id"]]
    body["lead_id"] = opp["lead_id"]  # Guess: the lead is the opportunity's (a given lead_id is ignored)
    body.update(opportunity_value=opp.get("value"), opportunity_value_period=opp.get("value_period"))
    body["opportunity_value_currency"] = opp.get("value_currency")


OPPORTUNITY_STATUS_CHANGE = typed(
    "OpportunityStatusChange",
    (
        Field("lead_id", writable="never"),
        Field("opportunity_id", ref="opportunity", required=True, writable="create"),
        Field("new_status_id", ref=OPPORTUNITY_STATUSES.name, required=True, writable="create"),
        Field("old_status_id", ref=OPPORTUNITY_STATUSES.name, writable="create", default=None),
        *_never("old_status_label", "new_status_label", "old_status_type", "new_status_type"),
        *_never("opportunity_value", "opportunity_value_period", "opportunity_value_currency"),
    ),
    Hooks(prepare=_label_opp_change),
    name="opportunity_status_change",
    path="/activity/status_change/opportunity/",
    ops=LOGGED,
    object_type="activity.opportunity_status_change",
    filters=(*FILTERS, "opportunity_id"),
)


# ----- written by Close only -----------------------------------------------------------
TASK_COMPLETED = typed(
    "TaskCompleted",
    _never("task_id", "task_text", "task_assigned_to"),
    name="task_completed",
    path="/activity/task_completed/",
    ops=READ_DELETE,
    object_type="activity.task_completed",
    filters=(*FILTERS, "task_id"),
)
CREATED = typed(
    "Created",
    _never("source", "import_id"),  # Guess from the feed docs: how the lead came to be
    path="/activity/created/",
    ops=READ,
    object_type="activity.created",
    filters=FILTERS,
)
LEAD_MERGE = typed(
    "LeadMerge",
    _never("source_lead_id", "source_lead_name", "status"),  # as leads.py records a merge
    name="lead_merge",
    path="/activity/lead_merge/",
    ops=READ,
    object_type="activity.lead_merge",
    filters=FILTERS,
)
FORM_SUBMISSION = typed(
    "FormSubmission",
    (
        *_never("form_id", "form_name", "form_configuration_id", "ip_address", "origin"),
        *_never("source_url", "source_url_normalized"),
        Field("values", writable="never", default={}),  # SPEC FormSubmissionActivity
        Field("values_by_name", writable="never", default={}),
    ),
    name="form_submission",
    path="/activity/form_submission/",
    ops=READ_DELETE,
    object_type="activity.form_submission",
    filters=(*FILTERS, "form_id"),
)
IMPORT_UPDATE = typed(
    "ImportUpdate",
    (*_never("import_id"), Field("reverted", writable="never", default=False)),  # SPEC2 schema
    name="import_update",
    path="/activity/import_update/",
    ops=READ_DELETE,
    object_type="activity.import_update",  # Guess: not in Close's event list
    filters=FILTERS,
)
RESOURCES = (
    OPPORTUNITY_STATUSES,
    LEAD_STATUS_CHANGE,
    OPPORTUNITY_STATUS_CHANGE,
    TASK_COMPLETED,
    CREATED,
    LEAD_MERGE,
    FORM_SUBMISSION,
    IMPORT_UPDATE,
)


# ----- seed ----------------------------------------------------------------------------
def _base(sc: SeedCtx, lead: Obj, kind: str, when_days: float) -> Obj:
    when = iso(sc.now - timedelta(days=when_days))
    user = sc.rng.choice(sc.user_ids)
    obj = {"id": sc.ids.new("acti"), "_type": kind, "lead_id": lead["id"], "contact_id": None}
    obj.update(user_id=user, users=[], activity_at=when, date_created=when, date_updated=when)
    obj.update(organization_id=sc.store.org["id"], created_by=user, updated_by=user)
    return obj


def seed(sc: SeedCtx) -> None:
    """Each lead gets its Created activity; some leads a status change, a form submission or
    an import update; completed tasks a TaskCompleted, so every type has a few objects."""
    rng, store = sc.rng, sc.store
    statuses = list(store.lead_statuses.values())
    for i, lead in enumerate(store.leads.values()):
        created = _base(sc, lead, "Created", 300 - i % 250)
        created.update(activity_at=lead.get("date_created"), source="api", import_id=None)
        store.activities[created["id"]] = created
        if i % 5 == 0 and len(statuses) > 1:
            change = _base(sc, lead, "LeadStatusChange", rng.randint(1, 90))
            old, new = rng.sample(statuses, 2)
            change.update(old_status_id=old["id"], old_status_label=old["label"])
            change.update(new_status_id=new["id"], new_status_label=new["label"])
            store.activities[change["id"]] = change
        if i % 17 == 3:
            form = _base(sc, lead, "FormSubmission", rng.randint(1, 120))
            values = {"email": f"info@{lead['id'][5:12].lower()}.example", "message": "Please send a quote."}
            form.update(form_id=f"form_{'DemoRequest0000000000001'}", form_name="Demo request")
            form.update(
                form_configuration_id="formcfg_DemoRequest0000000000001",  # SPEC: a string, never null
                ip_address="203.0.113.7",
                origin="https://acme-demo.example",
            )
            form.update(
                source_url="https://acme-demo.example/demo", source_url_normalized="acme-demo.example/demo"
            )
            form.update(values=values, values_by_name=values)
            store.activities[form["id"]] = form
        if i in (7, 41):  # two earlier merges into these leads (the source leads are gone)
            merge = _base(sc, lead, "LeadMerge", rng.randint(10, 200))
            source_name = f"{lead.get('name') or 'Lead'} (duplicate)"
            merge.update(source_lead_id=sc.ids.new("lead"), source_lead_name=source_name, status="done")
            store.activities[merge["id"]] = merge
        if i % 23 == 5:
            update = _base(sc, lead, "ImportUpdate", rng.randint(30, 200))
            update.update(import_id="bulk_DemoImport000000000000001", reverted=False)
            store.activities[update["id"]] = update
    opp_statuses = store.opportunity_statuses()
    for k, opp in enumerate(store.opportunities.values()):
        if k % 4 == 0 and opp.get("status_id") in opp_statuses:  # how the opportunity reached its stage
            new, old = opp_statuses[opp["status_id"]], rng.choice(list(opp_statuses.values()))
            move = _base(sc, store.leads[opp["lead_id"]], "OpportunityStatusChange", rng.randint(1, 60))
            move.update(opportunity_id=opp["id"], old_status_id=old["id"], old_status_label=old["label"])
            move.update(old_status_type=old["type"], new_status_id=new["id"], new_status_label=new["label"])
            move.update(new_status_type=new["type"], opportunity_value=opp.get("value"))
            move.update(opportunity_value_period=opp.get("value_period"))
            move.update(opportunity_value_currency=opp.get("value_currency"))
            store.activities[move["id"]] = move
    for task in store.tasks.values():
        if task.get("is_complete"):
            lead = store.leads[task["lead_id"]]
            done = _base(sc, lead, "TaskCompleted", rng.randint(1, 30))
            done.update(
                task_id=task["id"], task_text=task.get("text"), task_assigned_to=task.get("assigned_to")
            )
            store.activities[done["id"]] = done
