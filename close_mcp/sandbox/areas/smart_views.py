"""Smart Views (``/saved_search/``) and Advanced Filtering ``POST /data/search/``, both on the
evaluators of :mod:`close_mcp.sandbox.search` (tool manifest ``search``)."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import Response

from close_mcp.sandbox.areas.common import current_user
from close_mcp.sandbox.areas.search_data import EngineSearchData, as_sandbox_error, tz_offset
from close_mcp.sandbox.engine import Ctx, Field, Hooks, Resource, Route, choice, json_response
from close_mcp.sandbox.search import SearchError, run_search, search_leads
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, RequestInfo, validation_error
from close_mcp.sandbox.validate import FieldErrors

# Cursors are signed with a per-process secret: they expire after 30 s anyway (close-api.md §2.3).
CURSOR_SECRET = secrets.token_bytes(16)
# The spec's SavedSearchType lists activity kinds too; the sandbox's evaluators search leads
# and contacts (close-api.md §2.3), so a smart view is one of those (the brief's lead|contact).
VIEW_TYPES = ("lead", "contact")


def data_search(ctx: Ctx) -> Response:
    """``POST /data/search/``: Close's query tree over leads and contacts; 400 on anything
    the evaluator does not know (never an empty page for an unknown term)."""
    try:
        body = run_search(
            ctx.body, EngineSearchData(ctx), cursor_secret=CURSOR_SECRET, tz_offset=tz_offset(ctx)
        )
    except SearchError as exc:
        raise as_sandbox_error(exc) from None
    return json_response(body)


def saved_search_lead_ids(ctx: Ctx, saved_search_id: str) -> set[str]:
    """Every lead a smart view selects (``/opportunity/?lead_saved_search_id=``): a full cursor
    walk of ``/data/search/`` over ``{"type": "saved_search"}``. An unknown ID is Close's
    usual 400 field error (guess: the filter answers like a reference field)."""
    data = EngineSearchData(ctx)
    if data.saved_search(saved_search_id) is None:
        raise validation_error({"lead_saved_search_id": "Object does not exist."})
    query = {"type": "saved_search", "saved_search_id": saved_search_id}
    body: dict[str, Any] = {
        "query": {"type": "and", "queries": [{"type": "object_type", "object_type": "lead"}, query]}
    }
    body["_limit"] = 200
    found: set[str] = set()
    try:
        while True:
            page = run_search(body, data, cursor_secret=CURSOR_SECRET, tz_offset=tz_offset(ctx))
            found.update(str(item["id"]) for item in page["data"])
            if not page.get("cursor"):
                return found
            body["cursor"] = page["cursor"]
    except SearchError as exc:
        raise as_sandbox_error(exc) from None


def _check_view(ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    """Name must not be blank; ``s_query`` or the legacy text ``query`` is checked by the
    evaluator at once, so a broken view is a 400 when saved (guess), not when run."""
    if "name" in body and isinstance(body["name"], str) and not body["name"].strip():
        errs.add("name", "This field may not be blank.")
    if errs.errors:
        return
    data = EngineSearchData(ctx)
    try:
        if isinstance(body.get("s_query"), dict):
            run_search({"query": body["s_query"], "results_limit": 0}, data, cursor_secret=CURSOR_SECRET)
        elif isinstance(body.get("query"), str) and body["query"]:
            search_leads(body["query"], data)
    except SearchError as exc:
        for key, message in (exc.body.get("field-errors") or {}).items():
            errs.add("s_query" if key == "query" and "s_query" in body else key, str(message))
        for message in exc.body.get("errors") or []:
            errs.add("query", str(message))


def _default_query(_ctx: Ctx, body: Obj, existing: Obj | None) -> None:
    """A view saved without any query selects every object of its type (guess: Close's
    SavedSearch has both ``s_query`` and ``query`` nullable, close-openapi.yml)."""
    if existing is None and body.get("s_query") is None and not body.get("query"):
        body["s_query"] = {"type": "object_type", "object_type": body.get("type") or "lead"}


SAVED_SEARCH = Resource(
    "saved_search",
    "SavedSearch",
    "/saved_search/",
    "save",  # the search package's saved_search node names save_… (search/tree.py)
    collection="saved_searches",
    fields=(
        Field("name", "str", required=True),
        Field("type", choices=choice(*VIEW_TYPES), default="lead"),
        Field("s_query", "dict", default=None),
        Field("query", "str", default=None),
        Field("description", default=None),
        Field("is_shared", "bool", default=False),
        Field("shared_with", "list", default=None),
        Field("selected_fields", "list", default=None),
        Field("user_id", writable="never", default=current_user),
        Field("is_user_dependent", writable="never", default=False),
    ),
    events=(),
    filters=("type",),  # close-api.md §11: GET(type, type__in)
    default_order="name",  # guess: Close's sidebar lists smart views by name
    hooks=Hooks(validate=_check_view, prepare=_default_query),
    routes=(Route("/data/search/", "POST", data_search),),
)
RESOURCES = (SAVED_SEARCH,)


# ----- seed ----------------------------------------------------------------------------
def _status_query(sc: SeedCtx, label: str) -> Obj:
    sid = next(s for s, v in sc.store.lead_statuses.items() if v["label"] == label)
    field = {"type": "regular_field", "object_type": "lead", "field_name": "status_id"}
    condition = {"type": "reference", "reference_type": "status.lead", "object_ids": [sid]}
    return {"type": "field_condition", "field": field, "condition": condition}


def seed(sc: SeedCtx) -> None:
    sc.boot = RequestInfo(sc.user_ids[0], sc.ids.new("req"), "POST", "/api/v1/seed/")
    industry = sc.store.custom_fields["lead"]
    software = next(cid for cid, f in industry.items() if f["name"] == "Industry")
    views = [
        ("Qualified leads", "lead", _status_query(sc, "Qualified"), True),
        (
            "Software prospects",
            "lead",
            {
                "type": "field_condition",
                "field": {"type": "custom_field", "custom_field_id": software},
                "condition": {"type": "term", "values": ["Software"]},
            },
            True,
        ),
        ("Customers' contacts", "contact", _contacts_of(_status_query(sc, "Customer")), False),
    ]
    for name, kind, tree, shared in views:
        vid = sc.ids.new("save")
        s_query = {"type": "and", "queries": [{"type": "object_type", "object_type": kind}, tree]}
        view: Obj = {
            "id": vid,
            "name": name,
            "type": kind,
            "s_query": s_query,
            "query": None,
            "description": None,
        }
        view.update(is_shared=shared, shared_with=None, selected_fields=None, is_user_dependent=False)
        view["user_id"] = sc.user_ids[0]
        sc.store.collection("saved_searches")[vid] = sc.stamp(view, sc.org_created)


def _contacts_of(lead_tree: Obj) -> Obj:
    return {
        "type": "has_related",
        "this_object_type": "contact",
        "related_object_type": "lead",
        "related_query": lead_tree,
    }
