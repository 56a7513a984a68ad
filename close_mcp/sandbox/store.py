"""In-memory state of one sandbox organization, plus the Event Log it writes.

Objects are kept in Close's own JSON shape (plain dicts, ``custom.cf_…`` keys flat at
the top level). Derived fields (``display_name``, ``status_label``, ``lead_name`` …)
are computed by :mod:`close_mcp.sandbox.views` when an object is returned.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from close_mcp.sandbox.ids import IdFactory, iso, iso_naive, now_utc

Obj = dict[str, Any]

EVENT_RETENTION = timedelta(days=30)
MAX_WEBHOOKS = 40


class SandboxError(Exception):
    """An error the sandbox answers with a Close-shaped body."""

    def __init__(self, status: int, body: Obj) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def validation_error(
    field_errors: dict[str, str] | None = None, errors: list[str] | None = None
) -> SandboxError:
    """Close's 400 for validation: both keys present, one often empty (close-api.md §4)."""
    return SandboxError(400, {"errors": errors or [], "field-errors": field_errors or {}})


def not_found(model: str) -> SandboxError:
    """Close's 404 for an unknown object id (recorded text, close-api.md §4)."""
    return SandboxError(404, {"error": f"Empty query: {model} matching query does not exist."})


@dataclass
class RequestInfo:
    """Who made the write and how: stamped on objects and events."""

    user_id: str
    request_id: str
    method: str
    path: str
    api_key_id: str | None = None


@dataclass
class OrgStore:
    ids: IdFactory
    org: Obj
    users: dict[str, Obj] = field(default_factory=dict)
    lead_statuses: dict[str, Obj] = field(default_factory=dict)
    pipelines: dict[str, Obj] = field(default_factory=dict)
    custom_fields: dict[str, dict[str, Obj]] = field(
        default_factory=lambda: {"lead": {}, "contact": {}, "opportunity": {}}
    )
    leads: dict[str, Obj] = field(default_factory=dict)
    contacts: dict[str, Obj] = field(default_factory=dict)
    opportunities: dict[str, Obj] = field(default_factory=dict)
    activities: dict[str, Obj] = field(default_factory=dict)
    tasks: dict[str, Obj] = field(default_factory=dict)
    webhooks: dict[str, Obj] = field(default_factory=dict)
    events: list[Obj] = field(default_factory=list)

    # ----- lookups -------------------------------------------------------------------
    def get(self, collection: str, object_id: str, model: str) -> Obj:
        obj = getattr(self, collection).get(object_id)
        if obj is None:
            raise not_found(model)
        return obj

    def get_custom_field(self, kind: str, field_id: str) -> Obj:
        cf = self.custom_fields[kind].get(field_id)
        if cf is None:
            raise not_found(f"{kind.capitalize()}CustomField")
        return cf

    def opportunity_statuses(self) -> dict[str, Obj]:
        return {s["id"]: s for p in self.pipelines.values() for s in p["statuses"]}

    def children_of(self, lead_id: str) -> dict[str, list[Obj]]:
        return {
            "contacts": [c for c in self.contacts.values() if c["lead_id"] == lead_id],
            "opportunities": [o for o in self.opportunities.values() if o["lead_id"] == lead_id],
            "activities": [a for a in self.activities.values() if a["lead_id"] == lead_id],
            "tasks": [t for t in self.tasks.values() if t["lead_id"] == lead_id],
        }

    # ----- audit stamps --------------------------------------------------------------
    def stamp_new(self, obj: Obj, info: RequestInfo, when: datetime | None = None) -> Obj:
        ts = iso(when or now_utc())
        obj.update(
            organization_id=self.org["id"],
            date_created=ts,
            date_updated=ts,
            created_by=info.user_id,
            updated_by=info.user_id,
        )
        return obj

    def stamp_update(self, obj: Obj, info: RequestInfo) -> None:
        obj.update(date_updated=iso(now_utc()), updated_by=info.user_id)

    # ----- event log -----------------------------------------------------------------
    def emit(
        self,
        object_type: str,
        action: str,
        obj: Obj,
        info: RequestInfo,
        *,
        previous: Obj | None = None,
        changed: list[str] | None = None,
        meta: Obj | None = None,
        when: datetime | None = None,
    ) -> Obj:
        ts = iso_naive(when or now_utc())
        event = {
            "id": self.ids.new("ev"),
            "date_created": ts,
            "date_updated": ts,
            "organization_id": self.org["id"],
            "user_id": info.user_id,
            "request_id": info.request_id,
            "api_key_id": info.api_key_id,
            "object_type": object_type,
            "object_id": obj["id"],
            "lead_id": obj.get("lead_id") if object_type != "lead" else obj["id"],
            "action": action,
            "changed_fields": sorted(changed or []),
            "data": None if action == "deleted" else copy.deepcopy(obj),
            "previous_data": copy.deepcopy(previous) if previous is not None else {},
            "meta": {"request_method": info.method, "request_path": info.path, **(meta or {})},
        }
        self.events.append(event)
        return event

    def live_events(self) -> list[Obj]:
        """Events inside the 30-day retention window, newest first."""
        cutoff = iso_naive(now_utc() - EVENT_RETENTION)
        return [e for e in reversed(self.events) if e["date_updated"] >= cutoff]


def apply_patch(obj: Obj, patch: Obj) -> tuple[Obj, list[str]]:
    """PUT is a partial update: only sent keys change, ``null`` clears (close-api.md §4).

    Returns the previous values of the changed fields and the changed field names.
    """
    previous: Obj = {}
    changed: list[str] = []
    for key, value in patch.items():
        if obj.get(key) != value:
            previous[key] = copy.deepcopy(obj.get(key))
            changed.append(key)
            obj[key] = value
    return previous, changed
