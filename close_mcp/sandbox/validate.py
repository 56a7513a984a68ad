"""Field validation shared by the sandbox's write routes (Close's 400 ``field-errors``)."""

from __future__ import annotations

import re
from typing import Any

from close_mcp.sandbox.ids import parse_when
from close_mcp.sandbox.store import Obj, OrgStore, validation_error

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class FieldErrors:
    """Collects every problem of one request so the 400 lists them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise validation_error(self.errors)


def pick(body: Obj, allowed: set[str]) -> Obj:
    """Keep the writable fields and ``custom.cf_…`` keys; unknown fields are ignored,
    as Close accepts them on create (close-api.md §4, OBS-PHP)."""
    return {k: v for k, v in body.items() if k in allowed or k.startswith("custom.")}


def check_type(errs: FieldErrors, body: Obj, name: str, kind: type | tuple[type, ...], label: str) -> None:
    if (
        name in body
        and body[name] is not None
        and (
            not isinstance(body[name], kind) or (isinstance(body[name], bool) and bool not in _as_tuple(kind))
        )
    ):
        errs.add(name, f"Not a valid {label}.")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def check_choice(errs: FieldErrors, body: Obj, name: str, choices: list[str] | set[str]) -> None:
    if name in body and body[name] is not None and body[name] not in choices:
        errs.add(name, f"Not a valid choice. Valid choices: {', '.join(sorted(choices))}.")


def check_required(errs: FieldErrors, body: Obj, *names: str) -> None:
    for name in names:
        if body.get(name) in (None, ""):
            errs.add(name, "This field is required.")


def check_reference(errs: FieldErrors, store: OrgStore, body: Obj, name: str, collection: str) -> None:
    value = body.get(name)
    if value is not None and value not in getattr(store, collection):
        errs.add(name.removesuffix("_id"), "Object does not exist.")


def check_date(errs: FieldErrors, body: Obj, name: str) -> None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or parse_when(value) is None):
        errs.add(name, "Not a valid date or datetime.")


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
    for i, entry in enumerate(contact.get("emails") or []):
        if not isinstance(entry, dict) or not _EMAIL.match(str(entry.get("email", ""))):
            errs.add(f"{prefix}emails.{i}.email", "Not a valid email address.")
    for i, entry in enumerate(contact.get("phones") or []):
        digits = re.sub(r"[^\d]", "", str(entry.get("phone", ""))) if isinstance(entry, dict) else ""
        if len(digits) < 7:
            errs.add(f"{prefix}phones.{i}.phone", "Not a valid phone number.")
    for i, entry in enumerate(contact.get("urls") or []):
        if not isinstance(entry, dict) or not str(entry.get("url", "")).startswith(("http://", "https://")):
            errs.add(f"{prefix}urls.{i}.url", "Not a valid URL.")
    for name in ("emails", "phones", "urls"):
        if name in contact and contact[name] is not None and not isinstance(contact[name], list):
            errs.add(f"{prefix}{name}", "Not a valid list.")


def normalize_contact_details(contact: Obj) -> None:
    for entry in contact.get("emails") or []:
        entry.setdefault("type", "office")
        entry.setdefault("is_unsubscribed", False)
    for entry in contact.get("phones") or []:
        entry.setdefault("type", "office")
        entry["phone"] = (
            "+" + re.sub(r"[^\d]", "", entry["phone"])
            if not entry["phone"].startswith("+")
            else entry["phone"]
        )
    for entry in contact.get("urls") or []:
        entry.setdefault("type", "url")
