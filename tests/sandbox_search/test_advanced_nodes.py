"""Advanced Filtering query nodes: one test per node type, positive and negative."""

from __future__ import annotations

import pytest

from close_mcp.sandbox.search import SearchError, run_search

from .search_org import (
    CUSTOMER,
    WON,
    and_,
    cond,
    contact_type,
    field_errors,
    lead_cond,
    lead_type,
    leads,
    or_,
    regular,
)

ALL_LEADS = leads(*range(1, 13))
CUSTOMERS = leads(3, 7, 11)


def status_is(status_id: str, negate: bool = False) -> dict:
    ref = {"type": "reference", "reference_type": "status.lead", "object_ids": [status_id]}
    return lead_cond("status_id", ref, negate)


def test_object_type_lead_returns_every_lead_only(ids):
    assert ids(lead_type()) == ALL_LEADS


def test_object_type_contact_returns_contacts_with_their_type(search):
    data = search(contact_type(), _limit=200)["data"]
    assert [d["id"] for d in data] == [f"cont_{n:02d}" for n in range(1, 14)]
    assert {d["__object_type"] for d in data} == {"contact"}


def test_and_requires_every_clause(ids):
    assert ids(and_(lead_type(), status_is(CUSTOMER))) == CUSTOMERS


def test_or_takes_any_clause(ids):
    query = and_(lead_type(), or_(status_is(CUSTOMER), status_is("stat_badfit")))
    assert ids(query) == leads(3, 4, 7, 11, 12)


def test_empty_and_matches_all_and_empty_or_matches_none(ids):
    assert ids(and_(lead_type(), and_())) == ALL_LEADS
    assert ids(and_(lead_type(), or_())) == []


def test_negate_on_a_field_condition(ids):
    assert ids(and_(lead_type(), status_is(CUSTOMER, negate=True))) == leads(1, 2, 4, 5, 6, 8, 9, 10, 12)


def test_negate_on_an_and_node(ids):
    inner = {**and_(status_is(CUSTOMER)), "negate": True}
    assert ids(and_(lead_type(), inner)) == leads(1, 2, 4, 5, 6, 8, 9, 10, 12)


def test_id_node_with_one_value_and_with_values(ids):
    assert ids(and_(lead_type(), {"type": "id", "value": "lead_05"})) == ["lead_05"]
    assert ids(and_(lead_type(), {"type": "id", "values": ["lead_09", "lead_02"]})) == leads(2, 9)
    assert ids(and_(lead_type(), {"type": "id", "value": "lead_05", "negate": True})) == [
        x for x in ALL_LEADS if x != "lead_05"
    ]


def test_text_node_searches_lead_and_contact_text(ids):
    assert ids(and_(lead_type(), {"type": "text", "value": "skates"})) == ["lead_01"]
    assert ids(and_(lead_type(), {"type": "text", "value": "Gibbons"})) == ["lead_03"]
    assert ids(and_(lead_type(), {"type": "text", "value": "skate"})) == []


def test_text_node_phrase_and_full_words_modes(ids):
    full = {"type": "text", "value": "Scorpio Hank", "mode": "full_words"}
    phrase = {"type": "text", "value": "Scorpio Hank", "mode": "phrase"}
    assert ids(and_(lead_type(), full)) == ["lead_02"]
    assert ids(and_(lead_type(), phrase)) == []
    assert ids(and_(lead_type(), {**phrase, "value": "Hank Scorpio"})) == ["lead_02"]


def test_text_node_matches_phone_digits(ids):
    assert ids(and_(lead_type(), {"type": "text", "value": "415 555 0101"})) == ["lead_01"]


def test_text_node_on_contacts(ids):
    assert ids(and_(contact_type(), {"type": "text", "value": "CEO"})) == [
        "cont_01",
        "cont_03",
        "cont_06",
        "cont_12",
        "cont_13",
    ]


def test_mixed_object_types_in_one_search(search):
    query = or_(
        and_(lead_type(), lead_cond("name", {"type": "text", "value": "Acme"})),
        and_(contact_type(), cond(regular("contact", "title"), {"type": "text", "value": "CTO"})),
    )
    data = search(query)["data"]
    assert data == [{"__object_type": "lead", "id": "lead_01"}, {"__object_type": "contact", "id": "cont_08"}]


def test_has_related_opportunity_with_a_status(ids):
    won = {"type": "reference", "reference_type": "status.opportunity", "object_ids": [WON]}
    related = {
        "type": "has_related",
        "this_object_type": "lead",
        "related_object_type": "opportunity",
        "related_query": cond(regular("opportunity", "status_id"), won),
    }
    assert ids(and_(lead_type(), related)) == leads(2, 6)


def test_has_related_contact_title(ids):
    related = {
        "type": "has_related",
        "this_object_type": "lead",
        "related_object_type": "contact",
        "related_query": cond(regular("contact", "title"), {"type": "text", "value": "CEO"}),
    }
    assert ids(and_(lead_type(), related)) == leads(1, 2, 5, 6, 12)


def test_negated_has_related_without_query_finds_leads_without_contacts(ids):
    related = {
        "type": "has_related",
        "this_object_type": "lead",
        "related_object_type": "contact",
        "negate": True,
    }
    assert ids(and_(lead_type(), related)) == ["lead_08"]


def test_has_related_from_contact_to_lead(ids):
    related = {
        "type": "has_related",
        "this_object_type": "contact",
        "related_object_type": "lead",
        "related_query": status_is(CUSTOMER),
    }
    assert ids(and_(contact_type(), related)) == ["cont_04", "cont_08", "cont_11"]


