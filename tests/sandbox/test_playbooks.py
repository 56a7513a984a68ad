"""Playbooks over real HTTP: the spec's audit names, position order, archive/unarchive, errors."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio


async def test_create_appends_with_the_specs_field_names(http):
    r = await http.post("/playbook/", json={"name": "Closing call", "outcome_ids": []})
    assert r.status_code == 201, r.text
    playbook = r.json()
    assert playbook["position"] == 3 and playbook["archived_at"] is None
    assert {"created_at", "updated_at", "created_by_id", "updated_by_id"} <= set(playbook)
    assert not {"date_created", "created_by"} & set(playbook)
    listed = (await http.get("/playbook/", params={"position__gt": "1"})).json()
    assert [p["position"] for p in listed["data"]] == [2, 3] and listed["has_more"] is False


async def test_archive_and_unarchive(http):
    active = (await http.get("/playbook/", params={"is_archived": "false"})).json()["data"]
    pid = active[0]["id"]
    archived = (await http.post(f"/playbook/{pid}/archive/")).json()
    assert archived["archived_at"] and archived["archived_by_id"].startswith("user_")
    again = (await http.post(f"/playbook/{pid}/archive/")).json()
    assert again["archived_at"] == archived["archived_at"]  # already archived: unchanged
    ids = {p["id"] for p in (await http.get("/playbook/", params={"is_archived": "true"})).json()["data"]}
    assert pid in ids and len(ids) == 2
    back = (await http.post(f"/playbook/{pid}/unarchive/")).json()
    assert back["archived_at"] is None and back["archived_by_id"] is None


async def test_playbook_errors(http):
    r = await http.post("/playbook/", json={"description": "no name"})
    assert r.status_code == 400 and "name" in r.json()["field-errors"]
    r = await http.post("/playbook/", json={"name": "X", "custom_field_ids": ["cf_nope"]})
    assert r.status_code == 400 and r.json()["field-errors"]["custom_field_ids"] == "Object does not exist."
    missing = await http.post("/playbook/playbook_nope/archive/")
    assert missing.status_code == 404 and "Playbook" in missing.json()["error"]
    pid = (await http.get("/playbook/")).json()["data"][0]["id"]
    gone = await http.delete(f"/playbook/{pid}/")
    assert gone.status_code == 204 and (await http.get(f"/playbook/{pid}/")).status_code == 404
