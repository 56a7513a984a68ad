"""Lead statuses, pipelines with their opportunity statuses, and call/meeting outcomes
(tool manifest ``pipelines``; the list tools of statuses and pipelines stay in ``users_org``).

Opportunity statuses live inside their pipeline (``pipeline["statuses"]``, as Close's
``GET /pipeline/`` shows them), so ``/status/opportunity/`` reads them from there and its
writes are hand-written routes.
"""

from __future__ import annotations

import copy

from starlette.responses import Response

from close_mcp.sandbox.engine import Ctx, Field, Hooks, Resource, Route, choice, json_response, one, write
from close_mcp.sandbox.engine.resource import Op
from close_mcp.sandbox.ids import iso_naive, now_utc
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo, validation_error
from close_mcp.sandbox.validate import FieldErrors, check_not_blank

STATUS_TYPES = ("active", "won", "lost")
OUTCOME_TYPES = ("custom", "vm-dropped")
# Close's spec: applies_to is deprecated and derived from type (custom → calls and meetings,
# vm-dropped → calls only), CreateOutcome in close-openapi.yml.
APPLIES_TO = {"custom": ["calls", "meetings"], "vm-dropped": ["calls"]}
# Guess: statuses, pipelines and outcomes are organization settings, written only by users who
# may manage the organization, like custom fields ("Only manage_organization users may
# write", close-api.md §5.3); others get the sandbox's 403.
ADMIN_WRITES: tuple[Op, ...] = ("create", "update", "delete")


