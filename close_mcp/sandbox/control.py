"""``/_sandbox/…``: test and demo controls (faults, stats, limits). They need a valid key."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from close_mcp.sandbox.auth import authenticate
from close_mcp.sandbox.engine.context import error_response
from close_mcp.sandbox.faults import FaultRule
from close_mcp.sandbox.store import SandboxError

if TYPE_CHECKING:
    from close_mcp.sandbox.app import Sandbox


def control_routes(sandbox: Sandbox) -> list[Route]:
    async def guarded(request: Request, action: Callable[[dict[str, Any]], Any]) -> Response:
        try:
            authenticate(sandbox.credentials, request)
        except SandboxError as exc:
            return error_response(exc)
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            return JSONResponse(action(body))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    def clear(_body: dict[str, Any]) -> dict[str, Any]:
        sandbox.faults.clear()
        return {"ok": True}

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            return await guarded(request, clear)
        return await guarded(
            request, lambda b: {"ok": True, "rule": repr(sandbox.faults.add(FaultRule.from_json(b)))}
        )

    def stats(_body: dict[str, Any]) -> dict[str, Any]:
        s = sandbox.stats
        return {
            "statuses": dict(s.statuses),
            "requests": len(s.requests),
            "served_429": s.served_429,
            **sandbox.limiter.refusals(),
        }

    def limits(body: dict[str, Any]) -> dict[str, Any]:
        sandbox.set_rate_limit(body.get("rate_limit"), body.get("window", 1.0))
        return {"ok": True}

    async def stats_route(request: Request) -> Response:
        return await guarded(request, stats)

    async def limits_route(request: Request) -> Response:
        return await guarded(request, limits)

    return [
        Route("/_sandbox/faults", faults, methods=["POST", "DELETE"]),
        Route("/_sandbox/stats", stats_route, methods=["GET"]),
        Route("/_sandbox/limits", limits_route, methods=["POST"]),
    ]
