"""How the search evaluators see the organisation's data: a small read-only interface.

The evaluators never touch a store; they see Close-shaped plain dicts through
:class:`SearchData`. :class:`DictSearchData` is an in-memory implementation for tests
(and a reference for whoever wires the sandbox's engine in).

Object types (the names Advanced Filtering uses): ``lead``, ``contact``, ``opportunity``,
``task`` and ``activity.<kind>``. ``activity.email`` and ``activity.meeting`` appear in
queries copied from Close's UI (third-party scripts calling ``/data/search/``); the other
activity kinds are a guess: Close's ``_type`` values (close-api.md §3.3) in snake case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

__all__ = [
    "ACTIVITY_OBJECT_TYPES",
    "CUSTOM_FIELD_TYPES",
    "CustomField",
    "DictSearchData",
    "Obj",
    "SearchData",
    "activity_object_type",
]

Obj = dict[str, Any]

# Close's activity ``_type`` → Advanced Filtering object type (guess except email/meeting).
ACTIVITY_OBJECT_TYPES: Mapping[str, str] = {
    "Note": "activity.note",
    "Call": "activity.call",
    "Email": "activity.email",
    "EmailThread": "activity.email_thread",
    "SMS": "activity.sms",
    "Meeting": "activity.meeting",
    "LeadStatusChange": "activity.lead_status_change",
    "OpportunityStatusChange": "activity.opportunity_status_change",
    "TaskCompleted": "activity.task_completed",
    "Created": "activity.created",
    "LeadMerge": "activity.lead_merge",
    "WhatsAppMessage": "activity.whatsapp_message",
    "FormSubmission": "activity.form_submission",
    "CustomActivity": "activity.custom_activity",
}

# Custom field ``type`` values (Close custom field docs: text, number, date, datetime,
# choices, user, contact; ``hidden`` exists for integration-only fields).
CUSTOM_FIELD_TYPES = frozenset({"text", "number", "date", "datetime", "choices", "user", "contact", "hidden"})


def activity_object_type(activity: Mapping[str, Any]) -> str | None:
    """The Advanced Filtering object type of one activity dict (by its ``_type``)."""
    return ACTIVITY_OBJECT_TYPES.get(str(activity.get("_type", "")))


@dataclass(frozen=True)
class CustomField:
    """One custom field definition (``id`` ``cf_…``), attached to one object type."""

    id: str
    name: str
    type: str
    object_type: str = "lead"
    accepts_multiple_values: bool = False
    choices: tuple[str, ...] = ()


class SearchData(Protocol):
    """Everything the evaluators read. Implementations must not mutate what they return."""

    def objects(self, object_type: str) -> Sequence[Obj]:
        """All objects of a type, in the order an unsorted search returns them."""
        ...

    def related(self, object_type: str, obj: Obj, related_type: str) -> Sequence[Obj]:
        """Objects of ``related_type`` linked to ``obj`` (lead→contacts, contact→lead, …)."""
        ...

    def custom_field(self, field_id: str) -> CustomField | None:
        """A custom field by id (ids are unique across object types)."""
        ...

    def custom_field_by_name(self, object_type: str, name: str) -> CustomField | None:
        """A custom field of one object type by name (case-insensitive)."""
        ...

    def current_user_id(self) -> str:
        """The id of the user whose API key made the request."""
        ...

    def lead_statuses(self) -> Sequence[Obj]:
        """Lead statuses: ``{"id": "stat_…", "label": …}``."""
        ...

    def opportunity_statuses(self) -> Sequence[Obj]:
        """Opportunity statuses: ``{"id", "label", "status_type", "pipeline_id"}``."""
        ...

    def saved_search(self, saved_search_id: str) -> Obj | None:
        """A Smart View (``save_…``) with ``s_query`` and/or the legacy text ``query``."""
        ...

    def now(self) -> datetime:
        """The current time (timezone-aware), for relative dates."""
        ...


_CHILD_TYPES = ("contact", "opportunity", "task")


@dataclass
class DictSearchData:
    """:class:`SearchData` over plain lists; links follow ``lead_id`` and ``contact_id``."""

    leads: list[Obj] = field(default_factory=list)
    contacts: list[Obj] = field(default_factory=list)
    opportunities: list[Obj] = field(default_factory=list)
    tasks: list[Obj] = field(default_factory=list)
    activities: list[Obj] = field(default_factory=list)
    custom_fields: list[CustomField] = field(default_factory=list)
    user_id: str = "user_sandbox"
    lead_status_list: list[Obj] = field(default_factory=list)
    opportunity_status_list: list[Obj] = field(default_factory=list)
    saved_searches: dict[str, Obj] = field(default_factory=dict)
    clock: datetime = field(default_factory=lambda: datetime.now(UTC))

    def objects(self, object_type: str) -> Sequence[Obj]:
        by_type = {
            "lead": self.leads,
            "contact": self.contacts,
            "opportunity": self.opportunities,
            "task": self.tasks,
        }
        if object_type in by_type:
            return by_type[object_type]
        return [a for a in self.activities if activity_object_type(a) == object_type]

    def related(self, object_type: str, obj: Obj, related_type: str) -> Sequence[Obj]:
        own_id = obj.get("id")
        if object_type == "lead" and (related_type in _CHILD_TYPES or related_type.startswith("activity.")):
            return [o for o in self.objects(related_type) if o.get("lead_id") == own_id]
        if related_type == "lead":
            return [lead for lead in self.leads if lead.get("id") == obj.get("lead_id")]
        if object_type == "contact":
            return [o for o in self.objects(related_type) if o.get("contact_id") == own_id]
        if related_type == "contact":
            return [c for c in self.contacts if c.get("id") == obj.get("contact_id")]
        return []

    def custom_field(self, field_id: str) -> CustomField | None:
        return next((f for f in self.custom_fields if f.id == field_id), None)

    def custom_field_by_name(self, object_type: str, name: str) -> CustomField | None:
        wanted = name.casefold()
        return next(
            (f for f in self.custom_fields if f.object_type == object_type and f.name.casefold() == wanted),
            None,
        )

    def current_user_id(self) -> str:
        return self.user_id

    def lead_statuses(self) -> Sequence[Obj]:
        return self.lead_status_list

    def opportunity_statuses(self) -> Sequence[Obj]:
        return self.opportunity_status_list

    def saved_search(self, saved_search_id: str) -> Obj | None:
        return self.saved_searches.get(saved_search_id)

    def now(self) -> datetime:
        return self.clock
