"""``has_related``: which object types relate, and fetching related objects.

Seen in copied Close UI filters: lead→opportunity, lead→activity.meeting; in a third-party
client: lead→contact_email, lead→contact_phone. The rest of the table is a guess that
follows Close's data model (every contact, opportunity, task and activity belongs to a lead;
activities and opportunities may name a ``contact_id``).
"""

from __future__ import annotations

from collections.abc import Sequence

from close_mcp.sandbox.search.adapter import ACTIVITY_OBJECT_TYPES, Obj, SearchData

__all__ = ["RELATED_TYPES", "related_objects"]

_ACTIVITIES = frozenset(ACTIVITY_OBJECT_TYPES.values())
_DERIVED = frozenset({"contact_email", "contact_phone"})

RELATED_TYPES: dict[str, frozenset[str]] = {
    "lead": frozenset({"contact", "opportunity", "task", *_DERIVED, *_ACTIVITIES}),
    "contact": frozenset({"lead", "opportunity", *_DERIVED, *_ACTIVITIES}),
    "opportunity": frozenset({"lead", "contact"}),
    "task": frozenset({"lead"}),
    **{activity: frozenset({"lead", "contact"}) for activity in _ACTIVITIES},
}


def _derived(contacts: Sequence[Obj], related_type: str) -> list[Obj]:
    key = "emails" if related_type == "contact_email" else "phones"
    rows: list[Obj] = []
    for contact in contacts:
        for entry in contact.get(key) or []:
            if isinstance(entry, dict):
                rows.append({**entry, "contact_id": contact.get("id"), "lead_id": contact.get("lead_id")})
    return rows


def related_objects(data: SearchData, object_type: str, obj: Obj, related_type: str) -> Sequence[Obj]:
    """Objects of ``related_type`` linked to ``obj``; contact emails/phones are derived."""
    if related_type in _DERIVED:
        contacts = [obj] if object_type == "contact" else data.related(object_type, obj, "contact")
        return _derived(contacts, related_type)
    return data.related(object_type, obj, related_type)
