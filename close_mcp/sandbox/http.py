"""Request context and response helpers shared by every sandbox route.

Envelope, pagination and ``_fields`` rules follow shared/close-api.md §2–§4.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo, SandboxError, validation_error

DEFAULT_LIMIT = 100
DEFAULT_MAX_LIMIT = 100  # flask-mongorest's framework default (close-api.md §2.1)
DEFAULT_MAX_SKIP = 250_000  # observed on /activity/email/; guessed for resources with no observation


@dataclass
class Ctx:
    request: Request
    store: OrgStore
    info: RequestInfo
    params: Mapping[str, str]
    body: Obj

    @property
    def path_id(self) -> str:
        return str(self.request.path_params["id"])


def json_response(data: Any, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status)


def error_response(exc: SandboxError) -> Response:
    return JSONResponse(exc.body, status_code=exc.status)


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise SandboxError(400, {"error": f"{name} must be an integer"}) from None


def select_fields(obj: Obj, fields_param: str | None) -> Obj:
    """Apply ``_fields``: unknown names are dropped, ``custom`` = every ``custom.cf_…`` key,
    ``_all`` = everything."""
    if not fields_param:
        return obj
    wanted = {f.strip() for f in fields_param.split(",") if f.strip()}
    if "_all" in wanted:
        return obj
    return {k: v for k, v in obj.items() if k in wanted or ("custom" in wanted and k.startswith("custom."))}


def one(ctx: Ctx, obj: Obj, status: int = 200) -> Response:
    return json_response(select_fields(obj, ctx.params.get("_fields")), status)


def page(
    ctx: Ctx,
    items: list[Obj],
    view: Callable[[OrgStore, Obj], Obj],
    *,
    max_limit: int = DEFAULT_MAX_LIMIT,
    max_skip: int = DEFAULT_MAX_SKIP,
    total: bool = True,
    extra: Obj | None = None,
) -> Response:
    """Offset pagination: ``_skip``/``_limit``, ``has_more``, optional ``total_results``.

    A ``_limit`` above the resource maximum is refused with 400, as observed on live
    ``/lead/`` (close-api.md §2.1).
    """
    skip = _int_param(ctx.params, "_skip", 0)
    limit = _int_param(ctx.params, "_limit", min(DEFAULT_LIMIT, max_limit))
    if skip < 0:
        raise SandboxError(400, {"error": "_skip must be a non-negative integer"})
    if limit < 0:
        raise validation_error({"_limit": "Input should be greater than or equal to 0"})
    if limit > max_limit:
        raise validation_error({"_limit": f"Input should be less than or equal to {max_limit}"})
    if skip > max_skip:
        raise SandboxError(
            400,
            {
                "error": "The skip you set is larger than the maximum skip for this resource "
                f"(max_skip = {max_skip}). Please refine your search query."
            },
        )
    window = items[skip : skip + limit]
    fields = ctx.params.get("_fields")
    body: Obj = {
        "has_more": skip + limit < len(items),
        "data": [select_fields(view(ctx.store, obj), fields) for obj in window],
    }
    if total:
        body["total_results"] = len(items)
    body.update(extra or {})
    return json_response(body)


# ----- filtering helpers ---------------------------------------------------------------
_OPS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def filter_by(items: Iterable[Obj], params: Mapping[str, str], fields: Iterable[str]) -> list[Obj]:
    """Close's filter params: ``field``, ``field__in`` (comma list), ``field__gt/gte/lt/lte``.

    Dates compare as ISO strings (same format), which orders correctly.
    """
    result = list(items)
    for name in fields:
        for key, raw in params.items():
            base, _, op = key.partition("__")
            if base != name:
                continue
            if op == "":
                wanted = _coerce(raw)
                result = [o for o in result if _matches(o.get(name), wanted)]
            elif op == "in":
                allowed = {_coerce(v) for v in raw.split(",")}
                result = [o for o in result if o.get(name) in allowed]
            elif op in _OPS:
                cmp = _OPS[op]
                result = [o for o in result if o.get(name) is not None and cmp(str(o.get(name)), raw)]
    return result


def _coerce(raw: str) -> Any:
    return {"true": True, "false": False}.get(raw.lower(), raw)


def _matches(value: Any, wanted: Any) -> bool:
    return value == wanted or (isinstance(value, str) and value[:10] == wanted)
