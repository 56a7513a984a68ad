"""``field_condition`` conditions on regular and custom fields, positive and negative."""

from __future__ import annotations

import pytest

from close_mcp.sandbox.search import SearchError

from .search_org import BOB, and_, cond, custom, field_errors, lead_cond, lead_type, leads, regular


def lead_search(*clauses: dict) -> dict:
    return and_(lead_type(), *clauses)


def text(value: str, mode: str | None = None) -> dict:
    node = {"type": "text", "value": value}
    return {**node, "mode": mode} if mode else node


def test_text_full_words_needs_whole_words_in_any_order(ids):
    assert ids(lead_search(lead_cond("name", text("acme")))) == ["lead_01"]
    assert ids(lead_search(lead_cond("name", text("software acme")))) == ["lead_01"]
    assert ids(lead_search(lead_cond("name", text("soft")))) == []
    assert ids(lead_search(lead_cond("name", text("acme corp")))) == []


def test_text_phrase_needs_adjacent_words_in_order(ids):
    assert ids(lead_search(lead_cond("name", text("acme software", "phrase")))) == ["lead_01"]
    assert ids(lead_search(lead_cond("name", text("software acme", "phrase")))) == []


def test_text_unknown_mode_is_a_400(search):
    with pytest.raises(SearchError) as excinfo:
        search(lead_search(lead_cond("name", text("acme", "beginning_of_words"))))
    assert field_errors(excinfo) == {
        "query": "queries[1].condition.mode: unknown text mode 'beginning_of_words' (expected full_words, phrase)"
    }


def test_term_on_a_choices_custom_field_is_case_insensitive(ids):
    query = lead_search(cond(custom("cf_industry"), {"type": "term", "values": ["software", "Retail"]}))
    assert ids(query) == leads(1, 2, 3)


def test_term_on_status_label(ids):
    assert ids(lead_search(lead_cond("status_label", {"type": "term", "values": ["Bad Fit"]}))) == leads(
        4, 12
    )
    assert ids(lead_search(lead_cond("status_label", {"type": "term", "values": ["Bad"]}))) == []


def test_term_needs_values(search):
    with pytest.raises(SearchError) as excinfo:
        search(lead_search(lead_cond("status_label", {"type": "term", "values": []})))
    assert "term condition needs a non-empty list 'values'" in field_errors(excinfo)["query"]


def test_boolean_condition_on_task_completion(ids):
    def tasks(done: bool) -> dict:
        query = cond(regular("task", "is_complete"), {"type": "boolean", "value": done})
        return {
            "type": "has_related",
            "this_object_type": "lead",
            "related_object_type": "task",
            "related_query": query,
        }

    assert ids(lead_search(tasks(True))) == leads(2, 7)
    assert ids(lead_search(tasks(False))) == leads(1, 10)


def test_boolean_condition_needs_a_boolean(search):
    query = cond(regular("task", "is_complete"), {"type": "boolean", "value": "yes"})
    related = {
        "type": "has_related",
        "this_object_type": "lead",
        "related_object_type": "task",
        "related_query": query,
    }
    with pytest.raises(SearchError) as excinfo:
        search(lead_search(related))
    assert "boolean condition needs 'value' true or false" in field_errors(excinfo)["query"]


def test_exists_and_its_negation(ids):
    has_industry = cond(custom("cf_industry"), {"type": "exists"})
    assert ids(lead_search(has_industry)) == leads(1, 2, 3, 4, 6)
    assert ids(lead_search({**has_industry, "negate": True})) == leads(5, 7, 8, 9, 10, 11, 12)


def test_exists_treats_empty_strings_as_missing(ids):
    assert ids(lead_search(lead_cond("description", {"type": "exists"}))) == leads(1, 3)


def test_current_user(ids):
    assert ids(lead_search(cond(custom("cf_owner"), {"type": "current_user"}))) == ["lead_01"]
    everyone_but_bob = [x for x in leads(*range(1, 13)) if x != "lead_02"]
    assert ids(lead_search(lead_cond("created_by", {"type": "current_user"}))) == everyone_but_bob


def test_current_user_does_not_apply_to_text(search):
    with pytest.raises(SearchError) as excinfo:
        search(lead_search(lead_cond("name", {"type": "current_user"})))
    assert field_errors(excinfo) == {
        "query": "queries[1].condition.type: condition current_user does not apply to text field name"
    }


