"""One API request as the handlers see it, and the JSON responses they return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo, SandboxError

if TYPE_CHECKING:
    from close_mcp.sandbox.engine.registry import Registry


@dataclass
class Ctx:
    request: Request | None  # None for writes made by the seed or by another handler
    store: OrgStore
    info: RequestInfo
    params: Mapping[str, str]
    body: Obj
    scratch: Obj = field(default_factory=dict)  # hand-off between one request's hooks

    @property
    def registry(self) -> Registry:
        assert self.store.registry is not None
        return self.store.registry

    @property
    def path_id(self) -> str:
        assert self.request is not None
        return str(self.request.path_params["id"])

    @property
    def user(self) -> Obj:
        return self.store.users[self.info.user_id]


def json_response(data: Any, status: int = 200) -> Response:
    if status == 204:
        return Response(status_code=204)
    return JSONResponse(data, status_code=status)


def error_response(exc: SandboxError) -> Response:
    return JSONResponse(exc.body, status_code=exc.status)


def select_fields(obj: Obj, fields_param: str | None) -> Obj:
    """Apply ``_fields``: unknown names are dropped, ``custom`` = every ``custom.cf_…`` key,
    ``_all`` = everything (close-api.md §3.1)."""
    if not fields_param:
        return obj
    wanted = {f.strip() for f in fields_param.split(",") if f.strip()}
    if "_all" in wanted:
        return obj
    return {k: v for k, v in obj.items() if k in wanted or ("custom" in wanted and k.startswith("custom."))}


def one(ctx: Ctx, obj: Obj, status: int = 200) -> Response:
    return json_response(select_fields(obj, ctx.params.get("_fields")), status)
