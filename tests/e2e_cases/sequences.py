"""End-to-end cases for the sequences tools (sequences and enrolments)."""

from __future__ import annotations

from e2e_cases.registry import BAD_REQUEST, NOT_FOUND, Call, case, close_error, gone, revoked_key


def _sequences(call: Call) -> dict:
    return call.store.collection("sequences")


def _subscriptions(call: Call) -> dict:
    return call.store.collection("sequence_subscriptions")


def _template_id(call: Call) -> str:
    return next(iter(call.store.collection("email_templates")))


# ----- sequences ------------------------------------------------------------------------------
@case("list_sequences", writes=False)
async def _(call: Call) -> None:
    page = await call("list_sequences", {})
    assert sorted(s["id"] for s in page["items"]) == sorted(_sequences(call)) and len(page["items"]) == 2
    assert page["items"][0]["steps"][0]["step_type"] == "email"


@case("get_sequence", writes=False)
async def _(call: Call) -> None:
    sid, stored = next(iter(_sequences(call).items()))
    got = await call("get_sequence", {"sequence_id": sid})
    assert got["name"] == stored["name"] and [s["id"] for s in got["steps"]] == [
        s["id"] for s in stored["steps"]
    ]


@case("create_sequence")
async def _(call: Call) -> None:
    steps = [{"step_type": "email", "delay": 0, "email_template_id": _template_id(call)}]
    steps.append({"step_type": "call", "delay": 86400})
    created = await call("create_sequence", {"name": "Trial nurture", "steps": steps})
    stored = _sequences(call)[created["id"]]
    assert stored["name"] == "Trial nurture" and [s["step_type"] for s in stored["steps"]] == [
        "email",
        "call",
    ]
    assert all(s["id"].startswith("step_") for s in stored["steps"])


@case("update_sequence")
async def _(call: Call) -> None:
    sid, stored = next(iter(_sequences(call).items()))
    kept = stored["steps"][0]
    await call("update_sequence", {"sequence_id": sid, "name": "Renamed", "steps": [kept]})
    assert _sequences(call)[sid]["name"] == "Renamed"
    assert [s["id"] for s in _sequences(call)[sid]["steps"]] == [kept["id"]]


@case("delete_sequence")
async def _(call: Call) -> None:
    sid = next(iter(_sequences(call)))
    enrolled = [s for s, sub in _subscriptions(call).items() if sub["sequence_id"] == sid]
    await call("delete_sequence", {"sequence_id": sid})
    assert sid not in _sequences(call) and enrolled and not set(enrolled) & set(_subscriptions(call))


# ----- subscriptions --------------------------------------------------------------------------
@case("list_sequence_subscriptions", writes=False)
async def _(call: Call) -> None:
    sid = next(iter(_sequences(call)))
    page = await call("list_sequence_subscriptions", {"sequence_id": sid})
    expected = sorted(s for s, sub in _subscriptions(call).items() if sub["sequence_id"] == sid)
    assert sorted(s["id"] for s in page["items"]) == expected and expected


@case("get_sequence_subscription", writes=False)
async def _(call: Call) -> None:
    sub_id, stored = next(iter(_subscriptions(call).items()))
    got = await call("get_sequence_subscription", {"subscription_id": sub_id})
    assert got["contact_email"] == stored["contact_email"] and got["sequence_name"]


@case("enroll_contact_in_sequence")
async def _(call: Call) -> None:
    sid, sequence = next(iter(_sequences(call).items()))
    lead_id = call.lead_with_contacts()
    contact = call.store.children_of(lead_id)["contacts"][0]
    account = next(iter(call.store.collection("connected_accounts").values()))
    email = contact["emails"][0]["email"]
    args = {"sequence_id": sid, "contact_id": contact["id"], "contact_email": email}
    args.update(sender_account_id=account["id"], sender_name="Dana Whitfield", sender_email=account["email"])
    sub = await call("enroll_contact_in_sequence", args)
    assert _subscriptions(call)[sub["id"]]["status"] == "active"
    sent = [a for a in call.store.activities.values() if a.get("sequence_subscription_id") == sub["id"]]
    # the first step (delay 0) went out at once, recorded as a sent email; the later one waits
    assert [(a["_type"], a["status"], a["to"]) for a in sent] == [("Email", "sent", [email])]
    assert sent[0]["template_id"] == sequence["steps"][0]["email_template_id"]


@case("update_sequence_subscription")
async def _(call: Call) -> None:
    sub_id = next(s for s, sub in _subscriptions(call).items() if sub["status"] == "active")
    await call("update_sequence_subscription", {"subscription_id": sub_id, "status": "paused"})
    assert _subscriptions(call)[sub_id]["status"] == "paused"


# ----- one Close error per tool without a path ID (the others meet the automatic 404) ----------
close_error(
    "create_sequence",
    {"name": "Nurture", "steps": [{"step_type": "email", "delay": 0, "email_template_id": gone("tmpl")}]},
    BAD_REQUEST,
    "email_template_id: Object does not exist",
)
close_error(
    "enroll_contact_in_sequence",
    lambda store: {
        "sequence_id": gone("seq"),
        "contact_id": next(iter(store.contacts)),
        "contact_email": "pat@example.com",
        "sender_account_id": gone("emailacct"),
        "sender_name": "Dana",
        "sender_email": "dana@acme-demo.example",
    },
    NOT_FOUND,
    "Sequence matching query does not exist",
)
revoked_key("list_sequences")
revoked_key("list_sequence_subscriptions", args=lambda store: {"lead_id": next(iter(store.leads))})
