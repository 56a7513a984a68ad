"""What the top-level ``text`` query node searches, per object type.

Guess: Close's docs show ``text`` only as a ``field_condition`` condition; the free-standing
``text`` node (close-api.md §2.3) searches "the object's text". We take that to be the
object's own text fields, its contacts' names, titles, emails, phones and URLs (for leads),
and its text custom fields. Phone numbers also match by digits when the query has at least
five of them (so ``415 555 0101`` finds ``+14155550101``).
"""

from __future__ import annotations

from collections.abc import Callable

from close_mcp.sandbox.search.adapter import Obj, SearchData
from close_mcp.sandbox.search.errors import field_error
from close_mcp.sandbox.search.textmatch import digits, full_words_match, phrase_match

__all__ = ["compile_text_node", "contact_strings", "phones_of"]

_OWN: dict[str, tuple[str, ...]] = {
    "lead": ("name", "display_name", "description", "url"),
    "contact": ("name", "title"),
    "opportunity": ("note", "lead_name", "contact_name"),
}


def contact_strings(contact: Obj) -> list[str]:
    """A contact's name, title, email addresses and URLs."""
    out = [str(contact.get(k) or "") for k in ("name", "title")]
    out += [str(e.get("email") or "") for e in contact.get("emails") or [] if isinstance(e, dict)]
    out += [str(u.get("url") or "") for u in contact.get("urls") or [] if isinstance(u, dict)]
    return out


def phones_of(contacts: list[Obj]) -> list[str]:
    """Every phone number on these contacts, as written."""
    return [str(p.get("phone") or "") for c in contacts for p in c.get("phones") or [] if isinstance(p, dict)]


def _haystack(data: SearchData, object_type: str, obj: Obj) -> tuple[list[str], list[str]]:
    texts = [str(obj.get(k) or "") for k in _OWN.get(object_type, ())]
    texts += [v for k, v in obj.items() if k.startswith("custom.") and isinstance(v, str)]
    for address in obj.get("addresses") or []:
        if isinstance(address, dict):
            texts += [str(v) for v in address.values() if isinstance(v, str)]
    contacts: list[Obj] = []
    if object_type == "lead":
        contacts = list(data.related("lead", obj, "contact"))
    elif object_type == "contact":
        contacts = [obj]
    for contact in contacts:
        texts += contact_strings(contact)
    return texts, phones_of(contacts)


def compile_text_node(node: Obj, data: SearchData, path: str) -> Callable[[str, Obj], bool]:
    """``{"type": "text", "value": …, "mode": "full_words" | "phrase"}`` as a predicate."""
    value, mode = node.get("value"), node.get("mode", "full_words")
    if not isinstance(value, str) or not value.strip():
        raise field_error("query", "text query needs a non-empty string 'value'", path)
    if mode not in ("full_words", "phrase"):
        raise field_error(
            "query", f"unknown text mode {mode!r} (expected full_words, phrase)", f"{path}.mode"
        )
    match = phrase_match if mode == "phrase" else full_words_match
    wanted_digits = digits(value) if len(digits(value)) >= 5 else ""

    def test(object_type: str, obj: Obj) -> bool:
        texts, phones = _haystack(data, object_type, obj)
        if wanted_digits and any(wanted_digits in digits(p) for p in phones):
            return True
        return match(value, texts)

    return test
