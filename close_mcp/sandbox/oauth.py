"""The sandbox plays Close's OAuth side (close-api.md §8): an app registered in Close, its users
signing in at ``/oauth2/authorize/`` (an HTML page: pick the organization, allow or refuse), and
``/oauth2/token/`` + ``/oauth2/revoke/`` on the API host.

What Close documents, kept here: the code is exchanged with ``client_id`` + ``client_secret`` form
fields; the answer is ``{token_type, access_token, expires_in: 3600, refresh_token, scope:
"all.full_access offline_access", organization_id, user_id}``; a refresh issues a new refresh token
and revokes the old one (rotation); a refusal redirects with ``error=access_denied``. Guesses (not
documented by Close, RFC 6749 followed instead): error bodies ``{"error", "error_description"}``
with 400 (401 ``invalid_client``), codes valid 10 minutes and single use, ``state`` echoed back,
the access token of a rotated refresh token staying valid until it expires.

Issued access tokens are sandbox credentials of their organization (:mod:`.auth`), so the data
routes accept them as ``Authorization: Bearer``. ``POST /_sandbox/oauth`` (with a sandbox key)
sets the access-token lifetime (down to seconds, for tests) or expires every issued token now.
"""

from __future__ import annotations

import html
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from close_mcp.sandbox.auth import SandboxCredential, authenticate
from close_mcp.sandbox.store import SandboxError

if TYPE_CHECKING:
    from close_mcp.sandbox.app import Sandbox

DEMO_CLIENT_ID = "oa2client_sandbox_demo"
DEMO_CLIENT_SECRET = "sandbox_demo_oauth_secret"
CLOSE_SCOPE = "all.full_access offline_access"
CODE_SECONDS = 600.0


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    org_index: int
    user_id: str
    expires_at: float


@dataclass
class _Refresh:
    client_id: str
    org_index: int
    user_id: str


