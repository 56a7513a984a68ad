"""One sandbox and its API request pipeline: auth, rate limits, faults, accounting.

Order of checks for an API request, as Close answers: unknown URL → 404 (before auth),
missing trailing slash → 308, wrong method → 405 (:mod:`.routing`), missing/bad
credential → 401, rate limit → 429, non-JSON write body → 415, then the operation's own
validation (400/404) and its 200/201. The operations themselves are generated from the
resource declarations in :mod:`close_mcp.sandbox.areas` by :mod:`close_mcp.sandbox.engine`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from close_mcp.sandbox.areas import default_registry
from close_mcp.sandbox.auth import DEMO_API_KEY, SandboxCredential, authenticate, issue_credentials
from close_mcp.sandbox.engine import Ctx, Registry
from close_mcp.sandbox.engine.context import error_response
from close_mcp.sandbox.engine.handlers import Handler, RouteTable, route_table
from close_mcp.sandbox.faults import DropConnection, Faults
from close_mcp.sandbox.limits import (
    GENEROUS_LIMIT,
    HeaderStyle,
    LegacyBody,
    LimitEnforcer,
    Verdict,
    endpoint_group,
    ratelimit_headers,
    too_many_requests,
)
from close_mcp.sandbox.oauth import SandboxOAuth
from close_mcp.sandbox.routing import API_PREFIX, build_app
from close_mcp.sandbox.seeding import seed_organization
from close_mcp.sandbox.stats import Stats
from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo, SandboxError, Subscriber
from close_mcp.sandbox.webhook_delivery import DeliveryPolicy, WebhookDispatcher

__all__ = ["ALL_ROUTES", "API_PREFIX", "DEMO_API_KEY", "Sandbox", "SandboxConfig", "SandboxCredential"]


def _routes(registry: Registry) -> RouteTable:
    """The route table with literal paths first: ``/user/availability/`` must win over ``/user/{id}/``
    (Starlette takes the first full match)."""
    return sorted(route_table(registry), key=lambda route: "{" in route[0])


ALL_ROUTES = _routes(default_registry())  # [(path, {method: handler})] of the default resources


@dataclass
class SandboxConfig:
    seed: int = 7
    leads: int = 260
    organizations: int = 1
    api_keys: list[str] | None = None  # one admin key per organization; generated when None
    rate_limit: int | None = None  # per window per key and endpoint group; None = GENEROUS_LIMIT
    rate_window: float = 1.0
    org_multiplier: int = 3
    header_style: HeaderStyle = "semicolon"  # the live form (limits.py); "comma" = documented
    legacy_429_body: LegacyBody = "none"
    # Webhook subscriptions may use plain http to a loopback host (a local receiver in a test or demo).
    allow_loopback_webhooks: bool = False
    webhook_policy: DeliveryPolicy | None = None  # retry schedule etc.; None = Close's defaults
    oauth_token_lifetime: float = 3600.0  # seconds an /oauth2/token/ access token lives (Close: 1 h)


# (the request's record: method, path without /api/v1, query; status; body): tests check every answer
# against Close's published response schemas.
ResponseObserver = Callable[[dict[str, Any], int, bytes], None]


class Sandbox:
    """One sandbox: its organizations, credentials, limits, faults and statistics."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        orgs: list[OrgStore] | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.config = cfg = config or SandboxConfig()
        self.registry = registry or default_registry()
        self.orgs = orgs or [
            seed_organization(cfg.seed + i, cfg.leads, name="Acme Demo Co" if i == 0 else f"Demo Org {i + 1}")
            for i in range(cfg.organizations)
        ]
        for org in self.orgs:
            org.registry = self.registry
        self.credentials: dict[str, SandboxCredential] = issue_credentials(self.orgs, cfg.api_keys)
        self.limiter = self._enforcer(cfg.rate_limit, cfg.rate_window)
        self.faults = Faults()
        self.stats = Stats()
        self.response_observers: list[ResponseObserver] = []
        policy = cfg.webhook_policy or DeliveryPolicy()
        if cfg.allow_loopback_webhooks != policy.allow_loopback_http:
            policy = replace(policy, allow_loopback_http=cfg.allow_loopback_webhooks)
        self.webhooks = WebhookDispatcher(policy)
        self.subscribe(self._deliver)
        self.app = build_app(self, _routes(self.registry))
        self.app.state.webhooks = self.webhooks  # the webhook area's hooks reach it from the request
        self.app.router.lifespan_context = self._lifespan
        self.oauth = SandboxOAuth(self, cfg.oauth_token_lifetime)  # Close's OAuth side (.oauth)
        self.app.router.routes.extend(self.oauth.routes())

    @asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        """The webhook dispatcher runs while the app is served (uvicorn's lifespan)."""
        async with self.webhooks:
            yield

    def _deliver(self, store: OrgStore, event: Obj) -> None:
        """Every emitted event goes to the organization's matching subscriptions. Without a running
        dispatcher (the app used without its lifespan) nothing is delivered, as before."""
        try:
            self.webhooks.submit(event, store.webhooks.values())
        except RuntimeError:  # submit's only error: "the webhook dispatcher is not running"
            return

    @property
    def api_key(self) -> str:
        return next(iter(self.credentials))

    def key_for_org(self, index: int) -> str:
        return next(
            c.secret for c in self.credentials.values() if c.org_index == index and c.kind == "api_key"
        )

    def store(self, index: int = 0) -> OrgStore:
        return self.orgs[index]

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber(store, event)`` for every event any organization emits."""
        for org in self.orgs:
            org.subscribers.append(subscriber)

    def _enforcer(self, per_key: int | None, window: float) -> LimitEnforcer:
        return LimitEnforcer(per_key or GENEROUS_LIMIT, window, self.config.org_multiplier)

    def set_rate_limit(self, per_key: int | None, window: float = 1.0) -> None:
        self.limiter = self._enforcer(per_key, window)

    def authenticate(self, request: Request) -> SandboxCredential:
        return authenticate(self.credentials, request)

    # ----- one API request ---------------------------------------------------------------
    async def handle(self, request: Request, handlers: dict[str, Handler]) -> Response:
        method = request.method
        path = request.url.path.removeprefix(API_PREFIX)
        record: dict[str, Any] = {"method": method, "path": path, "query": dict(request.query_params)}
        self.stats.log(record)
        verdict: Verdict | None = None
        try:
            cred = self.authenticate(request)
            record["org"] = cred.org_index
            if method in ("POST", "PUT", "PATCH"):
                # Close has the whole request before it is slow: a stalled write still lands after
                # the client gave up waiting (the body is cached for _json_body).
                await request.body()
            for rule in self.faults.take(method, path, ("latency",)):
                await anyio.sleep(rule.delay)
            verdict = self._forced_429(method, path) or self._rate_check(cred, method, path)
            if not verdict.allowed:
                headers, body = too_many_requests(
                    verdict, self.config.header_style, self.config.legacy_429_body
                )
                return self._finish(record, JSONResponse(body, status_code=429, headers=headers))
            for rule in self.faults.take(method, path, ("status",)):
                body = rule.body or {"error": f"Injected fault: HTTP {rule.status}"}
                # An injected 429 plays one of the "stricter, unpredictable limits" that can trip
                # inside the advertised window, whose 429 may lack RateLimit (close-api.md §1.1).
                shown = verdict if rule.status != 429 else None
                return self._finish(record, JSONResponse(body, status_code=rule.status), shown)
            if self.faults.take(method, path, ("drop_before",)):
                raise DropConnection
            body = await self._json_body(request)
            params = dict(request.query_params)
            extra = body.get("_params")
            if isinstance(extra, dict):  # long filters (close-api.md §2.4)
                del body["_params"]
                params.update({str(k): str(v) for k, v in extra.items()})
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
        group = endpoint_group(method, path)
        return Verdict(
            False, self.limiter.per_key, 0, rules[0].reset, group, "key", self.limiter.window_seconds
        )

    def _rate_check(self, cred: SandboxCredential, method: str, path: str) -> Verdict:
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
        """Every API response with a credential carries ``RateLimit`` (close-api.md §1.2)."""
        record["status"] = response.status_code
        self.stats.statuses[response.status_code] += 1
        for observe in self.response_observers:
            observe(record, response.status_code, bytes(getattr(response, "body", b"")))
        if verdict is not None and "ratelimit" not in response.headers:
            response.headers.update(ratelimit_headers(verdict, self.config.header_style))
        return response
