"""Sign in with Close on loopback: the real remote server in ``--oauth`` mode against a sandbox,
a person played by a real HTTP client (it reads each consent page's form and submits it), and the
MCP SDK's own OAuth client (``mcp.client.auth.OAuthClientProvider``)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx2
from conftest import SPECS, settings_for_tests
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from bench.remote_load import ACCEPT, INIT
from close_mcp.app import RemoteApp, Upstream, open_remote_app
from close_mcp.http_app import RemoteConfig
from close_mcp.sandbox import RunningSandbox
from close_mcp.shared_store import SharedStore
from close_mcp.uvicorn_runner import bind, serve_app_on

REDIRECT_URI = "http://127.0.0.1:9/callback"  # never served: the person stops at the redirect to it
_FORM = re.compile(r'<form method="post" action="([^"]+)">(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@asynccontextmanager
async def oauth_server(
    sandbox: RunningSandbox,
    store: Path,
    *,
    shared: SharedStore | None = None,
    port: int = 0,
    public_url: str | None = None,
    **overrides: Any,
) -> AsyncIterator[RemoteApp]:
    """The remote server with ``--oauth``, its Close being the sandbox (whose demo OAuth app it uses);
    records in the owner-only file ``store``, or in ``shared``."""
    config = RemoteConfig(public_url=public_url)
    sock = bind(config.host, port)
    config.port = sock.getsockname()[1]
    settings = settings_for_tests(sandbox=True, oauth=True, oauth_store=store, **overrides)
    try:
        async with (
            open_remote_app(
                settings, Upstream(sandbox.base_url, None), config, specs=SPECS, oauth_store=shared
            ) as remote,
            serve_app_on(remote.asgi, sock),
        ):
            yield remote
    finally:
        sock.close()


def base_of(remote: RemoteApp) -> str:
    return remote.config.base_url


@dataclass
class Person:
    """Follows redirects by hand and answers each consent page: ours (``/oauth/consent``) and
    Close's (``/oauth2/authorize/``, on the sandbox). Stops at the redirect back to the client."""

    ours: str = "allow"
    close: str = "allow"
    scope: str | None = None  # the tier chosen on close-mcp's consent page; None = what was asked
    pages: list[str] = field(default_factory=list)  # the URLs of the pages it answered

    async def sign_in(self, authorization_url: str, redirect_uri: str = REDIRECT_URI) -> str:
        async with httpx2.AsyncClient(timeout=30) as http:
            response = await http.get(authorization_url)
            for _ in range(12):
                if response.status_code in (302, 303):
                    location = urljoin(str(response.url), response.headers["location"])
                    if location.startswith(redirect_uri):
                        return location
                    response = await http.get(location)
                    continue
                match = _FORM.search(response.text) if response.status_code == 200 else None
                if match is None:
                    raise AssertionError(f"unexpected answer {response.status_code}: {response.text[:300]}")
                url = str(response.url)
                self.pages.append(url)
                form = {k: html.unescape(v) for k, v in _HIDDEN.findall(match.group(2))}
                if "/oauth2/authorize" in url:
                    form.update(organization="0", decision=self.close)
                else:
                    form["decision"] = self.ours
                    if self.scope:
                        form["scope"] = self.scope
                response = await http.post(urljoin(url, html.unescape(match.group(1))), data=form)
        raise AssertionError("too many redirects")


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class MemoryTokens:
    """The MCP client's token storage (``mcp.client.auth.TokenStorage``)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def sdk_auth(
    base: str, person: Person, storage: MemoryTokens, scope: str = "read write_safe"
) -> OAuthClientProvider:
    landed: list[str] = []

    async def redirect(url: str) -> None:
        landed.append(await person.sign_in(url))

    async def callback() -> AuthorizationCodeResult:
        query = query_of(landed.pop())
        if "code" not in query:
            raise AssertionError(f"sign-in refused: {query}")
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"))

    metadata = OAuthClientMetadata(
        client_name="close-mcp tests",
        redirect_uris=[REDIRECT_URI],  # type: ignore[list-item]
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        scope=scope,
    )
    return OAuthClientProvider(f"{base}/mcp", metadata, storage, redirect, callback)


@asynccontextmanager
async def signed_in_client(
    base: str,
    person: Person | None = None,
    storage: MemoryTokens | None = None,
    scope: str = "read write_safe",
) -> AsyncIterator[Client]:
    auth = sdk_auth(base, person or Person(), storage or MemoryTokens(), scope)
    async with (
        httpx2.AsyncClient(auth=auth, timeout=30) as http,
        Client(streamable_http_client(f"{base}/mcp", http_client=http), mode="legacy") as client,
    ):
        yield client


# ----- a hand-driven OAuth client, for the requests the SDK's client would never send ----------
def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


@dataclass
class HandClient:
    base: str
    client_id: str
    redirect_uri: str = REDIRECT_URI

    @classmethod
    async def register(
        cls, base: str, scope: str = "read write_safe", redirect_uri: str = REDIRECT_URI
    ) -> HandClient:
        async with httpx2.AsyncClient() as http:
            response = await http.post(
                f"{base}/register",
                json={
                    "client_name": "hand client",
                    "redirect_uris": [redirect_uri],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                    "scope": scope,
                },
            )
        assert response.status_code == 201, response.text
        return cls(base, response.json()["client_id"], redirect_uri)

    def authorize_url(self, challenge: str, state: str = "st-1", scope: str = "read", **extra: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
            "scope": scope,
            "resource": f"{self.base}/mcp",
            **extra,
        }
        return f"{self.base}/authorize?{urlencode(query)}"

    async def code(self, person: Person | None = None, scope: str = "read") -> tuple[str, str]:
        """Sign in; the code and its verifier."""
        verifier, challenge = pkce()
        landed = query_of(await (person or Person()).sign_in(self.authorize_url(challenge, scope=scope)))
        assert "code" in landed, landed
        return landed["code"], verifier

    async def token(self, **form: str) -> httpx2.Response:
        async with httpx2.AsyncClient() as http:
            return await http.post(f"{self.base}/token", data={"client_id": self.client_id, **form})

    async def exchange(self, code: str, verifier: str, redirect_uri: str | None = None) -> httpx2.Response:
        return await self.token(
            grant_type="authorization_code",
            code=code,
            code_verifier=verifier,
            redirect_uri=redirect_uri or self.redirect_uri,
        )

    async def access_token(self, scope: str = "read") -> str:
        code, verifier = await self.code(scope=scope)
        response = await self.exchange(code, verifier)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


async def mcp_status(base: str, token: str) -> httpx2.Response:
    """One raw ``initialize`` POST to ``/mcp`` with this bearer token."""
    async with httpx2.AsyncClient() as http:
        return await http.post(
            f"{base}/mcp", json=INIT, headers={"authorization": f"Bearer {token}", **ACCEPT}
        )
