"""Each grant's Close tokens, kept alive: the access token is refreshed ahead of its expiry and
after a 401, by one caller per grant however many calls race (an in-process lock, and the shared
store's lease across replicas); the others use what it stored. A refresh Close refuses ends the
grant: the call says to sign in again, and the MCP client's token stops working."""

from __future__ import annotations

import secrets
from typing import Any

import anyio

from close_mcp.credentials import MissingCredential
from close_mcp.oauth.close_app import CloseOAuthApp, CloseSignInFailed, CloseTokenSet
from close_mcp.oauth.records import Records

GRANT_TTL = 90 * 24 * 3600.0  # a grant nobody uses for 90 days is forgotten
LEASE_SECONDS = 30.0

SIGN_IN_AGAIN = (
    "Your sign-in with Close has ended (expired or revoked): sign in again: reconnect or re-authorize "
    "this server in your MCP host to start the Close sign-in."
)


class SignInAgain(MissingCredential):
    """The grant is gone; the text tells the user to sign in again (an ``isError`` result)."""


def grant_key(grant_id: str) -> str:
    return Records.key("grant", grant_id)


class GrantTokens:
    def __init__(self, records: Records, app: CloseOAuthApp) -> None:
        self.records, self.app = records, app
        self._locks: dict[str, anyio.Lock] = {}
        self._holder = secrets.token_hex(8)
        self.refreshes = 0  # Close refresh grants this process made (tests and /healthz read it)

    async def grant(self, grant_id: str) -> dict[str, Any]:
        grant = await self.records.get(grant_key(grant_id))
        if grant is None:
            raise SignInAgain(SIGN_IN_AGAIN)
        return grant

    async def access_token(self, grant_id: str) -> str:
        """A Close access token for the grant that is not about to expire."""
        tokens = CloseTokenSet(**(await self.grant(grant_id))["close"])
        if not tokens.due():
            return tokens.access_token
        return await self.refresh(grant_id, stale=tokens.access_token)

    async def refresh(self, grant_id: str, *, stale: str) -> str:
        """Replace ``stale`` (the token that is due, or that Close just refused), once: a caller that
        finds it already replaced uses the replacement."""
        lock = self._locks.setdefault(grant_id, anyio.Lock())
        async with lock:
            current = (await self.grant(grant_id))["close"]
            if current["access_token"] != stale:
                return str(current["access_token"])
            lease = f"oauth-refresh:{grant_id}"
            while not await self.records.store.lease(lease, self._holder, LEASE_SECONDS):
                await anyio.sleep(0.05)  # another replica is refreshing this grant
            try:
                grant = await self.grant(grant_id)
                if grant["close"]["access_token"] != stale:
                    return str(grant["close"]["access_token"])
                refresh_token = grant["close"].get("refresh_token")
                try:
                    if not refresh_token:
                        raise CloseSignInFailed("no refresh token", refused=True)
                    fresh = await self.app.refresh(refresh_token)
                except CloseSignInFailed as exc:
                    if exc.refused:
                        await self.end(grant_id, revoke=False)
                        raise SignInAgain(SIGN_IN_AGAIN) from None
                    raise SignInAgain(f"{exc} The call was not sent; the sign-in still stands.") from None
                if fresh.refresh_token is None:  # Close rotates; keep the old one if it ever does not
                    fresh.refresh_token = refresh_token
                grant["close"] = fresh.to_json()
                await self.records.put(grant_key(grant_id), grant, GRANT_TTL)
                self.refreshes += 1
                return fresh.access_token
            finally:
                await self.records.store.release(lease, self._holder)

    async def end(self, grant_id: str, *, revoke: bool = True) -> None:
        """Sign out: forget the grant (its MCP tokens stop working) and revoke Close's refresh token."""
        grant = await self.records.get(grant_key(grant_id))
        await self.records.delete(grant_key(grant_id))
        self._locks.pop(grant_id, None)
        if revoke and grant is not None and grant["close"].get("refresh_token"):
            await self.app.revoke(grant["close"]["refresh_token"])
