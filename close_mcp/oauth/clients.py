"""One :class:`~close_mcp.client.CloseClient` per grant, whose requests carry the grant's current
Close access token: the transport sets ``Authorization`` on every request and, on a 401, refreshes
the token (:class:`~.close_tokens.GrantTokens`) and sends the request once more."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx2
from mcp.server import ServerRequestContext
from mcp.server.auth.middleware.auth_context import get_access_token

from close_mcp.client import CloseClient
from close_mcp.credentials import Credential, MissingCredential
from close_mcp.oauth.close_tokens import SIGN_IN_AGAIN, GrantTokens, SignInAgain


class GrantTransport(httpx2.AsyncBaseTransport):
    def __init__(
        self, tokens: GrantTokens, grant_id: str, inner: httpx2.AsyncBaseTransport | None = None
    ) -> None:
        self.tokens, self.grant_id = tokens, grant_id
        self.inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        token = await self.tokens.access_token(self.grant_id)
        request.headers["Authorization"] = f"Bearer {token}"
        response = await self.inner.handle_async_request(request)
        if response.status_code != 401:
            return response
        await response.aclose()
        token = await self.tokens.refresh(self.grant_id, stale=token)
        request.headers["Authorization"] = f"Bearer {token}"
        response = await self.inner.handle_async_request(request)
        if response.status_code == 401:  # a fresh token refused: the user lost access to Close
            await response.aclose()
            await self.tokens.end(self.grant_id)
            raise SignInAgain(SIGN_IN_AGAIN)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class GrantClients:
    """Clients by grant, closed when idle for ``idle_seconds`` (checked on use) and at shutdown."""

    def __init__(
        self,
        tokens: GrantTokens,
        base_url: str,
        *,
        wait_budget: float,
        timeout: float,
        idle_seconds: float = 600.0,
    ) -> None:
        self.tokens, self.base_url = tokens, base_url
        self.wait_budget, self.timeout, self.idle_seconds = wait_budget, timeout, idle_seconds
        self._clients: dict[str, tuple[CloseClient, float]] = {}
        self._leases: dict[str, int] = {}

    def _client(self, grant_id: str) -> CloseClient:
        entry = self._clients.get(grant_id)
        if entry is None:
            # The credential names the grant (for rate-limit buckets and logs), never a Close token.
            credential = Credential(f"grant:{grant_id}", "oauth")
            client = CloseClient(
                credential,
                self.base_url,
                wait_budget=self.wait_budget,
                timeout=self.timeout,
                transport=GrantTransport(self.tokens, grant_id),
            )
            entry = (client, time.monotonic())
        self._clients[grant_id] = (entry[0], time.monotonic())
        return entry[0]

    async def _evict(self) -> None:
        now = time.monotonic()
        for grant_id, (client, used) in list(self._clients.items()):
            if now - used > self.idle_seconds and not self._leases.get(grant_id):
                del self._clients[grant_id]
                await client.aclose()

    @asynccontextmanager
    async def lease(self, grant_id: str) -> AsyncIterator[CloseClient]:
        await self._evict()
        await self.tokens.grant(grant_id)  # a grant that ended says "sign in again", before any request
        client = self._client(grant_id)
        self._leases[grant_id] = self._leases.get(grant_id, 0) + 1
        try:
            yield client
        finally:
            self._leases[grant_id] -= 1

    async def aclose(self) -> None:
        for client, _ in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def provider(
        self,
    ) -> Callable[[ServerRequestContext[Any, Any]], AbstractAsyncContextManager[CloseClient]]:
        """The ``ClientProvider`` of an OAuth server: the calling token's grant's client."""

        @asynccontextmanager
        async def client_for(_ctx: ServerRequestContext[Any, Any]) -> AsyncIterator[CloseClient]:
            token = get_access_token()
            grant_id = (token.claims or {}).get("grant") if token is not None else None
            if not grant_id:
                raise MissingCredential(SIGN_IN_AGAIN)
            async with self.lease(str(grant_id)) as client:
                yield client

        return client_for
