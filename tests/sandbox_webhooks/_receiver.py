"""A real webhook receiver for the tests: Starlette on uvicorn on a free loopback port.

It verifies every delivery as a Close customer would (key looked up by the body's
``subscription_id``, as THM does), records it, and answers from a per-path script:
an HTTP status, ``HANG`` (wait until the test ends), ``REDIRECT`` (302 elsewhere) or
``ENDLESS`` (200 with a body that never ends).
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from close_mcp.sandbox.webhook_delivery import verify_signature

HANG = "hang"
REDIRECT = "redirect"
ENDLESS = "endless"
_ids = itertools.count(1)


@dataclass
class Hit:
    name: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int | str

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.payload["event"]["id"]


@dataclass
class Receiver:
    base_url: str = ""
    hits: list[Hit] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    scripts: dict[str, deque[int | str]] = field(default_factory=dict)
    release: anyio.Event = field(default_factory=anyio.Event)

    def url(self, name: str) -> str:
        return f"{self.base_url}/hooks/{name}"

    def subscription(self, name: str, events: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        """A subscription dict as the sandbox stores it (SPEC2 example fields)."""
        sub = {
            "id": f"whsub_{next(_ids):022d}",
            "url": self.url(name),
            "events": events,
            "verify_ssl": True,
            "status": "active",
            "pause_reason": None,
            "health_status": "healthy",
            "latest_error": None,
            "recent_consecutive_fail_buckets_cnt": 0,
            "counters": {},
            "signature_key": secrets.token_hex(32),
            **extra,
        }
        self.keys[sub["id"]] = sub["signature_key"]
        return sub

    def script(self, name: str, *answers: int | str) -> None:
        """Answer the next requests to ``name`` with these; then 200."""
        self.scripts.setdefault(name, deque()).extend(answers)

    def to(self, name: str, ok_only: bool = False) -> list[Hit]:
        return [h for h in self.hits if h.name == name and (not ok_only or h.answered == 200)]

    def delivered_ids(self, name: str) -> list[str]:
        return [h.event_id for h in self.to(name, ok_only=True)]

    async def handle(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        key = self.keys.get(json.loads(body).get("subscription_id", ""), "")
        verified = verify_signature(
            key,
            request.headers.get("close-sig-timestamp", ""),
            body,
            request.headers.get("close-sig-hash", ""),
        )
        queue = self.scripts.get(name)
        answer: int | str = queue.popleft() if queue else 200
        self.hits.append(Hit(name, dict(request.headers), body, verified, answer))
        if answer == HANG:
            await self.release.wait()
            return Response(status_code=200)
        if answer == REDIRECT:
            return RedirectResponse(self.url("redirect-target"), status_code=302)
        if answer == ENDLESS:
            return StreamingResponse(_endless(), status_code=200)
        assert isinstance(answer, int)
        return Response(b"ok", status_code=answer)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hooks/{name}", self.handle, methods=["POST"])])


async def _endless() -> AsyncIterator[bytes]:
    while True:
        yield b"x" * 65_536
        await anyio.sleep(0)


async def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll a condition under a deadline (never sleep-and-hope)."""
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.005)


_events = itertools.count(1)


def make_event(object_type: str = "lead", action: str = "created", **overrides: Any) -> dict[str, Any]:
    """An Event Log event in Close's shape (close-api.md §5.3)."""
    n = next(_events)
    lead_id = f"lead_{n:043d}"
    data: dict[str, Any] | None = {"id": lead_id, "name": f"Lead {n}", "status_label": "Potential"}
    event: dict[str, Any] = {
        "id": f"ev_{n:022d}",
        "date_created": "2026-12-01T07:00:00.000000",
        "date_updated": "2026-12-01T07:00:00.000000",
        "organization_id": "orga_" + "o" * 43,
        "user_id": "user_" + "u" * 43,
        "request_id": f"req_{n:022d}",
        "api_key_id": None,
        "object_type": object_type,
        "object_id": lead_id,
        "lead_id": lead_id,
        "action": action,
        "changed_fields": [],
        "data": None if action == "deleted" else data,
        "previous_data": data if action == "deleted" else {},
        "meta": {"request_method": "POST", "request_path": "/api/v1/lead/"},
    }
    event.update(overrides)
    return event
