"""close-mcp's side of Close's OAuth app (close-api.md §8): the authorize URL it sends users to, and
the form posts to ``/oauth2/token/`` (code and refresh grants) and ``/oauth2/revoke/``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx2

log = logging.getLogger("close_mcp.oauth")


class CloseSignInFailed(Exception):
    """Close refused a code or a refresh token (or could not be reached); the text is safe to show."""

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused  # Close said no (the grant is gone), as opposed to "not reachable now"


@dataclass
class CloseTokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: float
    lifetime: float
    organization_id: str | None = None
    user_id: str | None = None

    @classmethod
    def from_response(cls, data: dict[str, Any]) -> CloseTokenSet:
        lifetime = float(data.get("expires_in") or 3600)
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=data.get("refresh_token"),
            expires_at=time.time() + lifetime,
            lifetime=lifetime,
            organization_id=data.get("organization_id"),
            user_id=data.get("user_id"),
        )

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))

    def due(self, now: float | None = None) -> bool:
        """Refresh ahead: within a minute of expiry, or the last quarter of a short lifetime."""
        margin = min(60.0, self.lifetime / 4)
        return (now or time.time()) >= self.expires_at - margin


@dataclass
class CloseOAuthApp:
    client_id: str
    client_secret: str
    authorize_url: str
    token_url: str
    timeout: float = 30.0

    @property
    def revoke_url(self) -> str:
        return self.token_url.rstrip("/").removesuffix("/token") + "/revoke/"

    def authorize_redirect(self, redirect_uri: str, state: str) -> str:
        # Close needs no scope parameter: every app gets all.full_access offline_access (close-api.md §8).
        query = {
            "client_id": self.client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "state": state,
        }
        return f"{self.authorize_url}?{urlencode(query)}"

    async def exchange_code(self, code: str, redirect_uri: str) -> CloseTokenSet:
        return await self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )

    async def refresh(self, refresh_token: str) -> CloseTokenSet:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def revoke(self, token: str) -> None:
        form = {"client_id": self.client_id, "client_secret": self.client_secret, "token": token}
        try:
            async with httpx2.AsyncClient(timeout=self.timeout) as http:
                await http.post(self.revoke_url, data=form)
        except httpx2.HTTPError as exc:  # best effort: the grant is gone on our side anyway
            log.warning("could not revoke a Close token (%s)", type(exc).__name__)

    async def _token(self, form: dict[str, str]) -> CloseTokenSet:
        form = {**form, "client_id": self.client_id, "client_secret": self.client_secret}
        try:
            async with httpx2.AsyncClient(timeout=self.timeout) as http:
                response = await http.post(self.token_url, data=form)
        except httpx2.HTTPError as exc:
            raise CloseSignInFailed(
                f"Close's token endpoint did not answer ({type(exc).__name__}); try again shortly.",
                refused=False,
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code == 200 and isinstance(data, dict) and data.get("access_token"):
            return CloseTokenSet.from_response(data)
        error = data.get("error", f"HTTP {response.status_code}") if isinstance(data, dict) else "unknown"
        log.warning("Close refused a %s grant: %s", form["grant_type"], error)  # never the token itself
        refused = response.status_code in (400, 401)
        if response.status_code == 401 or error == "invalid_client":
            message = "Close refused close-mcp's OAuth app credentials (CLOSE_OAUTH_CLIENT_ID/SECRET)."
        else:
            message = f"Close refused the sign-in ({error})."
        raise CloseSignInFailed(message, refused=refused)