def _blank_label(_ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    check_not_blank(errs, body, "label", "name")


# ----- lead statuses -------------------------------------------------------------------
# Guess: deleting a lead status still used by leads is allowed (Close's docs say nothing
# about it; the leads keep a status_id whose label reads null).
LEAD_STATUS = Resource(
    "lead_status",
    "Status",
    "/status/lead/",
    "stat",
    collection="lead_statuses",
    fields=(Field("label", "str", required=True),),
    events=(),  # no status events in Close's event log docs
    admin_ops=ADMIN_WRITES,
    stamped=False,  # Close answers {"id", "label"} (organization's lead_statuses, close-api.md §5.3)
    default_order=None,
    hooks=Hooks(validate=_blank_label),
)


# ----- pipelines -----------------------------------------------------------------------
def _naive_now() -> str:
    return iso_naive(now_utc())  # pipelines use naive timestamps (close-api.md §5.2)


def _check_pipeline(ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    _blank_label(ctx, body, existing, errs)
    items = body.get("statuses")
    if isinstance(items, list):
        known = ctx.store.opportunity_statuses()
        if not all(isinstance(i, dict) and i.get("id") in known for i in items):
            errs.add("statuses", "Object does not exist.")  # guess: Close's reference wording


def _pipeline_stamp(ctx: Ctx, body: Obj, existing: Obj | None) -> None:
    if existing is None:
        body.update(organization_id=ctx.store.org["id"], date_created=_naive_now(), statuses=[])
    elif isinstance(body.get("statuses"), list):
        body["statuses"] = _reorder(ctx, existing, [i["id"] for i in body["statuses"]])
    body["date_updated"] = _naive_now()


def _reorder(ctx: Ctx, pipeline: Obj, order: list[str]) -> list[Obj]:
    """``PUT /pipeline/{id}/`` with ``statuses``: reorder this pipeline's statuses and move
    others' here (close-openapi.yml, "Update a Pipeline"). Guess: a status of this pipeline
    left out of the list stays, after the listed ones (deleting is its own endpoint)."""
    statuses = ctx.store.opportunity_statuses()
    for other in ctx.store.pipelines.values():
        if other["id"] != pipeline["id"]:
            other["statuses"] = [s for s in other["statuses"] if s["id"] not in order]
    listed = list(dict.fromkeys(order))
    moved = [{**statuses[sid], "pipeline_id": pipeline["id"]} for sid in listed]
    return moved + [s for s in pipeline["statuses"] if s["id"] not in listed]


def delete_pipeline(ctx: Ctx) -> Response:
    """Close: "Deletion is only allowed if the Pipeline doesn't contain any Opportunity
    Statuses" (close-openapi.yml, DELETE /pipeline/{id}/). The 400 body is a guess in Close's
    usual ``errors`` form; success is 204 (close-api.md §4)."""
    write.require_admin(ctx)
    pipeline = ctx.registry.lookup(ctx.store, "pipeline", ctx.path_id)
    if pipeline["statuses"]:
        raise validation_error(
            errors=[
                "Pipeline is not empty: delete its opportunity statuses or move them to another pipeline."
            ]
        )
    del ctx.store.pipelines[pipeline["id"]]
    return json_response({}, 204)


PIPELINE = Resource(
    "pipeline",
    "Pipeline",
    "/pipeline/",
    "pipe",
    fields=(
        Field("name", "str", required=True),
        Field("statuses", "list", writable="update"),
        *Field.many("organization_id date_created date_updated", writable="never"),
    ),
    ops=("list", "get", "create", "update"),
    admin_ops=ADMIN_WRITES,
    events=(),
    stamped=False,
    default_order=None,
    create_status=201,  # close-api.md §4
    hooks=Hooks(validate=_check_pipeline, prepare=_pipeline_stamp),
    routes=(Route("/pipeline/{id}/", "DELETE", delete_pipeline),),
)


# ----- opportunity statuses ------------------------------------------------------------
def status_view(_store: OrgStore, status: Obj) -> Obj:
    """Stored as in the pipeline (``type``); the status endpoints also name it ``status_type``
    (close-api.md §11, "POST needs label, status_type")."""
    return {**copy.deepcopy(status), "status_type": status["type"]}


def _status_body(ctx: Ctx, creating: bool) -> Obj:
    body, errs = ctx.body, FieldErrors()
    label = body.get("label")
    if (creating or "label" in body) and (not isinstance(label, str) or not label.strip()):
        errs.add("label", "This field is required." if label is None else "This field may not be blank.")
    kind = body.get("status_type", body.get("type"))  # the spec's description says `type`
    if creating and kind is None:
        errs.add("status_type", "This field is required.")
    elif kind is not None and kind not in STATUS_TYPES:
        errs.add("status_type", "Not a valid choice.")
    pipeline_id = body.get("pipeline_id")
    if creating and pipeline_id is not None and pipeline_id not in ctx.store.pipelines:
        errs.add("pipeline", "Object does not exist.")
    errs.raise_if_any()
    return {"label": label, "type": kind, "pipeline_id": pipeline_id}


def create_opportunity_status(ctx: Ctx) -> Response:
    """Without ``pipeline_id`` the status joins the organization's first pipeline (guess from
    close-api.md §11: "optional pipeline_id")."""
    write.require_admin(ctx)
    clean = _status_body(ctx, True)
    pipeline_id = clean["pipeline_id"] or next(iter(ctx.store.pipelines), None)
    if pipeline_id is None:
        raise validation_error(field_errors={"pipeline": "This field is required."})
    status = {"id": ctx.store.ids.new("stat"), "label": clean["label"], "type": clean["type"]}
    status["pipeline_id"] = pipeline_id
    ctx.store.pipelines[pipeline_id]["statuses"].append(status)
    return one(ctx, status_view(ctx.store, status))


def update_opportunity_status(ctx: Ctx) -> Response:
    """A rename: Close documents only ``label`` ("Rename an opportunity status")."""
    write.require_admin(ctx)
    status = ctx.registry.lookup(ctx.store, "opportunity_status", ctx.path_id)
    clean = _status_body(ctx, False)
    if clean["label"] is not None:
        status["label"] = clean["label"]
    return one(ctx, status_view(ctx.store, status))


def delete_opportunity_status(ctx: Ctx) -> Response:
    """Close: "make sure no opportunities are assigned this status, first" (close-openapi.yml);
    the sandbox answers 400 while some are (guessed wording)."""
    write.require_admin(ctx)
    status = ctx.registry.lookup(ctx.store, "opportunity_status", ctx.path_id)
    used = sum(1 for o in ctx.store.opportunities.values() if o.get("status_id") == status["id"])
    if used:
        raise validation_error(errors=[f"This status is used by {used} opportunities; move them first."])
    pipeline = ctx.store.pipelines[status["pipeline_id"]]
    pipeline["statuses"] = [s for s in pipeline["statuses"] if s["id"] != status["id"]]
    return json_response({})


OPPORTUNITY_STATUS = Resource(
    "opportunity_status",
    "Status",
    "/status/opportunity/",
    "stat",
    ops=("list", "get"),
    events=(),
    stamped=False,
    source=lambda store: list(store.opportunity_statuses().values()),
    filters=("pipeline_id", "status_type"),
    filter_views=True,
    default_order=None,
    title=lambda status: status.get("label"),
    hooks=Hooks(view=status_view),
    routes=(
        Route("/status/opportunity/", "POST", create_opportunity_status),
        Route("/status/opportunity/{id}/", "PUT", update_opportunity_status),
        Route("/status/opportunity/{id}/", "DELETE", delete_opportunity_status),
    ),
)


# ----- outcomes ------------------------------------------------------------------------
def _outcome_applies(_ctx: Ctx, body: Obj, existing: Obj | None) -> None:
    if "type" in body or existing is None:
        kind = body.get("type") or (existing or {}).get("type") or "custom"
        body.setdefault("applies_to", list(APPLIES_TO[kind]))


OUTCOME = Resource(
    "outcome",
    "Outcome",
    "/outcome/",
    "outcome",  # `outcome_` is mentioned in Close's docs; the full format is unknown (close-api.md §5.1)
    fields=(
        Field("name", "str", required=True),
        Field("description", default=None),
        Field("type", choices=choice(*OUTCOME_TYPES), default="custom"),
        Field("applies_to", "list"),
    ),
    events=(),
    admin_ops=ADMIN_WRITES,
    filters=("type",),
    default_order="date_created",  # guess: the UI lists outcomes oldest first
    create_status=201,  # close-api.md §4
    hooks=Hooks(validate=_blank_label, prepare=_outcome_applies),
)

RESOURCES = (LEAD_STATUS, PIPELINE, OPPORTUNITY_STATUS, OUTCOME)

# ----- seed ----------------------------------------------------------------------------
LEAD_STATUSES = ["Potential", "Qualified", "Bad Fit", "Customer", "Churned"]
WON_LOST = [("Won", "won"), ("Lost", "lost")]
PIPELINES = {
    "Sales": [
        ("Demo Scheduled", "active"),
        ("Proposal Sent", "active"),
        ("Negotiation", "active"),
        *WON_LOST,
    ],
    "Renewals": [("Upcoming", "active"), ("Renewed", "won"), ("Churned", "lost")],
}
OUTCOMES = [
    ("Interested", "custom", "The contact wants to hear more; schedule a follow-up."),
    ("Not interested", "custom", "The contact declined; no follow-up for now."),
    ("Wrong number", "custom", None),
    ("Voicemail dropped", "vm-dropped", "Set automatically on a Voicemail Drop."),
]


def seed_statuses(sc: SeedCtx) -> None:
    """Called by ``users_org.seed`` on the core random stream, so the statuses, pipelines and
    every later core ID stay what they were before this area moved out of ``users_org``."""
    store, ids = sc.store, sc.ids
    for label in LEAD_STATUSES:
        sid = ids.new("stat")
        store.lead_statuses[sid] = {"id": sid, "label": label}
    naive = iso_naive(sc.org_created)
    for name, statuses in PIPELINES.items():
        pid = ids.new("pipe")
        store.pipelines[pid] = {
            "id": pid,
            "name": name,
            "organization_id": store.org["id"],
            "date_created": naive,
            "date_updated": naive,
            "statuses": [
                {"id": ids.new("stat"), "label": lbl, "type": typ, "pipeline_id": pid}
                for lbl, typ in statuses
            ],
        }


def seed(sc: SeedCtx) -> None:
    """Outcomes, on this area's own random stream (after the leads exist)."""
    sc.boot = RequestInfo(sc.user_ids[0], sc.ids.new("req"), "POST", "/api/v1/seed/")
    for name, kind, description in OUTCOMES:
        oid = sc.ids.new("outcome")
        outcome: Obj = {"id": oid, "name": name, "type": kind, "description": description}
        outcome["applies_to"] = list(APPLIES_TO[kind])
        sc.store.collection("outcomes")[oid] = sc.stamp(outcome, sc.org_created)
