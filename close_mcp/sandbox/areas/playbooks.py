"""Playbooks: call and meeting guides with outcomes and shared custom fields, archived rather
than lost (tool manifest ``playbooks``).

Shape from the spec's ``Playbook`` schema (close-openapi.yml): unlike most Close objects it
uses ``created_at``/``updated_at``/``created_by_id``/``updated_by_id``, so the view renames the
engine's audit stamps. Guesses (not documented, marked where used): the ``playbook_`` ID prefix,
no Event Log events, archive/unarchive being idempotent, ``position`` appended at the end.
"""

from __future__ import annotations

import copy
from datetime import timedelta

from starlette.responses import Response

from close_mcp.sandbox.areas.common import now
from close_mcp.sandbox.engine import Ctx, Field, Hooks, Resource, Route, one, write
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo
from close_mcp.sandbox.validate import FieldErrors

_AUDIT = {
    "date_created": "created_at",
    "date_updated": "updated_at",
    "created_by": "created_by_id",
    "updated_by": "updated_by_id",
}


def playbook_view(_store: OrgStore, obj: Obj) -> Obj:
    out = {k: v for k, v in copy.deepcopy(obj).items() if k not in _AUDIT}
    out.update({new: obj.get(old) for old, new in _AUDIT.items()})
    return out


def _items(ctx: Ctx) -> list[Obj]:
    """``is_archived`` is a documented filter with no field of that name: archived_at set or not."""
    items = ctx.registry.objects(ctx.store, "playbook")
    wanted = ctx.params.get("is_archived")
    if wanted is None:
        return items
    archived = wanted.lower() == "true"
    return [o for o in items if (o.get("archived_at") is not None) == archived]


def _ids_exist(ctx: Ctx, ids: object, kinds: list[str]) -> bool:
    pools = [ctx.store.collection(ctx.registry[k].store_name) for k in kinds]
    return isinstance(ids, list) and all(any(i in pool for pool in pools) for i in ids)


def _check(ctx: Ctx, body: Obj, _existing: Obj | None, errs: FieldErrors) -> None:
    custom = [r.name for r in ctx.registry if r.name.endswith("custom_field")]
    if "custom_field_ids" in body and not _ids_exist(ctx, body["custom_field_ids"], custom):
        errs.add("custom_field_ids", "Object does not exist.")
    outcome = [r.name for r in ctx.registry if r.name == "outcome"]  # checked once outcomes are served
    if outcome and "outcome_ids" in body and not _ids_exist(ctx, body["outcome_ids"], outcome):
        errs.add("outcome_ids", "Object does not exist.")
    if "name" in body and not str(body["name"] or "").strip():
        errs.add("name", "This field is required.")


def _prepare(ctx: Ctx, body: Obj, existing: Obj | None) -> None:
    if existing is None:  # appended after the last one (guess: the UI lists by position)
        positions = [o.get("position") or 0 for o in ctx.registry.objects(ctx.store, "playbook")]
        body["position"] = max(positions, default=-1) + 1


def _set_archived(archived: bool) -> Route:
    def handler(ctx: Ctx) -> Response:
        obj = ctx.registry.lookup(ctx.store, "playbook", ctx.path_id)
        if (obj.get("archived_at") is not None) != archived:  # already so: answered unchanged (guess)
            change = {"archived_at": now(), "archived_by_id": ctx.info.user_id} if archived else {}
            write.patch(ctx, PLAYBOOK, obj, change or {"archived_at": None, "archived_by_id": None})
        return one(ctx, playbook_view(ctx.store, obj))

    verb = "archive" if archived else "unarchive"
    return Route(f"/playbook/{{id}}/{verb}/", "POST", handler)


PLAYBOOK = Resource(
    "playbook",
    "Playbook",
    "/playbook/",
    "playbook",  # guess: no example ID in the docs
    fields=(
        Field("name", "str", required=True),
        Field("description", "str", default=None),
        Field("summary_guidance", "str", default=None),
        Field("custom_field_ids", "list", default=[]),
        Field("outcome_ids", "list", default=[]),
        Field("position", "int", writable="never", default=None),
        Field("archived_at", writable="never", default=None),
        Field("archived_by_id", writable="never", default=None),
    ),
    events=(),  # guess: playbooks are not among the Event Log's object types
    filters=("position", "created_at"),  # documented: is_archived, position__gt, created_at__lt
    filter_views=True,  # created_at exists only in the view
    order_by=("position", "created_at"),
    default_order="position",
    create_status=201,
    delete_status=204,
    hooks=Hooks(view=playbook_view, items=_items, validate=_check, prepare=_prepare),
    routes=(_set_archived(True), _set_archived(False)),
)
RESOURCES = (PLAYBOOK,)


# ----- seed ----------------------------------------------------------------------------
SEED = [
    ("Discovery call", "Qualify budget, authority, need and timing.", None),
    ("Product demo", "Show the three workflows the prospect asked about.", "Summarise objections."),
    ("Renewal check-in", "Confirm usage and next year's seats.", None),
]


def seed(sc: SeedCtx) -> None:
    admin = next(iter(sc.store.users))
    boot = RequestInfo(user_id=admin, request_id="seed", method="SEED", path="/")
    for position, (name, description, guidance) in enumerate(SEED):
        pid = sc.ids.new("playbook")
        obj: Obj = {"id": pid, "name": name, "description": description, "summary_guidance": guidance}
        obj.update(
            custom_field_ids=[], outcome_ids=[], position=position, archived_at=None, archived_by_id=None
        )
        sc.store.stamp_new(obj, boot, sc.org_created + timedelta(days=30 + position))
        sc.store.collection("playbooks")[pid] = obj
    last = sc.store.collection("playbooks")[pid]
    last.update(archived_at=last["date_created"], archived_by_id=admin)  # one archived playbook
