"""The sandbox's Close OAuth app (close-api.md §8): authorize page, code and refresh grants with
rotation, revocation, the RFC 6749 errors, and its tokens as Bearer credentials of the organization."""

from __future__ import annotations

import httpx2
import pytest
from oauth_helpers import Person, query_of

from close_mcp.sandbox.oauth import CLOSE_SCOPE, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

pytestmark = pytest.mark.anyio
BACK = "http://127.0.0.1:9/back"
APP = {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}


def root(sandbox) -> str:
    return sandbox.base_url.removesuffix("/api/v1")


async def close_code(sandbox, person: Person | None = None) -> dict[str, str]:
    url = f"{root(sandbox)}/oauth2/authorize/?client_id={DEMO_CLIENT_ID}&response_type=code&redirect_uri={BACK}&state=s1"
    return query_of(await (person or Person()).sign_in(url, BACK))


async def test_code_grant_gives_a_bearer_token_of_the_organization_then_rotating_refresh(sandbox):
    landed = await close_code(sandbox)
    assert landed["state"] == "s1"
    async with httpx2.AsyncClient(base_url=root(sandbox)) as http:
        token = await http.post(
            "/oauth2/token/", data={**APP, "grant_type": "authorization_code", "code": landed["code"]}
        )
        body = token.json()
        assert token.status_code == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 3600
        assert body["scope"] == CLOSE_SCOPE and body["organization_id"] == sandbox.sandbox.store(0).org["id"]
        me = await http.get("/api/v1/me/", headers={"authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200 and me.json()["id"] == body["user_id"]
        refreshed = await http.post(
            "/oauth2/token/",
            data={**APP, "grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        )
        assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != body["refresh_token"]
        reused = await http.post(
            "/oauth2/token/",
            data={**APP, "grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        )
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        again = await http.post(
            "/oauth2/token/", data={**APP, "grant_type": "authorization_code", "code": landed["code"]}
        )
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        new_access = refreshed.json()["access_token"]
        revoked = await http.post("/oauth2/revoke/", data={**APP, "token": new_access})
        assert revoked.status_code == 200
        gone = await http.get("/api/v1/me/", headers={"authorization": f"Bearer {new_access}"})
        assert gone.status_code == 401


async def test_refused_consent_and_token_errors(sandbox):
    assert await close_code(sandbox, Person(close="deny")) == {"error": "access_denied", "state": "s1"}
    async with httpx2.AsyncClient(base_url=root(sandbox)) as http:
        cases = [
            (
                {"client_id": DEMO_CLIENT_ID, "client_secret": "wrong", "grant_type": "refresh_token"},
                401,
                "invalid_client",
            ),
            ({**APP}, 400, "invalid_request"),
            ({**APP, "grant_type": "password"}, 400, "unsupported_grant_type"),
            ({**APP, "grant_type": "authorization_code", "code": "nope"}, 400, "invalid_grant"),
        ]
        for form, status, error in cases:
            response = await http.post("/oauth2/token/", data=form)
            assert (response.status_code, response.json()["error"]) == (status, error), form
        unknown = await http.get(
            f"/oauth2/authorize/?client_id=nobody&response_type=code&redirect_uri={BACK}"
        )
        assert unknown.status_code == 400 and "not registered" in unknown.text
        wrong_type = await http.get(
            f"/oauth2/authorize/?client_id={DEMO_CLIENT_ID}&response_type=token&redirect_uri={BACK}"
        )
        assert query_of(wrong_type.headers["location"])["error"] == "unsupported_response_type"


async def test_control_route_sets_the_lifetime_and_expires_tokens(sandbox):
    landed = await close_code(sandbox)
    async with httpx2.AsyncClient(base_url=root(sandbox)) as http:
        assert (
            await http.post("/_sandbox/oauth", json={"token_lifetime": 5})
        ).status_code == 401  # needs a key
        control = await http.post("/_sandbox/oauth", json={"token_lifetime": 5}, auth=(sandbox.api_key, ""))
        assert control.json()["token_lifetime"] == 5
        body = (
            await http.post(
                "/oauth2/token/", data={**APP, "grant_type": "authorization_code", "code": landed["code"]}
            )
        ).json()
        assert body["expires_in"] == 5
        bearer = {"authorization": f"Bearer {body['access_token']}"}
        assert (await http.get("/api/v1/me/", headers=bearer)).status_code == 200
        expired = await http.post(
            "/_sandbox/oauth", json={"expire_access_tokens": True}, auth=(sandbox.api_key, "")
        )
        assert expired.json()["live_access_tokens"] == 0
        assert (await http.get("/api/v1/me/", headers=bearer)).status_code == 401
