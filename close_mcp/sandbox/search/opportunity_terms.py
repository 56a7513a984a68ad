"""What each term means in an opportunity ``query`` (``GET /opportunity/?query=``).

Close's spec says this query is "restricted to opportunity properties", with examples
``note:important`` and ``status_change(old_status:active new_status:won date:yesterday)``
(close-api.md §3.2). We support ``note:``, ``status:``/``status_label:`` (a label),
``status_type:`` (active, won, lost), ``value``, ``confidence``, ``date_won``,
``created``/``date_created``, ``updated``/``date_updated`` (with comparisons), ``user:``/
``user_id:``, ``lead_id:``, ``id:``, ``lead:`` (lead name words), ``custom.<name>`` and
``sort:``. Guesses: everything beyond ``note:`` and the status-change function (which is a
400 "not supported") follows the opportunity's own field names; free text matches the
note, lead name and contact name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from close_mcp.sandbox.search.adapter import Obj, SearchData
from close_mcp.sandbox.search.conditions import Env
from close_mcp.sandbox.search.dates import parse_instant
from close_mcp.sandbox.search.errors import field_error
from close_mcp.sandbox.search.query_custom import custom_sort_key, custom_term, is_custom
from close_mcp.sandbox.search.query_syntax import Term
from close_mcp.sandbox.search.query_values import (
    date_test,
    exact_test,
    number_test,
    phrase_test,
    require_colon,
)
from close_mcp.sandbox.search.textmatch import phrase_match

__all__ = ["opportunity_sort_key", "opportunity_term"]

OppTest = Callable[[Obj], bool]
_STATUS_TYPES = ("active", "won", "lost")
_DATES = {
    "date_won": "date_won",
    "created": "date_created",
    "date_created": "date_created",
    "updated": "date_updated",
    "date_updated": "date_updated",
}
_KEYWORDS = (
    "note, lead, status, status_label, status_type, value, confidence, date_won, created, "
    "date_created, updated, date_updated, user, user_id, lead_id, id, custom.<field>, sort"
)


def _lead_name(opp: Obj, data: SearchData) -> str:
    if opp.get("lead_name"):
        return str(opp["lead_name"])
    return " ".join(str(lead.get("name") or "") for lead in data.related("opportunity", opp, "lead"))


def _status(term: Term, data: SearchData) -> OppTest:
    require_colon(term, "status")
    statuses = data.opportunity_statuses()
    ids = {s.get("id") for s in statuses if str(s.get("label", "")).casefold() == term.value.casefold()}
    if not ids:
        known = ", ".join(sorted(str(s.get("label")) for s in statuses))
        raise field_error("query", f"unknown opportunity status {term.value!r} (statuses: {known})")
    return lambda opp: opp.get("status_id") in ids


def _status_type(term: Term) -> OppTest:
    require_colon(term, "status_type")
    wanted = term.value.casefold()
    if wanted not in _STATUS_TYPES:
        raise field_error("query", f"unknown status_type {term.value!r} (expected active, won, lost)")
    return lambda opp: opp.get("status_type") == wanted


def opportunity_term(term: Term, data: SearchData, env: Env) -> OppTest:
    """One term of an opportunity query; a 400 naming anything unknown."""
    if term.field is None:
        texts: Callable[[Obj], list[str]] = lambda o: [  # noqa: E731
            str(o.get("note") or ""),
            _lead_name(o, data),
            str(o.get("contact_name") or ""),
        ]
        return lambda opp: phrase_match(term.value, texts(opp))
    name = term.field.casefold()
    if name in ("status", "status_label"):
        return _status(term, data)
    if name == "status_type":
        return _status_type(term)
    if name in _DATES:
        test = date_test(term, env, name)
        field = _DATES[name]
        return lambda opp: test(opp.get(field))
    if name in ("value", "confidence"):
        number = number_test(term, name)
        return lambda opp: number(opp.get(name))
    if name == "note":
        require_colon(term, name)
        words = phrase_test(term)
        return lambda opp: words(opp.get("note"))
    if name == "lead":
        require_colon(term, name)
        return lambda opp: phrase_match(term.value, [_lead_name(opp, data)])
    if name in ("user", "user_id", "lead_id", "id"):
        require_colon(term, name)
        key = "user_id" if name == "user" else name
        same = exact_test(term)
        return lambda opp: same(opp.get(key))
    if is_custom(term.field):
        return custom_term(term, "opportunity", data, env)
    raise field_error("query", f"unknown opportunity search keyword {term.field!r} (known: {_KEYWORDS})")


def opportunity_sort_key(name: str, data: SearchData, env: Env) -> Callable[[Obj], Any]:
    """A reader for ``sort:<name>`` on opportunities; None sorts last."""
    if is_custom(name):
        return custom_sort_key(name, "opportunity", data, env)
    key = name.casefold()
    if key in _DATES:
        field = _DATES[key]

        def read_date(opp: Obj) -> Any:
            moment = parse_instant(opp.get(field), env.tz)
            return None if moment is None else moment.timestamp()

        return read_date
    if key in ("value", "confidence"):
        return lambda opp: float(opp[key]) if isinstance(opp.get(key), int | float) else None
    if key in ("status", "status_label"):
        return lambda opp: str(opp["status_label"]).casefold() if opp.get("status_label") else None
    raise field_error("query", f"cannot sort opportunities by {name!r}")
