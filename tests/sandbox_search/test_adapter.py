"""DictSearchData, the in-memory adapter, and the package's public surface."""

from __future__ import annotations

import close_mcp.sandbox.search as search_package
from close_mcp.sandbox.search import DictSearchData
from close_mcp.sandbox.search.adapter import activity_object_type


def test_objects_by_type_including_activity_kinds(org: DictSearchData):
    assert [o["id"] for o in org.objects("activity.email")] == ["acti_01", "acti_05"]
    assert [o["id"] for o in org.objects("activity.call")] == ["acti_02"]
    assert org.objects("activity.sms") == []
    assert activity_object_type({"_type": "LeadStatusChange"}) == "activity.lead_status_change"
    assert activity_object_type({"_type": "Unheard"}) is None


def test_related_follows_lead_id_and_contact_id(org: DictSearchData):
    lead = org.leads[0]
    assert [c["id"] for c in org.related("lead", lead, "contact")] == ["cont_01", "cont_02"]
    assert [t["id"] for t in org.related("lead", lead, "task")] == ["task_01"]
    assert [a["id"] for a in org.related("lead", lead, "activity.email")] == ["acti_01"]
    contact = org.contacts[0]
    assert [x["id"] for x in org.related("contact", contact, "lead")] == ["lead_01"]
    assert [a["id"] for a in org.related("contact", contact, "activity.email")] == ["acti_01"]
    assert [x["id"] for x in org.related("opportunity", org.opportunities[3], "lead")] == ["lead_06"]


def test_custom_fields_by_id_and_by_name_per_type(org: DictSearchData):
    industry = org.custom_field("cf_industry")
    assert industry is not None and industry.type == "choices"
    assert org.custom_field("cf_nope") is None
    assert org.custom_field_by_name("lead", "account owner") == org.custom_field("cf_owner")
    assert org.custom_field_by_name("contact", "Industry") is None


def test_public_surface_is_sorted_and_complete():
    names = search_package.__all__
    assert names == sorted(names)
    assert all(hasattr(search_package, name) for name in names)
