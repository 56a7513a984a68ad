"""Writes from the declarations: create, update (PUT = patch), delete with cascade, merge moves.

These run without HTTP too: hooks and the seed call them to make related objects.
"""

from __future__ import annotations

import copy

from close_mcp.sandbox.engine.context import Ctx
from close_mcp.sandbox.engine.resource import UNSET, Resource
from close_mcp.sandbox.store import Obj, SandboxError, apply_patch
from close_mcp.sandbox.validate import FieldErrors, check_custom, check_field, check_required


def require_admin(ctx: Ctx) -> None:
    """Only users who can manage the organization may change its schema or settings."""
    if ctx.user["role_id"] != "admin":
        raise SandboxError(403, {"error": "You don't have permission to manage this organization."})


def clean_body(ctx: Ctx, res: Resource, body: Obj, existing: Obj | None) -> Obj:
    """Validate a write body against the declaration and the ``validate`` hook; return the
    writable part. Unknown fields are ignored, as Close accepts them (close-api.md §4, OBS-PHP)."""
    writable = res.writable(existing is None)
    custom = res.custom_fields is not None
    body = {k: v for k, v in body.items() if k in writable or (custom and k.startswith("custom."))}
    errs = FieldErrors()
    if existing is None:
        check_required(errs, body, *(f.name for f in writable.values() if f.required))
    for f in writable.values():
        check_field(errs, ctx.store, ctx.registry, f, body)
    if res.custom_fields:
        check_custom(errs, ctx.store, res.custom_fields, body)
    if res.hooks.validate:
        res.hooks.validate(ctx, body, existing, errs)
    errs.raise_if_any()
    return body


def emit(ctx: Ctx, res: Resource, action: str, obj: Obj, **kw: object) -> None:
    object_type = res.event_type(obj)
    if object_type and action in res.events:
        ctx.store.emit(object_type, action, obj, ctx.info, **kw)  # type: ignore[arg-type]


def insert(ctx: Ctx, res: Resource, fields: Obj, *, emit_event: bool = True) -> Obj:
    """Store a new object: id, declared defaults, the given fields, audit stamps."""
    obj: Obj = {"id": ctx.store.ids.new(res.prefix)}
    if res.discriminator:
        obj[res.discriminator[0]] = res.discriminator[1]
    for f in res.fields:
        if f.name not in fields and f.default is not UNSET:
            obj[f.name] = f.default(ctx) if callable(f.default) else copy.deepcopy(f.default)
    obj.update(fields)
    if res.stamped:
        ctx.store.stamp_new(obj, ctx.info)
    ctx.store.collection(res.store_name)[obj["id"]] = obj
    if res.hooks.inserted:
        res.hooks.inserted(ctx, obj)
    if emit_event:
        emit(ctx, res, "created", obj)
    return obj


def create(ctx: Ctx, res: Resource, body: Obj) -> Obj:
    """A validated create, as ``POST <path>`` does it."""
    if "create" in res.admin_ops:
        require_admin(ctx)
    body = clean_body(ctx, res, body, None)
    if res.hooks.prepare:
        res.hooks.prepare(ctx, body, None)
    obj = insert(ctx, res, body)
    if res.hooks.after_create:
        res.hooks.after_create(ctx, obj)
    return obj


def update(ctx: Ctx, res: Resource, obj: Obj, body: Obj, *, meta: Obj | None = None) -> list[str]:
    """A validated partial update: sent keys change, ``null`` clears. Returns changed names."""
    body = clean_body(ctx, res, body, obj)
    if res.hooks.prepare:
        res.hooks.prepare(ctx, body, obj)
    return patch(ctx, res, obj, body, meta=meta)


def patch(ctx: Ctx, res: Resource, obj: Obj, body: Obj, *, meta: Obj | None = None) -> list[str]:
    """Apply already validated changes, run the change hooks and emit ``updated``."""
    previous, changed = apply_patch(obj, body)
    if changed:
        if res.hooks.changed:
            res.hooks.changed(ctx, obj, previous, changed)
        if res.stamped:
            ctx.store.stamp_update(obj, ctx.info)
        emit(ctx, res, "updated", obj, previous=previous, changed=changed, meta=meta)
    if res.hooks.after_update:
        res.hooks.after_update(ctx, obj, previous, changed)
    return changed


def delete(ctx: Ctx, res: Resource, obj: Obj, *, meta: Obj | None = None) -> None:
    """Delete an object and, first, every object declared as its child (each emits its own
    ``deleted`` event, as Close's seed table shows)."""
    for child_res in ctx.registry.child_resources(res.name):
        for child in ctx.registry.children(ctx.store, res.name, obj["id"])[child_res.store_name]:
            delete(ctx, child_res, child, meta=meta)
    ctx.store.collection(res.store_name).pop(obj["id"], None)
    emit(ctx, res, "deleted", obj, previous=obj, meta=meta)
    if res.hooks.after_delete:
        res.hooks.after_delete(ctx, obj)


def move_children(ctx: Ctx, res: Resource, source_id: str, dest_id: str, meta: Obj) -> None:
    """Re-parent every declared child of ``source_id`` onto ``dest_id`` (lead merge)."""
    for child_res in ctx.registry.child_resources(res.name):
        assert child_res.parent is not None
        for child in ctx.registry.children(ctx.store, res.name, source_id)[child_res.store_name]:
            patch(ctx, child_res, child, {child_res.parent.field: dest_id}, meta=meta)