def test_reference_on_user_and_contact_custom_fields(ids):
    owner = {"type": "reference", "reference_type": "user_or_group", "object_ids": [BOB]}
    champion = {"type": "reference", "reference_type": "contact", "object_ids": ["cont_01"]}
    assert ids(lead_search(cond(custom("cf_owner"), owner))) == ["lead_02"]
    assert ids(lead_search(cond(custom("cf_champion"), champion))) == ["lead_01"]


def test_reference_type_must_fit_the_field(search):
    wrong = {"type": "reference", "reference_type": "status.opportunity", "object_ids": ["stat_x"]}
    with pytest.raises(SearchError) as excinfo:
        search(lead_search(lead_cond("status_id", wrong)))
    assert field_errors(excinfo) == {
        "query": "queries[1].condition.reference_type: reference_type 'status.opportunity' does not fit "
        "field status_id (expected 'status.lead')"
    }


def test_number_range_bounds(ids):
    def employees(**bounds: float) -> list[str]:
        return ids(lead_search(cond(custom("cf_employees"), {"type": "number_range", **bounds})))

    assert employees(gte=300, lt=1200) == leads(3, 6)
    assert employees(gt=300) == leads(2, 4, 6)
    assert employees(lte=50) == ["lead_01"]
    assert employees(gt=5000) == []


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"type": "number_range"}, "number_range needs at least one of gt, gte, lt, lte"),
        ({"type": "number_range", "gt": "10"}, "gt must be a number, not '10'"),
    ],
)
def test_number_range_errors(search, condition, message):
    with pytest.raises(SearchError) as excinfo:
        search(lead_search(cond(custom("cf_employees"), condition)))
    assert message in field_errors(excinfo)["query"]


def test_number_range_does_not_apply_to_text(search):
    with pytest.raises(SearchError) as excinfo:
        search(lead_search(lead_cond("name", {"type": "number_range", "gt": 1})))
    assert "condition number_range does not apply to text field name" in field_errors(excinfo)["query"]


def test_multi_valued_custom_field_matches_any_value(ids):
    assert ids(lead_search(cond(custom("cf_tags"), text("vip")))) == ["lead_11"]
    assert ids(lead_search(cond(custom("cf_tags"), {"type": "term", "values": ["chocolate"]}))) == ["lead_11"]
    assert ids(lead_search(cond(custom("cf_tags"), text("candy")))) == []


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            regular("lead", "colour"),
            "queries[1].field.field_name: unknown field 'colour' for object type lead",
        ),
        (regular("widget", "name"), "queries[1].field.object_type: unknown object_type 'widget'"),
        (custom("cf_nope"), "queries[1].field.custom_field_id: unknown custom field 'cf_nope'"),
        ({"type": "smart_field", "name": "x"}, "queries[1].field.type: unknown field type 'smart_field'"),
    ],
)
def test_unknown_fields_are_400s_naming_them(search, field, message):
    with pytest.raises(SearchError) as excinfo:
        search(lead_search(cond(field, {"type": "exists"})))
    assert field_errors(excinfo)["query"].startswith(message)


def test_unknown_condition_type_is_a_400(search):
    with pytest.raises(SearchError) as excinfo:
        search(lead_search(lead_cond("name", {"type": "fuzzy", "value": "acme"})))
    assert field_errors(excinfo) == {"query": "queries[1].condition.type: unknown condition type 'fuzzy'"}


def test_a_contact_custom_field_in_a_lead_search_is_a_400(search, ids):
    with pytest.raises(SearchError) as excinfo:
        search(lead_search(cond(custom("cf_linkedin"), {"type": "exists"})))
    assert "belongs to contact" in field_errors(excinfo)["query"]
    contacts = and_(
        {"type": "object_type", "object_type": "contact"}, cond(custom("cf_linkedin"), text("pepperpotts"))
    )
    assert ids(contacts) == ["cont_07"]


def test_a_missing_value_never_matches_a_condition(ids):
    # ``url`` is None on most leads: the text "None" must not match the missing value.
    assert ids(lead_search(lead_cond("url", text("none")))) == []
    assert ids(lead_search(lead_cond("url", text("acme")))) == ["lead_01"]


def test_contact_emails_field_points_to_contact_email(search):
    query = and_(
        {"type": "object_type", "object_type": "contact"},
        cond(regular("contact", "emails"), {"type": "exists"}),
    )
    with pytest.raises(SearchError) as excinfo:
        search(query)
    assert field_errors(excinfo) == {
        "query": "queries[1].field.field_name: unknown field 'emails' for object type contact; "
        "use has_related with related_object_type contact_email"
    }
