"""URL routing of the sandbox: API routes from the declarations, control routes, and
Close's answers for unknown URLs (404 before auth), wrong methods (405) and a missing
trailing slash (308)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from close_mcp.sandbox.control import control_routes
from close_mcp.sandbox.engine.handlers import Handler, RouteTable
from close_mcp.sandbox.faults import DropConnection

if TYPE_CHECKING:
    from close_mcp.sandbox.app import Sandbox

API_PREFIX = "/api/v1"


def build_app(sandbox: Sandbox, table: RouteTable) -> Starlette:
    routes = [
        Route(API_PREFIX + path, _ApiEndpoint(sandbox, handlers), methods=list(handlers))
        for path, handlers in table
    ]
    app = Starlette(
        routes=routes + control_routes(sandbox), exception_handlers={HTTPException: _http_exception}
    )
    app.router.redirect_slashes = False  # answered by _http_exception with a 308 instead
    return app


class _ApiEndpoint:
    """Raw ASGI endpoint so a fault can drop the connection mid-response."""

    def __init__(self, sandbox: Sandbox, handlers: dict[str, Handler]) -> None:
        self.sandbox, self.handlers = sandbox, handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.sandbox.handle(request, self.handlers)
        except DropConnection:
            self.sandbox.stats.requests[-1]["status"] = "dropped"
            # Start a response that promises a body, then abort: the server closes the socket.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
                }
            )
            raise
        await response(scope, receive, send)


def _slash_redirect(request: Request) -> Response | None:
    """A known URL without its trailing slash. Guess (close-api.md §10.11 untested): Close is
    Flask, and Werkzeug (≥ 0.15, pallets/werkzeug#1342) answers strict-slash rules with **308** for
    every method, before auth, keeping the query string; 308 also keeps method and body, so
    a POST follows it. (Starlette's own redirect was a 307.)"""
    path = request.url.path
    if path.endswith("/"):
        return None
    scope = {**request.scope, "path": path + "/"}
    if any(route.matches(scope)[0] != Match.NONE for route in request.app.router.routes):
        return RedirectResponse(str(request.url.replace(path=path + "/")), status_code=308)
    return None


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        redirect = _slash_redirect(request)
        if redirect is not None:
            return redirect
        text = (
            "The requested URL was not found on the server. If you entered the URL manually please check "
            "your spelling and try again."
        )
    elif exc.status_code == 405:
        text = "The method is not allowed for the requested URL."
    else:
        text = exc.detail
    return JSONResponse({"error": text}, status_code=exc.status_code, headers=exc.headers)
