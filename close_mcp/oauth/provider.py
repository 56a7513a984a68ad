"""The authorization server MCP clients talk to (the SDK's ``OAuthAuthorizationServerProvider``;
the SDK's handlers check PKCE S256, the exact redirect URI, code expiry and client auth).

Records (:mod:`.records`; secrets only hashed into keys): ``client:`` registrations, ``flow:`` a
sign-in in progress (its id is the ``state`` sent to Close), ``code:`` our single-use codes,
``grant:`` a user's Close tokens, ``at:`` / ``rt:`` the MCP client's tokens, each naming its grant.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from close_mcp.access import SCOPES
from close_mcp.oauth.close_app import CloseTokenSet
from close_mcp.oauth.close_tokens import GRANT_TTL, GrantTokens, grant_key
from close_mcp.oauth.records import Records

ACCESS_SECONDS = 3600
REFRESH_SECONDS = 30 * 24 * 3600.0
CODE_SECONDS = 300.0  # ours; RFC 6749 §4.1.2 recommends at most 10 minutes
FLOW_SECONDS = 900.0  # a person signs in within 15 minutes
CLIENT_SECONDS = 365 * 24 * 3600.0
DEFAULT_SCOPE = "read"  # least privilege when the client asks for nothing


class GrantCode(AuthorizationCode):
    grant_id: str


class GrantRefreshToken(RefreshToken):
    grant_id: str
    key: str


class CloseSignInProvider(OAuthAuthorizationServerProvider[GrantCode, GrantRefreshToken, AccessToken]):
    def __init__(self, records: Records, tokens: GrantTokens, base_url: str, resource_url: str) -> None:
        self.records, self.tokens = records, tokens
        self.base_url, self.resource_url = base_url, resource_url
        self.access_seconds = ACCESS_SECONDS  # the MCP client's access token; it refreshes it after

    # ----- registration (RFC 7591) ------------------------------------------------------
    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        data = await self.records.get(Records.key("client", client_id))
        return None if data is None else OAuthClientInformationFull.model_validate(data)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        data = client_info.model_dump(mode="json")
        await self.records.put(Records.key("client", str(client_info.client_id)), data, CLIENT_SECONDS)

    # ----- authorization: our consent page, then Close's -------------------------------
    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        if params.resource is not None and params.resource.rstrip("/") != self.resource_url:
            raise AuthorizeError(
                "invalid_target", f"this server is {self.resource_url}, not {params.resource}"
            )
        asked = params.scopes or (client.scope or DEFAULT_SCOPE).split()
        scopes = [s for s in SCOPES if s in asked]  # tiers, narrowest first
        if not scopes:
            raise AuthorizeError("invalid_scope", f"ask for one of: {', '.join(SCOPES)}")
        flow_id = secrets.token_urlsafe(32)
        flow = {
            "client_id": client.client_id,
            "client_name": client.client_name,
            "redirect_uri": str(params.redirect_uri),
            "explicit": params.redirect_uri_provided_explicitly,
            "code_challenge": params.code_challenge,
            "state": params.state,
            "scopes": scopes,
        }
        await self.records.put(Records.key("flow", flow_id, secret=True), flow, FLOW_SECONDS)
        return f"{self.base_url}/oauth/consent?{urlencode({'flow': flow_id})}"

    async def flow(self, flow_id: str) -> dict[str, Any] | None:
        return await self.records.get(Records.key("flow", flow_id, secret=True))

    async def narrow_flow(self, flow_id: str, flow: dict[str, Any], scopes: list[str]) -> None:
        await self.records.put(
            Records.key("flow", flow_id, secret=True), {**flow, "scopes": scopes}, FLOW_SECONDS
        )

    async def drop_flow(self, flow_id: str) -> None:
        await self.records.delete(Records.key("flow", flow_id, secret=True))

    async def complete(self, flow_id: str, flow: dict[str, Any], close: CloseTokenSet) -> str:
        """Close signed the user in: keep Close's tokens as a grant, return our single-use code."""
        await self.drop_flow(flow_id)
        grant_id = secrets.token_urlsafe(18)
        grant = {"client_id": flow["client_id"], "scopes": flow["scopes"], "close": close.to_json()}
        await self.records.put(grant_key(grant_id), grant, GRANT_TTL)
        code = secrets.token_urlsafe(32)
        record = {
            **flow,
            "grant_id": grant_id,
            "expires_at": time.time() + CODE_SECONDS,
            "subject": close.user_id,
        }
        await self.records.put(Records.key("code", code, secret=True), record, CODE_SECONDS)
        return code

    # ----- token endpoint -----------------------------------------------------------------
    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> GrantCode | None:
        data = await self.records.get(Records.key("code", authorization_code, secret=True))
        if data is None or data["client_id"] != client.client_id:
            return None
        return GrantCode(
            code=authorization_code,
            scopes=data["scopes"],
            expires_at=data["expires_at"],
            client_id=data["client_id"],
            code_challenge=data["code_challenge"],
            redirect_uri=data["redirect_uri"],
            redirect_uri_provided_explicitly=data["explicit"],
            resource=self.resource_url,
            subject=data.get("subject"),
            grant_id=data["grant_id"],
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: GrantCode
    ) -> OAuthToken:
        key = Records.key("code", authorization_code.code, secret=True)
        # Single use, also when two exchanges race: only the first claim wins.
        if not await self.records.claim(
            Records.key("used", authorization_code.code, secret=True), {}, CODE_SECONDS
        ):
            raise TokenError("invalid_grant", "authorization code already used")
        await self.records.delete(key)
        return await self._issue(
            client.client_id or "",
            authorization_code.grant_id,
            authorization_code.scopes,
            authorization_code.subject,
        )

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> GrantRefreshToken | None:
        key = Records.key("rt", refresh_token, secret=True)
        data = await self.records.get(key)
        if data is None or data["client_id"] != client.client_id:
            return None
        return GrantRefreshToken(
            token="",
            client_id=data["client_id"],
            scopes=data["scopes"],
            resource=self.resource_url,
            subject=data.get("subject"),
            grant_id=data["grant_id"],
            key=key,
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: GrantRefreshToken, scopes: list[str]
    ) -> OAuthToken:
        await self.records.delete(refresh_token.key)  # rotation
        if await self.records.get(grant_key(refresh_token.grant_id)) is None:
            raise TokenError("invalid_grant", "the Close sign-in behind this token has ended; sign in again")
        return await self._issue(
            client.client_id or "", refresh_token.grant_id, scopes, refresh_token.subject
        )

    async def _issue(
        self, client_id: str, grant_id: str, scopes: list[str], subject: str | None
    ) -> OAuthToken:
        access, refresh = "cmcp_at_" + secrets.token_urlsafe(32), "cmcp_rt_" + secrets.token_urlsafe(32)
        record = {"client_id": client_id, "grant_id": grant_id, "scopes": scopes, "subject": subject}
        expires_at = int(time.time()) + self.access_seconds
        await self.records.put(
            Records.key("at", access, secret=True),
            {**record, "expires_at": expires_at, "resource": self.resource_url},
            self.access_seconds,
        )
        await self.records.put(Records.key("rt", refresh, secret=True), record, REFRESH_SECONDS)
        return OAuthToken(
            access_token=access,
            token_type="Bearer",
            expires_in=self.access_seconds,
            refresh_token=refresh,
            scope=" ".join(scopes),
        )

    # ----- the resource server's side -----------------------------------------------------
    async def load_access_token(self, token: str) -> AccessToken | None:
        key = Records.key("at", token, secret=True)
        data = await self.records.get(key)
        if data is None or data.get("resource") != self.resource_url or data["expires_at"] < time.time():
            return None  # unknown, issued for another server, or expired
        if await self.records.get(grant_key(data["grant_id"])) is None:
            return None  # signed out, or the Close grant ended
        return AccessToken(
            token=key,  # the record's key, never the token itself
            client_id=data["client_id"],
            scopes=data["scopes"],
            expires_at=data["expires_at"],
            resource=self.resource_url,
            subject=data.get("subject"),
            claims={"iss": self.base_url, "grant": data["grant_id"]},
        )

    async def revoke_token(self, token: AccessToken | GrantRefreshToken) -> None:
        """Revoking either token signs out: the grant ends and Close's refresh token is revoked."""
        if isinstance(token, GrantRefreshToken):
            await self.records.delete(token.key)
            grant_id = token.grant_id
        else:
            await self.records.delete(token.token)
            grant_id = str((token.claims or {}).get("grant", ""))
        if grant_id:
            await self.tokens.end(grant_id)
