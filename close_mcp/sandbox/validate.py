"""Field validation for the sandbox's writes (Close's 400 ``field-errors``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from close_mcp.sandbox.engine.resource import TYPE_LABELS
from close_mcp.sandbox.ids import parse_when
from close_mcp.sandbox.store import Obj, OrgStore, validation_error

if TYPE_CHECKING:
    from close_mcp.sandbox.engine.registry import Registry
    from close_mcp.sandbox.engine.resource import Field

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "number": (int, float),
    "bool": bool,
    "list": list,
    "dict": dict,
}


class FieldErrors:
    """Collects every problem of one request so the 400 lists them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise validation_error(self.errors)


def check_field(errs: FieldErrors, store: OrgStore, registry: Registry, f: Field, body: Obj) -> None:
    """One declared field of a write body: type, choices, date, reference."""
    if f.name not in body or body[f.name] is None:
        return
    value = body[f.name]
    kind = _TYPES.get(f.type)
    if kind is not None and (not isinstance(value, kind) or (isinstance(value, bool) and f.type != "bool")):
        errs.add(f.name, f"Not a valid {f.label or TYPE_LABELS.get(f.type, f.type)}.")
    elif f.type == "date" and (not isinstance(value, str) or parse_when(value) is None):
        errs.add(f.name, "Not a valid date or datetime.")
    elif f.choices is not None and value not in f.choices:
        errs.add(f.name, f"Not a valid choice. Valid choices: {', '.join(sorted(f.choices))}.")
    elif f.ref and not registry.exists(store, f.ref, value):
        errs.add(f.key, "Object does not exist.")


def check_not_blank(errs: FieldErrors, body: Obj, *names: str) -> None:
    """A text field that is sent must not be blank (Close's "This field may not be blank.")."""
    for name in names:
        if name in body and isinstance(body[name], str) and not body[name].strip():
            errs.add(name, "This field may not be blank.")


def check_required(errs: FieldErrors, body: Obj, *names: str) -> None:
    for name in names:
        if body.get(name) in (None, ""):
            errs.add(name, "This field is required.")


def check_custom(errs: FieldErrors, store: OrgStore, kind: str, body: Obj) -> None:
    """``custom.cf_…`` keys must name a custom field of this object kind, with a value of its type."""
    fields = store.custom_fields[kind]
    for key, value in body.items():
        if not key.startswith("custom."):
            continue
        cf = fields.get(key.removeprefix("custom."))
        if cf is None:
            errs.add(key, "Custom field does not exist.")
        elif value is not None and not _custom_value_ok(store, cf, value):
            errs.add(key, f"Invalid value for {cf['type']} custom field '{cf['name']}'.")


def _custom_value_ok(store: OrgStore, cf: Obj, value: Any) -> bool:
    values = value if cf.get("accepts_multiple_values") and isinstance(value, list) else [value]
    for v in values:
        kind = cf["type"]
        if kind == "number" and (isinstance(v, bool) or not isinstance(v, int | float)):
            return False
        if kind == "choices" and v not in (cf.get("choices") or []):
            return False
        if kind in ("text", "textarea", "hidden") and not isinstance(v, str):
            return False
        if kind in ("date", "datetime") and (not isinstance(v, str) or parse_when(v) is None):
            return False
        if kind == "user" and v not in store.users:
            return False
    return True


def check_contact_details(errs: FieldErrors, contact: Obj, prefix: str = "") -> None:
    """Entries of ``emails``/``phones``/``urls``. Fix: a non-list value (``"emails": "x"``)
    is one ``Not a valid list.`` error, no longer one error per character."""
    checks = {
        "emails": ("email", "Not a valid email address.", lambda v: bool(_EMAIL.match(v))),
        "phones": ("phone", "Not a valid phone number.", lambda v: len(re.sub(r"[^\d]", "", v)) >= 7),
        "urls": ("url", "Not a valid URL.", lambda v: v.startswith(("http://", "https://"))),
    }
    for name, (key, message, ok) in checks.items():
        entries = contact.get(name)
        if entries is None:
            continue
        if not isinstance(entries, list):
            errs.add(f"{prefix}{name}", "Not a valid list.")
            continue
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not ok(str(entry.get(key, ""))):
                errs.add(f"{prefix}{name}.{i}.{key}", message)


def normalize_contact_details(contact: Obj) -> None:
    for entry in contact.get("emails") or []:
        entry.setdefault("type", "office")
        entry.setdefault("is_unsubscribed", False)
    for entry in contact.get("phones") or []:
        entry.setdefault("type", "office")
        if not entry["phone"].startswith("+"):
            entry["phone"] = "+" + re.sub(r"[^\d]", "", entry["phone"])
    for entry in contact.get("urls") or []:
        entry.setdefault("type", "url")
