"""What each term means in a lead ``query`` (``GET /lead/?query=``).

Keywords in our sources: ``status:"Potential"`` (closeio-api docstring), ``lead_status:``
(third-party scripts), ``name:`` (closeio-api tests; ``name:"Company Name"`` dedupe in a
third-party integration), ``email:`` (several integrations), ``id:``, ``created``/``date_created``
and ``date_updated`` comparisons (TAP, third-party scripts), ``custom.<name>``, ``sort:``.
Guesses: ``updated`` mirrors ``created``; ``contact:``, ``phone:``, ``email_domain:``,
``description:``, ``url:`` and ``has:email|phone|contacts|opportunities|tasks`` follow the
UI's search keywords as the brief lists them; free text matches whole words in the lead
name, contact names and email addresses, and phone numbers by digits (5 or more).
Anything else is a 400 naming the keyword; an unknown status label is a 400 naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from close_mcp.sandbox.search.adapter import Obj, SearchData
from close_mcp.sandbox.search.conditions import Env
from close_mcp.sandbox.search.dates import parse_instant
from close_mcp.sandbox.search.errors import field_error
from close_mcp.sandbox.search.query_custom import custom_sort_key, custom_term, is_custom
from close_mcp.sandbox.search.query_syntax import Term
from close_mcp.sandbox.search.query_values import date_test, exact_test, phrase_test, require_colon
from close_mcp.sandbox.search.textmatch import digits, phrase_match

__all__ = ["lead_sort_key", "lead_term"]

LeadTest = Callable[[Obj], bool]
_PHONEISH = re.compile(r"^[\d\s()+.\-]+$")
_HAS = ("email", "phone", "contacts", "opportunities", "tasks")
_KEYWORDS = (
    "name, contact, email, email_domain, phone, status, lead_status, description, url, id, "
    "created, date_created, updated, date_updated, has, custom.<field>, sort"
)


def _contacts(data: SearchData, lead: Obj) -> list[Obj]:
    return list(data.related("lead", lead, "contact"))


def _emails(data: SearchData, lead: Obj) -> list[str]:
    return [
        str(e.get("email") or "")
        for c in _contacts(data, lead)
        for e in c.get("emails") or []
        if isinstance(e, dict)
    ]


def _phones(data: SearchData, lead: Obj) -> list[str]:
    return [
        digits(str(p.get("phone") or ""))
        for c in _contacts(data, lead)
        for p in c.get("phones") or []
        if isinstance(p, dict)
    ]


def free_text(term: Term, data: SearchData) -> LeadTest:
    """A bare word or phrase: lead name, contact names, emails; phone numbers by digits."""
    wanted_digits = digits(term.value) if _PHONEISH.match(term.value) else ""

    def test(lead: Obj) -> bool:
        if len(wanted_digits) >= 5 and any(wanted_digits in p for p in _phones(data, lead)):
            return True
        texts = [str(lead.get("name") or ""), str(lead.get("display_name") or "")]
        texts += [str(c.get("name") or "") for c in _contacts(data, lead)]
        return phrase_match(term.value, texts + _emails(data, lead))

    return test


def _status(term: Term, data: SearchData) -> LeadTest:
    require_colon(term, "status")
    labels = {str(s.get("label", "")).casefold(): s.get("id") for s in data.lead_statuses()}
    status_id = labels.get(term.value.casefold())
    if status_id is None:
        known = ", ".join(sorted(str(s.get("label")) for s in data.lead_statuses()))
        raise field_error("query", f"unknown lead status {term.value!r} (statuses: {known})")
    return lambda lead: lead.get("status_id") == status_id


def _has(term: Term, data: SearchData) -> LeadTest:
    require_colon(term, "has")
    what = term.value.casefold()
    if what == "email":
        return lambda lead: any(_emails(data, lead))
    if what == "phone":
        return lambda lead: any(_phones(data, lead))
    if what in ("contacts", "opportunities", "tasks"):
        related = {"contacts": "contact", "opportunities": "opportunity", "tasks": "task"}[what]
        return lambda lead: bool(data.related("lead", lead, related))
    raise field_error("query", f"unknown has: value {term.value!r} (expected {', '.join(_HAS)})")


def _email(term: Term, data: SearchData) -> LeadTest:
    require_colon(term, "email")
    if "@" in term.value:
        wanted = term.value.casefold()
        return lambda lead: any(e.casefold() == wanted for e in _emails(data, lead))
    return lambda lead: phrase_match(term.value, _emails(data, lead))


def _email_domain(term: Term, data: SearchData) -> LeadTest:
    require_colon(term, "email_domain")
    wanted = term.value.casefold().lstrip("@")
    return lambda lead: any(e.casefold().rpartition("@")[2] == wanted for e in _emails(data, lead))


def _phone(term: Term, data: SearchData) -> LeadTest:
    require_colon(term, "phone")
    wanted = digits(term.value)
    if not wanted:
        raise field_error("query", f"phone: needs digits, not {term.value!r}")
    return lambda lead: any(wanted in p for p in _phones(data, lead))


def _own(name: str, test: Callable[[Any], bool]) -> LeadTest:
    return lambda lead: test(lead.get(name))


def lead_term(term: Term, data: SearchData, env: Env) -> LeadTest:
    """One term of a lead query as a test on lead dicts; a 400 naming anything unknown."""
    if term.field is None:
        return free_text(term, data)
    name = term.field.casefold()
    if name in ("status", "lead_status"):
        return _status(term, data)
    if name in ("created", "date_created"):
        return _own("date_created", date_test(term, env, name))
    if name in ("updated", "date_updated"):
        return _own("date_updated", date_test(term, env, name))
    if name == "has":
        return _has(term, data)
    if name == "email":
        return _email(term, data)
    if name == "email_domain":
        return _email_domain(term, data)
    if name == "phone":
        return _phone(term, data)
    if name == "contact":
        require_colon(term, name)
        return lambda lead: phrase_match(
            term.value, [str(c.get("name") or "") for c in _contacts(data, lead)]
        )
    if name in ("name", "description", "url"):
        require_colon(term, name)
        return _own(name, phrase_test(term))
    if name == "id":
        require_colon(term, name)
        return _own("id", exact_test(term))
    if is_custom(term.field):
        return custom_term(term, "lead", data, env)
    raise field_error("query", f"unknown search keyword {term.field!r} (known: {_KEYWORDS})")


_SORT_FIELDS = {
    "name": "name",
    "created": "date_created",
    "date_created": "date_created",
    "updated": "date_updated",
    "date_updated": "date_updated",
    "status": "status_label",
    "lead_status": "status_label",
}


def lead_sort_key(name: str, data: SearchData, env: Env) -> Callable[[Obj], Any]:
    """A reader for ``sort:<name>`` on leads; None sorts last."""
    if is_custom(name):
        return custom_sort_key(name, "lead", data, env)
    field = _SORT_FIELDS.get(name.casefold())
    if field is None:
        raise field_error("query", f"cannot sort leads by {name!r} (sortable: {', '.join(_SORT_FIELDS)})")
    if field.startswith("date_"):

        def read_date(lead: Obj) -> Any:
            moment = parse_instant(lead.get(field), env.tz)
            return None if moment is None else moment.timestamp()

        return read_date
    return lambda lead: str(lead[field]).casefold() if lead.get(field) else None
