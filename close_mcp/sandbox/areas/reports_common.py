"""Helpers the reporting, export, bulk-action and file areas share (no ``RESOURCES``: the area
loader skips this module)."""

from __future__ import annotations

from datetime import datetime

from close_mcp.sandbox.engine import Ctx
from close_mcp.sandbox.ids import iso
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, SandboxError, not_found


def seed_stamp(sc: SeedCtx, obj: Obj, when: datetime) -> Obj:
    """Audit fields for a seeded object (areas beyond the core seed get no boot request)."""
    user = sc.user_ids[0]
    obj.update(organization_id=sc.store.org["id"], date_created=iso(when), date_updated=iso(when))
    obj.update(created_by=user, updated_by=user)
    return obj


def check_org(ctx: Ctx) -> None:
    """``{org_id}`` paths answer 404 for any id but the caller's organization's."""
    assert ctx.request is not None
    if ctx.request.path_params.get("id") != ctx.store.org["id"]:
        raise not_found("Organization")


def base_url(ctx: Ctx) -> str:
    """The sandbox's own API root (``http://host:port/api/v1``), for URLs it hands out."""
    assert ctx.request is not None
    return str(ctx.request.base_url).rstrip("/") + "/api/v1"


def bad_request(message: str) -> SandboxError:
    return SandboxError(400, {"errors": [message], "field-errors": {}})