@dataclass
class SandboxOAuth:
    """Registered apps, codes and refresh tokens, and counters a test can read."""

    sandbox: Sandbox
    token_lifetime: float = 3600.0
    apps: dict[str, str] = field(default_factory=lambda: {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET})
    codes: dict[str, _Code] = field(default_factory=dict)
    refresh_tokens: dict[str, _Refresh] = field(default_factory=dict)
    grants: dict[str, int] = field(default_factory=lambda: {"authorization_code": 0, "refresh_token": 0})
    revoked: int = 0

    # ----- /oauth2/authorize/ ------------------------------------------------------------
    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params) if request.method == "GET" else dict(await request.form())
        client_id, redirect_uri = str(params.get("client_id", "")), str(params.get("redirect_uri", ""))
        if client_id not in self.apps:
            return _page("Unknown application", "<p>This OAuth application is not registered.</p>", 400)
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return _page("Invalid redirect URL", "<p>The redirect_uri is missing or not a URL.</p>", 400)
        state = str(params.get("state", ""))
        if params.get("response_type") != "code":
            return _redirect(redirect_uri, error="unsupported_response_type", state=state)
        if request.method == "GET":
            return self._consent_page(client_id, redirect_uri, state)
        if params.get("decision") != "allow":
            return _redirect(redirect_uri, error="access_denied", state=state)
        try:
            org_index = int(str(params.get("organization", "0")))
            org = self.sandbox.orgs[org_index]
        except (ValueError, IndexError):
            return _page("Unknown organization", "<p>Pick one of your organizations.</p>", 400)
        user_id = next(iter(org.users.values()))["id"]
        code = secrets.token_urlsafe(24)
        self.codes[code] = _Code(client_id, redirect_uri, org_index, user_id, time.time() + CODE_SECONDS)
        return _redirect(redirect_uri, code=code, state=state)

    def _consent_page(self, client_id: str, redirect_uri: str, state: str) -> Response:
        orgs = "".join(
            f'<label><input type="radio" name="organization" value="{i}"{" checked" if i == 0 else ""}> '
            f"{html.escape(str(org.org['name']))}</label><br>"
            for i, org in enumerate(self.sandbox.orgs)
        )
        user = next(iter(self.sandbox.orgs[0].users.values()))
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
            for k, v in (
                ("client_id", client_id),
                ("redirect_uri", redirect_uri),
                ("state", state),
                ("response_type", "code"),
            )
        )
        body = (
            f"<p>Signed in as {html.escape(user['email'])} (sandbox demo user).</p>"
            f"<p>An application wants full access to your Close data ({CLOSE_SCOPE}).</p>"
            f'<form method="post" action="/oauth2/authorize/">{hidden}{orgs}'
            '<button name="decision" value="allow">Allow</button> '
            '<button name="decision" value="deny">Deny</button></form>'
        )
        return _page("Authorize application", body)

    # ----- /oauth2/token/ and /oauth2/revoke/ --------------------------------------------
    async def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        client_id = form.get("client_id", "")
        if not client_id or not secrets.compare_digest(
            self.apps.get(client_id, "\0"), form.get("client_secret", "")
        ):
            return _oauth_error("invalid_client", "Client authentication failed.", 401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code = self.codes.pop(form.get("code", ""), None)
            if code is None or code.client_id != client_id or code.expires_at < time.time():
                return _oauth_error("invalid_grant", "Invalid or expired authorization code.")
            if form.get("redirect_uri", code.redirect_uri) != code.redirect_uri:
                return _oauth_error("invalid_grant", "Mismatching redirect URI.")
            self.grants["authorization_code"] += 1
            return self._issue(client_id, code.org_index, code.user_id)
        if grant_type == "refresh_token":
            refresh = self.refresh_tokens.get(form.get("refresh_token", ""))
            if refresh is None or refresh.client_id != client_id:
                return _oauth_error("invalid_grant", "Invalid refresh token.")
            del self.refresh_tokens[form["refresh_token"]]  # rotation: the old one is revoked
            self.grants["refresh_token"] += 1
            return self._issue(client_id, refresh.org_index, refresh.user_id)
        if not grant_type:
            return _oauth_error("invalid_request", "Missing grant_type.")
        return _oauth_error("unsupported_grant_type", f"Unsupported grant type {grant_type!r}.")

    def _issue(self, client_id: str, org_index: int, user_id: str) -> Response:
        access, refresh = "oa2at_" + secrets.token_urlsafe(24), "oa2rt_" + secrets.token_urlsafe(24)
        expires_at = time.time() + self.token_lifetime
        self.sandbox.credentials[access] = SandboxCredential(access, org_index, user_id, "oauth", expires_at)
        self.refresh_tokens[refresh] = _Refresh(client_id, org_index, user_id)
        body = {
            "token_type": "Bearer",
            "access_token": access,
            "expires_in": int(self.token_lifetime) if self.token_lifetime >= 1 else self.token_lifetime,
            "refresh_token": refresh,
            "scope": CLOSE_SCOPE,
            "organization_id": self.sandbox.orgs[org_index].org["id"],
            "user_id": user_id,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def revoke(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        client_id = form.get("client_id", "")
        if not client_id or not secrets.compare_digest(
            self.apps.get(client_id, "\0"), form.get("client_secret", "")
        ):
            return _oauth_error("invalid_client", "Client authentication failed.", 401)
        token = form.get("token", "")
        if self.refresh_tokens.pop(token, None) is not None:
            self.revoked += 1
        cred = self.sandbox.credentials.get(token)
        if cred is not None and cred.kind == "oauth" and cred.expires_at is not None:
            del self.sandbox.credentials[token]
            self.revoked += 1
        return JSONResponse({})  # RFC 7009 §2.2: 200 whether or not the token was valid

    # ----- test controls -----------------------------------------------------------------
    async def control(self, request: Request) -> Response:
        try:
            authenticate(self.sandbox.credentials, request)
        except SandboxError as exc:
            return JSONResponse(exc.body, status_code=exc.status)
        body: dict[str, Any] = await request.json() if await request.body() else {}
        if "token_lifetime" in body:
            self.token_lifetime = float(body["token_lifetime"])
        if body.get("expire_access_tokens"):
            self.expire_now()
        return JSONResponse(self.snapshot())

    def expire_now(self) -> None:
        """Every access token issued so far expires now (as after Close's hour)."""
        now = time.time()
        for key, cred in list(self.sandbox.credentials.items()):
            if cred.expires_at is not None:
                self.sandbox.credentials[key] = replace(cred, expires_at=now)

    def snapshot(self) -> dict[str, Any]:
        live = sum(
            1 for c in self.sandbox.credentials.values() if c.expires_at and c.expires_at > time.time()
        )
        return {
            "token_lifetime": self.token_lifetime,
            "grants": dict(self.grants),
            "live_access_tokens": live,
            "refresh_tokens": len(self.refresh_tokens),
            "revoked": self.revoked,
        }

    def routes(self) -> list[Route]:
        return [
            Route("/oauth2/authorize/", self.authorize, methods=["GET", "POST"]),
            Route("/oauth2/token/", self.token, methods=["POST"]),
            Route("/oauth2/revoke/", self.revoke, methods=["POST"]),
            Route("/_sandbox/oauth", self.control, methods=["GET", "POST"]),
        ]


def _redirect(redirect_uri: str, **params: str) -> Response:
    sep = "&" if "?" in redirect_uri else "?"
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(f"{redirect_uri}{sep}{query}", status_code=302)


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _page(title: str, body: str, status: int = 200) -> Response:
    return HTMLResponse(
        f"<!doctype html><html><head><title>{title} · Close sandbox</title></head>"
        f"<body><h1>{title}</h1>{body}</body></html>",
        status_code=status,
    )