def test_has_related_contact_email_and_contact_phone(ids):
    email = {
        "type": "has_related",
        "this_object_type": "lead",
        "related_object_type": "contact_email",
        "related_query": cond(
            regular("contact_email", "email"), {"type": "text", "value": "jane@acme.com", "mode": "phrase"}
        ),
    }
    phone = {
        "type": "has_related",
        "this_object_type": "lead",
        "related_object_type": "contact_phone",
        "related_query": cond(regular("contact_phone", "phone"), {"type": "text", "value": "212-555-0199"}),
    }
    assert ids(and_(lead_type(), email)) == ["lead_01"]
    assert ids(and_(lead_type(), phone)) == ["lead_02"]


def test_has_related_activities_and_tasks(ids):
    def related(kind: str, query: dict | None = None) -> dict:
        node = {"type": "has_related", "this_object_type": "lead", "related_object_type": kind}
        return {**node, "related_query": query} if query else node

    assert ids(and_(lead_type(), related("activity.email"))) == leads(1, 7)
    assert ids(and_(lead_type(), related("activity.meeting"))) == ["lead_06"]
    open_task = cond(regular("task", "is_complete"), {"type": "boolean", "value": False})
    assert ids(and_(lead_type(), related("task", open_task))) == leads(1, 10)


def test_saved_search_reference(ids):
    assert ids({"type": "saved_search", "saved_search_id": "save_customers"}) == CUSTOMERS


def test_saved_search_with_wrapped_s_query_and_combined(ids):
    software = {"type": "saved_search", "saved_search_id": "save_wrapped"}
    assert ids(software) == leads(1, 3)
    assert ids(and_(software, {"type": "saved_search", "saved_search_id": "save_customers"})) == ["lead_03"]


def test_saved_search_with_only_a_legacy_text_query(ids):
    assert ids({"type": "saved_search", "saved_search_id": "save_legacy"}) == leads(1, 5, 8, 10)


@pytest.mark.parametrize(
    ("saved_id", "message"),
    [
        ("save_nope", "saved search 'save_nope' does not exist"),
        ("save_loop", "saved search save_loop refers to itself"),
        ("save_empty", "saved search save_empty has no query"),
    ],
)
def test_saved_search_errors(search, saved_id, message):
    with pytest.raises(SearchError) as excinfo:
        search(and_(lead_type(), {"type": "saved_search", "saved_search_id": saved_id}))
    assert message in field_errors(excinfo)["query"]


def test_unknown_node_type_is_a_400_naming_it_and_its_place(search):
    with pytest.raises(SearchError) as excinfo:
        search(and_(lead_type(), {"type": "fuzzy", "value": "x"}))
    assert field_errors(excinfo) == {
        "query": "queries[1].type: unknown query type 'fuzzy' (expected and, or, object_type, id, text, "
        "field_condition, has_related, saved_search)"
    }


def test_a_query_without_object_type_is_a_400(search):
    with pytest.raises(SearchError) as excinfo:
        search(lead_cond("name", {"type": "text", "value": "Acme"}))
    assert "object_type clause" in field_errors(excinfo)["query"]


@pytest.mark.parametrize(
    ("object_type", "message"),
    [("task", "cannot search task objects"), ("widget", "unknown object_type 'widget'")],
)
def test_object_type_that_cannot_be_searched(search, object_type, message):
    with pytest.raises(SearchError) as excinfo:
        search({"type": "object_type", "object_type": object_type})
    assert message in field_errors(excinfo)["query"]


def test_a_field_of_another_object_type_needs_has_related(search):
    with pytest.raises(SearchError) as excinfo:
        search(and_(lead_type(), cond(regular("contact", "title"), {"type": "text", "value": "CEO"})))
    message = field_errors(excinfo)["query"]
    assert message.startswith("queries[1].field: field title belongs to contact")
    assert "has_related" in message


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (
            {"type": "has_related", "this_object_type": "lead", "related_object_type": "pipeline"},
            "lead has no related object type 'pipeline'",
        ),
        (
            {"type": "has_related", "this_object_type": "contact", "related_object_type": "lead"},
            "this_object_type 'contact' is not searched here",
        ),
        ({"type": "id"}, "id query needs 'value'"),
        ({"type": "text", "value": ""}, "text query needs a non-empty string"),
        ({"type": "and", "queries": {"a": 1}}, "and needs a list 'queries'"),
        ({"type": "and", "queries": [], "negate": "yes"}, "negate must be true or false"),
        ("lead", "each query must be an object"),
    ],
)
def test_malformed_nodes_are_400s(search, node, message):
    with pytest.raises(SearchError) as excinfo:
        search(and_(lead_type(), node))
    assert message in field_errors(excinfo)["query"]


def test_body_must_be_an_object_with_a_query(org):
    with pytest.raises(SearchError) as excinfo:
        run_search({"_limit": 10}, org, cursor_secret=b"s")
    assert field_errors(excinfo) == {"query": "Field required"}
    with pytest.raises(SearchError) as excinfo:
        run_search([], org, cursor_secret=b"s")
    assert excinfo.value.status == 400
    assert excinfo.value.body == {"errors": ["The request body must be a JSON object."], "field-errors": {}}
    with pytest.raises(SearchError) as excinfo:
        run_search({"query": "status:Potential"}, org, cursor_secret=b"s")
    assert field_errors(excinfo) == {"query": "query must be an object with a 'type'"}
