"""The search package's ``SearchData`` over the engine's registry and store, shared by the lead
and opportunity ``query`` lists, smart views and ``POST /data/search/`` (no ``RESOURCES``:
a helper, not an area)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from close_mcp.sandbox.engine import Ctx
from close_mcp.sandbox.ids import now_utc
from close_mcp.sandbox.search import CustomField, SearchError
from close_mcp.sandbox.search.adapter import activity_object_type
from close_mcp.sandbox.store import Obj, SandboxError

_CHILD_TYPES = ("contact", "opportunity", "task")


def tz_offset(ctx: Ctx) -> float:
    """The ``x-tz-offset`` header in hours (close-api.md §3.3); absent or unreadable = UTC."""
    raw = ctx.request.headers.get("x-tz-offset") if ctx.request is not None else None
    try:
        return float(raw) if raw else 0.0
    except ValueError:
        return 0.0


def as_sandbox_error(exc: SearchError) -> SandboxError:
    return SandboxError(exc.status, exc.body)


class EngineSearchData:
    """Close-shaped objects as the API returns them, built lazily per request and object type."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx, self.store, self.registry = ctx, ctx.store, ctx.registry
        self._cache: dict[str, list[Obj]] = {}

    def _lead(self, lead: Obj) -> Obj:
        # A light view: the full lead view embeds every child, which the evaluators read
        # through ``related`` instead. Custom values stay flat ``custom.cf_…`` keys.
        status = self.store.lead_statuses.get(lead.get("status_id") or "", {})
        return {**lead, "display_name": lead.get("name") or "", "status_label": status.get("label")}

    def objects(self, object_type: str) -> Sequence[Obj]:
        if object_type not in self._cache:
            self._cache[object_type] = self._build(object_type)
        return self._cache[object_type]

    def _build(self, object_type: str) -> list[Obj]:
        store, reg = self.store, self.registry
        if object_type == "lead":
            leads = [self._lead(lead) for lead in store.leads.values()]
            return sorted(leads, key=lambda o: o.get("date_created") or "", reverse=True)  # /lead/'s order
        if object_type in _CHILD_TYPES:
            return [reg.view(store, object_type, o) for o in reg.objects(store, object_type)]
        if object_type.startswith("activity."):
            kinds = [a for a in reg.objects(store, "activity") if activity_object_type(a) == object_type]
            return [reg.view(store, "activity", a) for a in kinds]
        return []

    def related(self, object_type: str, obj: Obj, related_type: str) -> Sequence[Obj]:
        own_id = obj.get("id")
        if object_type == "lead" and (related_type in _CHILD_TYPES or related_type.startswith("activity.")):
            return [o for o in self.objects(related_type) if o.get("lead_id") == own_id]
        if related_type == "lead":
            return [lead for lead in self.objects("lead") if lead.get("id") == obj.get("lead_id")]
        if object_type == "contact":
            return [o for o in self.objects(related_type) if o.get("contact_id") == own_id]
        if related_type == "contact":
            return [c for c in self.objects("contact") if c.get("id") == obj.get("contact_id")]
        return []

    def _fields(self) -> list[CustomField]:
        return [
            CustomField(
                f["id"],
                f["name"],
                f["type"],
                object_type=kind,
                accepts_multiple_values=bool(f.get("accepts_multiple_values")),
                choices=tuple(f.get("choices") or ()),
            )
            for kind, fields in self.store.custom_fields.items()
            for f in fields.values()
        ]

    def custom_field(self, field_id: str) -> CustomField | None:
        return next((f for f in self._fields() if f.id == field_id), None)

    def custom_field_by_name(self, object_type: str, name: str) -> CustomField | None:
        wanted = name.casefold()
        found = (f for f in self._fields() if f.object_type == object_type and f.name.casefold() == wanted)
        return next(found, None)

    def current_user_id(self) -> str:
        return self.ctx.info.user_id

    def lead_statuses(self) -> Sequence[Obj]:
        return [{"id": s["id"], "label": s["label"]} for s in self.store.lead_statuses.values()]

    def opportunity_statuses(self) -> Sequence[Obj]:
        return [
            {"id": s["id"], "label": s["label"], "status_type": s["type"], "pipeline_id": s["pipeline_id"]}
            for s in self.store.opportunity_statuses().values()
        ]

    def saved_search(self, saved_search_id: str) -> Obj | None:
        return self.store.collection("saved_searches").get(saved_search_id)

    def now(self) -> datetime:
        return now_utc()
