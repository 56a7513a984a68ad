"""Small helpers several areas share."""

from __future__ import annotations

import re
from typing import Any

from close_mcp.sandbox.engine import Ctx
from close_mcp.sandbox.ids import iso, now_utc
from close_mcp.sandbox.store import OrgStore


def user_name(store: OrgStore, user_id: str | None) -> str | None:
    user = store.users.get(user_id or "")
    return f"{user['first_name']} {user['last_name']}" if user else None


def now(_ctx: Ctx | None = None) -> str:
    return iso(now_utc())


def current_user(ctx: Ctx) -> str:
    return ctx.info.user_id


def first_lead_status(ctx: Ctx) -> Any:
    return next(iter(ctx.store.lead_statuses))


def strip_html(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()
