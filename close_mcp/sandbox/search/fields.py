"""Which fields Advanced Filtering knows per object type, and what kind each one is.

A field's *kind* decides which conditions apply and whether it sorts:
``text`` (words), ``keyword`` (exact strings such as ``status_type``), ``phone`` (digits),
``id`` (a reference to other objects; ``ref`` names the ``reference_type``), ``user``,
``number``, ``date``, ``datetime``, ``boolean``.

Field names come from Close's object shapes (close-api.md §5.3) and the fields seen in
copied UI filters (``lead.date_created``, ``lead.date_updated``, ``opportunity.status_id``,
``opportunity.date_updated``, ``activity.email.date``/``date_sent``, ``contact.title``).
Guesses: ``reference_type`` values other than ``status.opportunity`` (seen in copied
filters) follow the same pattern: ``status.lead``, ``lead``, ``contact``, ``pipeline``;
user fields take ``user_or_group``. ``contact_email``/``contact_phone`` are the related
object types a third-party client's dedupe queries use (``has_related`` lead→contact_email
with a ``phrase`` text condition on ``email``); we derive them from each contact's
``emails``/``phones``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from close_mcp.sandbox.search.adapter import ACTIVITY_OBJECT_TYPES, CustomField, Obj, SearchData
from close_mcp.sandbox.search.errors import field_error

__all__ = ["KNOWN_OBJECT_TYPES", "SORTABLE_KINDS", "FieldSpec", "resolve_field"]

SORTABLE_KINDS = frozenset({"text", "keyword", "phone", "number", "date", "datetime"})


@dataclass(frozen=True)
class FieldSpec:
    """One resolved field: where it lives, its kind, and how to read it from an object."""

    object_type: str
    name: str
    kind: str
    get: Callable[[Obj], Any]
    ref: str | None = None
    multiple: bool = False


_K = tuple[str, str | None]  # (kind, reference_type)

_COMMON: dict[str, _K] = {
    "id": ("id", None),
    "date_created": ("datetime", None),
    "date_updated": ("datetime", None),
    "created_by": ("user", "user_or_group"),
    "updated_by": ("user", "user_or_group"),
    "organization_id": ("keyword", None),
}
_ACTIVITY: dict[str, _K] = {
    "lead_id": ("id", "lead"),
    "contact_id": ("id", "contact"),
    "user_id": ("user", "user_or_group"),
    "activity_at": ("datetime", None),
    "date": ("datetime", None),
    "_type": ("keyword", None),
}
_ACTIVITY_EXTRA: dict[str, dict[str, _K]] = {
    "activity.email": {
        "subject": ("text", None),
        "body_text": ("text", None),
        "direction": ("keyword", None),
        "status": ("keyword", None),
        "sender": ("text", None),
        "date_sent": ("datetime", None),
    },
    "activity.call": {
        "duration": ("number", None),
        "direction": ("keyword", None),
        "disposition": ("keyword", None),
        "note": ("text", None),
        "phone": ("phone", None),
    },
    "activity.note": {"note": ("text", None)},
    "activity.meeting": {
        "title": ("text", None),
        "starts_at": ("datetime", None),
        "ends_at": ("datetime", None),
        "status": ("keyword", None),
    },
    "activity.sms": {"text": ("text", None), "direction": ("keyword", None), "status": ("keyword", None)},
}
_REGULAR: dict[str, dict[str, _K]] = {
    "lead": {
        "name": ("text", None),
        "display_name": ("text", None),
        "description": ("text", None),
        "url": ("text", None),
        "status_id": ("id", "status.lead"),
        "status_label": ("keyword", None),
    },
    "contact": {
        "lead_id": ("id", "lead"),
        "name": ("text", None),
        "display_name": ("text", None),
        "title": ("text", None),
    },
    "opportunity": {
        "lead_id": ("id", "lead"),
        "contact_id": ("id", "contact"),
        "status_id": ("id", "status.opportunity"),
        "status_label": ("keyword", None),
        "status_type": ("keyword", None),
        "pipeline_id": ("id", "pipeline"),
        "value": ("number", None),
        "value_period": ("keyword", None),
        "value_currency": ("keyword", None),
        "confidence": ("number", None),
        "date_won": ("date", None),
        "user_id": ("user", "user_or_group"),
        "note": ("text", None),
    },
    "task": {
        "lead_id": ("id", "lead"),
        "assigned_to": ("user", "user_or_group"),
        "is_complete": ("boolean", None),
        "date": ("date", None),
        "text": ("text", None),
        "_type": ("keyword", None),
    },
    "contact_email": {"email": ("text", None), "type": ("keyword", None)},
    "contact_phone": {"phone": ("phone", None), "type": ("keyword", None)},
}
for _activity_type in ACTIVITY_OBJECT_TYPES.values():
    _REGULAR[_activity_type] = {**_ACTIVITY, **_ACTIVITY_EXTRA.get(_activity_type, {})}

KNOWN_OBJECT_TYPES = frozenset(_REGULAR)

_CUSTOM_KINDS: Mapping[str, _K] = {
    "text": ("text", None),
    "hidden": ("text", None),
    "number": ("number", None),
    "date": ("date", None),
    "datetime": ("datetime", None),
    "choices": ("keyword", None),
    "user": ("user", "user_or_group"),
    "contact": ("id", "contact"),
}


def _fields_of(object_type: str) -> dict[str, _K]:
    derived = object_type in ("contact_email", "contact_phone")
    return _REGULAR[object_type] if derived else {**_COMMON, **_REGULAR[object_type]}


def _getter(name: str) -> Callable[[Obj], Any]:
    if name == "display_name":
        return lambda obj: obj.get("display_name") or obj.get("name")
    return lambda obj: obj.get(name)


def _regular(node: dict[str, Any], key: str, path: str) -> FieldSpec:
    object_type, name = node.get("object_type"), node.get("field_name")
    if object_type not in _REGULAR:
        raise field_error(key, f"unknown object_type {object_type!r}", f"{path}.object_type")
    known = _fields_of(object_type)
    if name not in known:
        hint = ""
        if name in ("emails", "phones"):
            hint = f"; use has_related with related_object_type contact_{name[:-1]}"
        raise field_error(
            key, f"unknown field {name!r} for object type {object_type}{hint}", f"{path}.field_name"
        )
    kind, ref = known[name]
    if name == "id":
        ref = object_type
    return FieldSpec(object_type, name, kind, _getter(name), ref)


def _custom(node: dict[str, Any], data: SearchData, key: str, path: str) -> FieldSpec:
    field_id = node.get("custom_field_id")
    definition: CustomField | None = data.custom_field(field_id) if isinstance(field_id, str) else None
    if definition is None:
        raise field_error(key, f"unknown custom field {field_id!r}", f"{path}.custom_field_id")
    kind, ref = _CUSTOM_KINDS.get(definition.type, ("text", None))
    attribute = f"custom.{definition.id}"
    return FieldSpec(
        definition.object_type,
        attribute,
        kind,
        lambda obj: obj.get(attribute),
        ref,
        definition.accepts_multiple_values,
    )


def resolve_field(node: Any, data: SearchData, key: str, path: str) -> FieldSpec:
    """``{"type": "regular_field" | "custom_field", …}`` as a :class:`FieldSpec`, or a 400."""
    if not isinstance(node, dict):
        raise field_error(key, "field must be an object with a 'type'", path)
    kind = node.get("type")
    if kind == "regular_field":
        return _regular(node, key, path)
    if kind == "custom_field":
        return _custom(node, data, key, path)
    raise field_error(
        key, f"unknown field type {kind!r} (expected regular_field, custom_field)", f"{path}.type"
    )
