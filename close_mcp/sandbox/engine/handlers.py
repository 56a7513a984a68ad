"""Generic HTTP handlers and the route table, generated from the declarations."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from close_mcp.sandbox.engine import write
from close_mcp.sandbox.engine.context import Ctx, json_response, one
from close_mcp.sandbox.engine.query import cursor_page, filter_items, offset_page, order_items
from close_mcp.sandbox.engine.registry import Registry
from close_mcp.sandbox.engine.resource import Resource
from close_mcp.sandbox.store import Obj

Handler = Callable[[Ctx], Response]
RouteTable = list[tuple[str, dict[str, Handler]]]


def matching(ctx: Ctx, res: Resource) -> list[Obj]:
    """The objects a list request selects (filtered, ordered), as stored or as views."""
    params = dict(ctx.params)
    if res.hooks.params:
        params = res.hooks.params(ctx, params)
    items = res.hooks.items(ctx) if res.hooks.items else ctx.registry.objects(ctx.store, res.name)
    if res.filter_views:
        items = [ctx.registry.view(ctx.store, res.name, o) for o in items]
    items = filter_items(items, params, res)
    return order_items(items, params.get("_order_by"), res)


def list_handler(res: Resource) -> Handler:
    def handler(ctx: Ctx) -> Response:
        items = matching(ctx, res)
        view = (lambda o: o) if res.filter_views else (lambda o: ctx.registry.view(ctx.store, res.name, o))
        if res.pagination == "cursor":
            return json_response(cursor_page(items, ctx.params, res, view))
        if res.pagination == "none":
            return json_response({"data": [view(o) for o in items]})
        body = offset_page(items, ctx.params, res, view)
        if res.hooks.list_extra:
            body.update(res.hooks.list_extra(items))
        return json_response(body)

    return handler


def _respond(ctx: Ctx, res: Resource, obj: Obj, status: int = 200) -> Response:
    return one(ctx, ctx.registry.view(ctx.store, res.name, obj), status)


def get_handler(res: Resource) -> Handler:
    return lambda ctx: _respond(ctx, res, ctx.registry.lookup(ctx.store, res.name, ctx.path_id))


def create_handler(res: Resource) -> Handler:
    return lambda ctx: _respond(ctx, res, write.create(ctx, res, ctx.body), res.create_status)


def update_handler(res: Resource) -> Handler:
    def handler(ctx: Ctx) -> Response:
        if "update" in res.admin_ops:
            write.require_admin(ctx)
        obj = ctx.registry.lookup(ctx.store, res.name, ctx.path_id)
        write.update(ctx, res, obj, ctx.body)
        return _respond(ctx, res, obj)

    return handler


def delete_handler(res: Resource) -> Handler:
    def handler(ctx: Ctx) -> Response:
        if "delete" in res.admin_ops:
            write.require_admin(ctx)
        write.delete(ctx, res, ctx.registry.lookup(ctx.store, res.name, ctx.path_id))
        return json_response({}, res.delete_status)

    return handler


_GENERIC = {
    "list": ("list", "GET", list_handler),
    "create": ("list", "POST", create_handler),
    "get": ("item", "GET", get_handler),
    "update": ("item", "PUT", update_handler),
    "delete": ("item", "DELETE", delete_handler),
}


def route_table(registry: Registry) -> RouteTable:
    """``[(path, {method: handler})]`` for every declared operation and hand-written route."""
    table: dict[str, dict[str, Handler]] = {}
    for res in registry:
        for op in res.ops:
            where, method, make = _GENERIC[op]
            path = res.path if where == "list" else res.item_path
            table.setdefault(path, {})[method] = make(res)
        for route in res.routes:
            table.setdefault(route.path, {})[route.method] = route.handler
    return list(table.items())
