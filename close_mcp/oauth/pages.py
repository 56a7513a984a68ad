"""The two pages of a sign-in that are close-mcp's own: ``/oauth/consent`` (what the MCP client asks
for, allow or deny; allow goes on to Close's authorize page) and ``/oauth/callback`` (Close sends the
user back; close-mcp exchanges Close's code server-side and sends the user back to the MCP client)."""

from __future__ import annotations

import html
import logging
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from close_mcp.oauth.close_app import CloseOAuthApp, CloseSignInFailed
from close_mcp.oauth.provider import CloseSignInProvider
from close_mcp.oauth.scopes import SCOPE_TEXT

log = logging.getLogger("close_mcp.oauth")
EXPIRED = "This sign-in has expired or was already used. Start again from your MCP host."


def _back(redirect_uri: str, **params: str | None) -> Response:
    sep = "&" if "?" in redirect_uri else "?"
    query = urlencode({k: v for k, v in params.items() if v})
    return RedirectResponse(
        f"{redirect_uri}{sep}{query}", status_code=302, headers={"Cache-Control": "no-store"}
    )


def _page(title: str, body: str, status: int = 200) -> Response:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)} · close-mcp</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


class SignInPages:
    def __init__(self, provider: CloseSignInProvider, close: CloseOAuthApp) -> None:
        self.provider, self.close = provider, close

    @property
    def callback_url(self) -> str:
        return f"{self.provider.base_url}/oauth/callback"

    async def consent(self, request: Request) -> Response:
        params = request.query_params if request.method == "GET" else await request.form()
        flow_id = str(params.get("flow", ""))
        flow = await self.provider.flow(flow_id) if flow_id else None
        if flow is None:
            return _page("Sign-in expired", f"<p>{EXPIRED}</p>", 400)
        if request.method == "GET":
            items = "".join(
                f"<li><b>{html.escape(s)}</b>: {html.escape(SCOPE_TEXT.get(s, s))}</li>"
                for s in flow["scopes"]
            )
            client = html.escape(flow.get("client_name") or flow["client_id"])
            host = html.escape(urlsplit(flow["redirect_uri"]).netloc or flow["redirect_uri"])
            body = (
                f"<p><b>{client}</b> (returning to {host}) asks to use your Close account through close-mcp:</p>"
                f'<form method="post" action="/oauth/consent"><p>Grant at most:</p><ul>{items}</ul>'
                f'<input type="hidden" name="flow" value="{html.escape(flow_id)}">'
                "<p>Allow sends you to Close to sign in.</p>"
                '<button name="decision" value="allow">Allow</button> '
                '<button name="decision" value="deny">Deny</button></form>'
            )
            return _page("Sign in with Close", body)
        if params.get("decision") != "allow":
            await self.provider.drop_flow(flow_id)
            return _back(flow["redirect_uri"], error="access_denied", state=flow.get("state"))
        chosen = str(params.get("scope") or flow["scopes"][-1])
        if chosen not in flow["scopes"]:
            return _page("Not requested", f"<p>{html.escape(chosen)} was not asked for.</p>", 400)
        # RFC 6749 §3.3: the grant may be narrower than the request; the token response says which.
        await self.provider.narrow_flow(flow_id, flow, flow["scopes"][: flow["scopes"].index(chosen) + 1])
        return RedirectResponse(self.close.authorize_redirect(self.callback_url, flow_id), status_code=302)

    async def callback(self, request: Request) -> Response:
        flow_id = request.query_params.get("state", "")
        flow = await self.provider.flow(flow_id) if flow_id else None
        if flow is None:
            return _page("Sign-in expired", f"<p>{EXPIRED}</p>", 400)
        code = request.query_params.get("code")
        if not code:  # Close: error=access_denied when the user refuses
            await self.provider.drop_flow(flow_id)
            error = request.query_params.get("error") or "access_denied"
            return _back(
                flow["redirect_uri"],
                error="access_denied" if error == "access_denied" else "server_error",
                state=flow.get("state"),
            )
        try:
            close = await self.close.exchange_code(code, self.callback_url)
        except CloseSignInFailed as exc:
            await self.provider.drop_flow(flow_id)
            return _back(
                flow["redirect_uri"],
                error="server_error",
                error_description=str(exc),
                state=flow.get("state"),
            )
        ours = await self.provider.complete(flow_id, flow, close)
        return _back(flow["redirect_uri"], code=ours, state=flow.get("state"))

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/consent", self.consent, methods=["GET", "POST"]),
            Route("/oauth/callback", self.callback, methods=["GET"]),
        ]
