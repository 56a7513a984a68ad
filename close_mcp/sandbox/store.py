"""In-memory state of one sandbox organization, plus the Event Log it writes.

Objects are kept in Close's own JSON shape (plain dicts, ``custom.cf_…`` keys flat at
the top level), one dict per resource collection. Derived fields (``display_name``,
``status_label`` …) are added by each resource's ``view`` hook when an object is returned.
Every emitted event passes through :meth:`OrgStore.emit`, which then calls each
subscriber (``store.subscribers``): the one place webhook delivery can listen.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from close_mcp.sandbox.ids import IdFactory, iso, iso_naive, now_utc

if TYPE_CHECKING:
    from close_mcp.sandbox.engine.registry import Registry

Obj = dict[str, Any]
Collection = dict[str, Obj]
Subscriber = Callable[["OrgStore", Obj], None]

EVENT_RETENTION = timedelta(days=30)
CUSTOM_FIELD_KINDS = ("lead", "contact", "opportunity")


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


class _Alias:
    """``store.leads`` is ``store.collections["leads"]``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, store: OrgStore, owner: type | None = None) -> Collection:
        return store.collection(self.name)


@dataclass
class OrgStore:
    ids: IdFactory
    org: Obj
    collections: dict[str, Collection] = field(default_factory=dict)
    events: list[Obj] = field(default_factory=list)
    registry: Registry | None = field(default=None, repr=False)
    subscribers: list[Subscriber] = field(default_factory=list, repr=False)

    def collection(self, name: str) -> Collection:
        return self.collections.setdefault(name, {})

    # ----- compatibility names (tests and tools read these as dicts) -----------------
    leads = _Alias("leads")
    contacts = _Alias("contacts")
    opportunities = _Alias("opportunities")
    activities = _Alias("activities")
    tasks = _Alias("tasks")
    users = _Alias("users")
    lead_statuses = _Alias("lead_statuses")
    pipelines = _Alias("pipelines")
    webhooks = _Alias("webhooks")

    @property
    def custom_fields(self) -> dict[str, Collection]:
        return {kind: self.collection(f"{kind}_custom_fields") for kind in CUSTOM_FIELD_KINDS}

    def opportunity_statuses(self) -> Collection:
        return {s["id"]: s for p in self.pipelines.values() for s in p["statuses"]}

    def children_of(self, lead_id: str) -> dict[str, list[Obj]]:
        """Every object declared as a child of the lead, by collection name."""
        assert self.registry is not None
        return self.registry.children(self, "lead", lead_id)

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
        for subscriber in self.subscribers:
            subscriber(self, event)
        return event

    def live_events(self) -> list[Obj]:
        """Events inside the 30-day retention window, newest first by ``date_updated`` (close-api.md §2.2;
        the seed writes past events out of order). Among equal times, the one written last comes first."""
        cutoff = iso_naive(now_utc() - EVENT_RETENTION)
        live = [e for e in reversed(self.events) if e["date_updated"] >= cutoff]
        return sorted(live, key=lambda e: e["date_updated"], reverse=True)  # stable: ties keep newest first


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
