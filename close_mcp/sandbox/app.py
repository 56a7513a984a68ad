"""The sandbox's Starlette app: routing, auth, rate limits, faults and request accounting.

Order of checks for an API request, as Close answers: unknown URL → 404 (before auth),
wrong method → 405, missing/bad credential → 401, rate limit → 429, non-JSON write
body → 415, then the route's own validation (400/404) and its 200/201.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from close_mcp.sandbox import routes_activities, routes_admin, routes_deals, routes_leads
from close_mcp.sandbox.faults import DropConnection, FaultRule, Faults
from close_mcp.sandbox.http import Ctx, error_response
from close_mcp.sandbox.limits import (
    HeaderStyle,
    LegacyBody,
    RateLimiter,
    Verdict,
    endpoint_group,
    ratelimit_header,
    too_many_requests,
)
from close_mcp.sandbox.seed import seed_organization
from close_mcp.sandbox.store import OrgStore, RequestInfo, SandboxError

API_PREFIX = "/api/v1"
DEMO_API_KEY = "sandbox_demo_api_key"
log = logging.getLogger("close_mcp.sandbox")

Handler = Callable[[Ctx], Response]
ALL_ROUTES: list[tuple[str, dict[str, Any]]] = [
    *routes_leads.ROUTES,
    *routes_deals.ROUTES,
    *routes_activities.ROUTES,
    *routes_admin.ROUTES,
]


@dataclass
class SandboxConfig:
    seed: int = 7
    leads: int = 260
    organizations: int = 1
    api_keys: list[str] | None = None  # one admin key per organization; generated when None
    rate_limit: int | None = None  # requests per window per key and endpoint group; None = off
    rate_window: float = 1.0
    org_multiplier: int = 3
    header_style: HeaderStyle = "comma"
    legacy_429_body: LegacyBody = "none"


@dataclass(frozen=True)
class Credential:
    secret: str
    org_index: int
    user_id: str
    kind: str  # "api_key" | "oauth"

    @property
    def key_id(self) -> str:
        return "api_" + hashlib.sha256(self.secret.encode()).hexdigest()[:22]


@dataclass
class Stats:
    statuses: Counter[int] = field(default_factory=Counter)
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def served_429(self) -> int:
        return self.statuses[429]

    def count(self, method: str, path_pattern: str = ".*") -> int:
        import re

        pattern = re.compile(path_pattern)
        return sum(1 for r in self.requests if r["method"] == method and pattern.fullmatch(r["path"]))


class Sandbox:
    """One sandbox: its organizations, credentials, limits, faults and statistics."""

    def __init__(self, config: SandboxConfig | None = None, orgs: list[OrgStore] | None = None) -> None:
        self.config = config or SandboxConfig()
        cfg = self.config
        self.orgs = orgs or [
            seed_organization(cfg.seed + i, cfg.leads, name="Acme Demo Co" if i == 0 else f"Demo Org {i + 1}")
            for i in range(cfg.organizations)
        ]
        keys = cfg.api_keys or [DEMO_API_KEY] + [
            f"sandbox_org{i + 1}_api_key" for i in range(1, len(self.orgs))
        ]
        self.credentials: dict[str, Credential] = {}
        for i, (org, key) in enumerate(zip(self.orgs, keys, strict=False)):
            users = list(org.users.values())
            admin = users[0]["id"]
            self.credentials[key] = Credential(key, i, admin, "api_key")
            self.credentials[f"{key}_oauth"] = Credential(f"{key}_oauth", i, admin, "oauth")
            restricted = next((u["id"] for u in users if u["role_id"] != "admin"), admin)
            self.credentials[f"{key}_restricted"] = Credential(f"{key}_restricted", i, restricted, "api_key")
        self.limiter = (
            RateLimiter(cfg.rate_limit, cfg.rate_window, cfg.org_multiplier) if cfg.rate_limit else None
        )
        self.faults = Faults()
        self.stats = Stats()
        self.app = self._build_app()

    @property
    def api_key(self) -> str:
        return next(iter(self.credentials))

    def key_for_org(self, index: int) -> str:
        return next(
            c.secret for c in self.credentials.values() if c.org_index == index and c.kind == "api_key"
        )

    def store(self, index: int = 0) -> OrgStore:
        return self.orgs[index]

    def set_rate_limit(self, per_key: int | None, window: float = 1.0) -> None:
        self.limiter = RateLimiter(per_key, window, self.config.org_multiplier) if per_key else None

    # ----- auth --------------------------------------------------------------------------
    def authenticate(self, request: Request) -> Credential:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        secret = None
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", "x"
            secret = user if password == "" else None
            cred = self.credentials.get(secret or "")
            if cred and cred.kind != "api_key":
                cred = None
        elif scheme.lower() == "bearer":
            cred = self.credentials.get(value.strip())
            if cred and cred.kind != "oauth":
                cred = None
        else:
            cred = None
        if cred is None:
            raise SandboxError(401, {"error": "Unauthorized"})
        return cred

    # ----- one API request ---------------------------------------------------------------
    async def handle(self, request: Request, handlers: dict[str, Handler]) -> Response:
        method = request.method
        path = request.url.path.removeprefix(API_PREFIX)
        record: dict[str, Any] = {"method": method, "path": path, "query": dict(request.query_params)}
        self.stats.requests.append(record)
        verdict: Verdict | None = None
        try:
            cred = self.authenticate(request)
            record["org"] = cred.org_index
            for rule in self.faults.take(method, path, ("latency",)):
                await anyio.sleep(rule.delay)
            verdict = self._forced_429(method, path) or self._rate_check(cred, method, path)
            if verdict and not verdict.allowed:
                headers, body = too_many_requests(
                    verdict, self.config.header_style, self.config.legacy_429_body
                )
                return self._finish(record, JSONResponse(body, status_code=429, headers=headers))
            for rule in self.faults.take(method, path, ("status",)):
                body = rule.body or {"error": f"Injected fault: HTTP {rule.status}"}
                return self._finish(record, JSONResponse(body, status_code=rule.status), verdict)
            if self.faults.take(method, path, ("drop_before",)):
                raise DropConnection
            body = await self._json_body(request)
            params = dict(request.query_params)
            if isinstance(body.get("_params"), dict):
                params.update({k: str(v) for k, v in body.pop("_params").items()})
            effective = method
            if method == "POST" and request.headers.get("x-http-method-override", "").upper() == "GET":
                effective = "GET"
            handler = handlers.get(effective)
            if handler is None:
                raise SandboxError(405, {"error": "The method is not allowed for the requested URL."})
            store = self.orgs[cred.org_index]
            info = RequestInfo(
                user_id=cred.user_id,
                request_id=store.ids.new("req"),
                method=method,
                path=request.url.path,
                api_key_id=cred.key_id if cred.kind == "api_key" else None,
            )
            response = handler(Ctx(request, store, info, params, body))
            if self.faults.take(method, path, ("drop_after",)):
                raise DropConnection
            return self._finish(record, response, verdict)
        except SandboxError as exc:
            return self._finish(record, error_response(exc), verdict)

    def _forced_429(self, method: str, path: str) -> Verdict | None:
        rules = self.faults.take(method, path, ("rate_limit",))
        if not rules:
            return None
        return Verdict(
            False, self.config.rate_limit or 100, 0, rules[0].reset, endpoint_group(method, path), "key"
        )

    def _rate_check(self, cred: Credential, method: str, path: str) -> Verdict | None:
        if self.limiter is None:
            return None
        org_id = self.orgs[cred.org_index].org["id"]
        return self.limiter.check(cred.secret, org_id, endpoint_group(method, path))

    async def _json_body(self, request: Request) -> dict[str, Any]:
        if request.method not in ("POST", "PUT", "PATCH"):
            return {}
        raw = await request.body()
        if not raw.strip():
            return {}
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise SandboxError(
                415,
                {"error": "Unsupported Media Type: send a JSON body with Content-Type: application/json."},
            )
        try:
            body = json.loads(raw)
        except ValueError:
            raise SandboxError(400, {"error": "Invalid JSON in request body."}) from None
        if not isinstance(body, dict):
            raise SandboxError(400, {"error": "Request body must be a JSON object."})
        return body

    def _finish(self, record: dict[str, Any], response: Response, verdict: Verdict | None = None) -> Response:
        record["status"] = response.status_code
        self.stats.statuses[response.status_code] += 1
        if verdict is not None and "ratelimit" not in response.headers:
            response.headers["RateLimit"] = ratelimit_header(verdict, self.config.header_style)
        return response

    # ----- the app -----------------------------------------------------------------------
    def _build_app(self) -> Starlette:
        routes = [
            Route(API_PREFIX + path, _ApiEndpoint(self, handlers), methods=list(handlers))
            for path, handlers in ALL_ROUTES
        ]
        routes += _admin_routes(self)
        return Starlette(routes=routes, exception_handlers={HTTPException: _http_exception})


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


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        text = (
            "The requested URL was not found on the server. If you entered the URL manually please check "
            "your spelling and try again."
        )
    elif exc.status_code == 405:
        text = "The method is not allowed for the requested URL."
    else:
        text = exc.detail
    return JSONResponse({"error": text}, status_code=exc.status_code, headers=exc.headers)


def _admin_routes(sandbox: Sandbox) -> list[Route]:
    """``/_sandbox/…``: test and demo controls (faults, stats, limits). Need a valid key."""

    async def guarded(request: Request, action: Callable[[dict[str, Any]], Any]) -> Response:
        try:
            sandbox.authenticate(request)
        except SandboxError as exc:
            return error_response(exc)
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            return JSONResponse(action(body))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            return await guarded(request, lambda _b: (sandbox.faults.clear(), {"ok": True})[1])
        return await guarded(
            request, lambda b: {"ok": True, "rule": repr(sandbox.faults.add(FaultRule.from_json(b)))}
        )

    async def stats(request: Request) -> Response:
        return await guarded(
            request,
            lambda _b: {
                "statuses": dict(sandbox.stats.statuses),
                "requests": len(sandbox.stats.requests),
                "served_429": sandbox.stats.served_429,
            },
        )

    async def limits(request: Request) -> Response:
        return await guarded(
            request,
            lambda b: (sandbox.set_rate_limit(b.get("rate_limit"), b.get("window", 1.0)), {"ok": True})[1],
        )

    return [
        Route("/_sandbox/faults", faults, methods=["POST", "DELETE"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/limits", limits, methods=["POST"]),
    ]
