"""Telephony: phone numbers (an internal number is "rented" by recording it), blocked numbers
and their org-wide setting, dialer sessions read-only (tool manifest ``phone``).

Shapes from the spec's ``PhoneNumber``, ``BlockedPhoneNumber`` and ``BlockedPhoneNumberSettings``
schemas (close-openapi.yml); ``phon_`` from close-api.md §5.1. Guesses, marked where used:
the ``blkphone``/``dialer`` prefixes, which countries rent numbers, the 4xx texts, the dialer's
fields beyond the documented filters.
"""

from __future__ import annotations

import copy
import hashlib
import re
from datetime import timedelta

from starlette.responses import Response

from close_mcp.sandbox.engine import (
    READ,
    UNSET,
    Ctx,
    Field,
    Hooks,
    Resource,
    Route,
    choice,
    json_response,
    one,
    write,
)
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo, SandboxError
from close_mcp.sandbox.validate import FieldErrors

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
DIAL_CODES = {
    "US": "1",
    "CA": "1",
    "GB": "44",
    "AU": "61",
    "DE": "49",
}  # guess: a sample of Close's countries
SMS_COUNTRIES = ["US", "CA", "GB", "AU"]  # guess; DE numbers are voice only
BUNDLE_COUNTRIES = {"DE"}  # guess: regulated countries need a compliance bundle (needs-more-info)


def formatted(number: str | None) -> str | None:
    """``+14155550123`` → ``+1 415-555-0123`` (NANP); other countries keep groups of four."""
    if not number:
        return number
    if number.startswith("+1") and len(number) == 12:
        return f"+1 {number[2:5]}-{number[5:8]}-{number[8:]}"
    return number[:3] + " " + " ".join(number[i : i + 4] for i in range(3, len(number), 4))


def phone_number_view(_store: OrgStore, obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out.update(
        number_formatted=formatted(obj["number"]),
        forward_to_formatted=formatted(obj.get("forward_to")),
        phone_numbers_formatted=[formatted(n) for n in obj.get("phone_numbers") or []],
    )
    return out


def _check_phone_number(ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    forward = body.get("forward_to")
    if forward is not None and not (isinstance(forward, str) and E164.match(forward)):
        errs.add("forward_to", "Invalid phone number.")
    numbers = body.get("phone_numbers")
    if numbers is not None and not all(isinstance(n, str) and E164.match(n) for n in numbers):
        errs.add("phone_numbers", "Invalid phone number.")
    participants = body.get("participants")
    if participants is not None and not all(p in ctx.store.users for p in participants):
        errs.add("participants", "Object does not exist.")
    if participants and existing is not None and not existing.get("is_group_number"):
        errs.add("participants", "Only group numbers have participants.")  # guess


def _rental_error(status: str, message: str) -> SandboxError:
    """Phone rental 4xx: the body names a ``status`` (close-api.md §4, SCRAPE Phone Numbers)."""
    return SandboxError(400, {"status": status, "error": message})


def request_internal(ctx: Ctx) -> Response:
    """``POST /phone_number/request/internal/``: Close rents a number from its carrier; the
    sandbox records a new number instead (no carrier, no bill) and answers 201 with it."""
    body = ctx.body
    errs = FieldErrors()
    for name in ("country", "sharing"):
        if not body.get(name):
            errs.add(name, "This field is required.")
    if body.get("sharing") not in (None, "personal", "group"):
        errs.add("sharing", "Not a valid choice.")
    carrier_type = body.get("carrier_type")
    if carrier_type not in (None, "local", "national", "mobile", "tollfree"):
        errs.add("carrier_type", "Not a valid choice.")
    errs.raise_if_any()
    country = str(body["country"]).upper()
    if country not in DIAL_CODES:
        raise _rental_error("error", f"Phone numbers are not available in {country}.")
    if country in BUNDLE_COUNTRIES and not body.get("bundle_id"):
        raise _rental_error("needs-more-info", "This country requires a regulatory bundle (bundle_id).")
    if body.get("with_mms") and not body.get("with_sms"):
        raise _rental_error("error", "Requesting an MMS number requires with_sms true.")
    sms = country in SMS_COUNTRIES
    if body.get("with_sms") and not sms:
        raise _rental_error(
            "has-voice-only", "Only voice numbers are available here; retry with with_sms false."
        )
    group = body["sharing"] == "group"
    fields: Obj = {"type": "internal", "country": country, "is_group_number": group}
    fields.update(
        user_id=None if group else ctx.info.user_id,
        participants=[ctx.info.user_id] if group else [],
        label=("Group" if group else ctx.user["first_name"]) + f" ({country})",
        sms_enabled=sms and body.get("with_sms") is not False,
        mms_enabled=country in ("US", "CA")
        and body.get("with_mms") is not False
        and body.get("with_sms") is not False,
        carrier_type=carrier_type or "local",
        bundle_id=body.get("bundle_id"),
    )
    obj = write.insert(ctx, PHONE_NUMBER, fields)
    obj["number"] = _new_number(obj["id"], DIAL_CODES[country], str(body.get("prefix") or ""))
    ctx.store.collection("phone_number_rentals")[obj["id"]] = {"request": dict(body), "number": obj["number"]}
    return one(ctx, phone_number_view(ctx.store, obj), 201)


def _new_number(seed: str, code: str, prefix: str) -> str:
    digits = str(int(hashlib.sha256(seed.encode()).hexdigest(), 16))
    national = (re.sub(r"\D", "", prefix) or ("415" if code == "1" else "20")) + digits
    return "+" + code + national[: 10 if code == "1" else 9]


PHONE_NUMBER = Resource(
    "phone_number",
    "PhoneNumber",
    "/phone_number/",
    "phon",
    fields=(
        Field("label", "str", default=""),
        Field("forward_to", "str", default=None),
        Field("forward_to_enabled", "bool", default=False),
        Field("press_1_to_accept", "bool", default=False),
        Field("voicemail_greeting_url", "str", default=None),
        Field("participants", "list", default=[]),
        Field("phone_numbers", "list", default=[]),
        Field("number", "str", writable="never"),
        Field(
            "type", choices=choice("internal", "external", "virtual"), writable="never", default="internal"
        ),
        Field("user_id", writable="never", default=None),
        *Field.many(
            "is_group_number is_premium is_verified was_ported", "bool", writable="never", default=False
        ),
        *Field.many("sms_enabled mms_enabled", "bool", writable="never", default=True),
        *Field.many("country address_id bundle_id next_billing_on", writable="never", default=None),
        Field("carrier", writable="never", default="twilio"),
        Field("carrier_type", writable="never", default="local"),
        Field("last_billed_price", writable="never", default=1.0),  # guess: USD per month
        Field("supports_sms_to_countries", writable="never", default=SMS_COUNTRIES),
        Field("supports_mms_to_countries", writable="never", default=["US", "CA"]),
    ),
    ops=("list", "get", "update", "delete"),
    events=(),  # guess: phone numbers are not among the Event Log's object types
    filters=("number", "user_id", "is_group_number"),
    default_order="date_created",
    hooks=Hooks(view=phone_number_view, validate=_check_phone_number),
    routes=(Route("/phone_number/request/internal/", "POST", request_internal),),
)


# ----- blocked numbers -------------------------------------------------------------------
def _check_blocked(ctx: Ctx, body: Obj, existing: Obj | None, errs: FieldErrors) -> None:
    phone = body.get("phone")
    if existing is None and isinstance(phone, str):
        if not E164.match(phone):
            errs.add("phone", "Invalid phone number (E.164 expected, e.g. +14155550123).")
        elif any(o["phone"] == phone for o in ctx.store.collection("blocked_phone_numbers").values()):
            errs.add("phone", "This phone number is already blocked.")  # guess: one entry per number
    if existing is not None and "reason" not in body:
        errs.add("reason", "This field is required.")  # UpdateBlockedPhoneNumber requires it (spec)


BLOCKED = Resource(
    "blocked_phone_number",
    "BlockedPhoneNumber",
    "/blocked_phone_number/",
    "blkphone",  # guess: no example ID in the docs
    fields=(Field("phone", "str", required=True, writable="create"), Field("reason", "str", required=True)),
    events=(),  # guess
    create_status=201,
    delete_status=204,
    hooks=Hooks(validate=_check_blocked),
)

SETTINGS_KEY = "org"


def _settings(store: OrgStore) -> Obj:
    return store.collection("blocked_phone_number_settings").setdefault(
        SETTINGS_KEY, {"reject_anonymous_inbound_calls": False}
    )


def get_settings(ctx: Ctx) -> Response:
    return json_response(dict(_settings(ctx.store)))


def put_settings(ctx: Ctx) -> Response:
    """Org-wide: admins only (as the organization's other settings, guess)."""
    write.require_admin(ctx)
    value = ctx.body.get("reject_anonymous_inbound_calls")
    errs = FieldErrors()
    if value is None:
        errs.add("reject_anonymous_inbound_calls", "This field is required.")
    elif not isinstance(value, bool):
        errs.add("reject_anonymous_inbound_calls", "Not a valid boolean.")
    errs.raise_if_any()
    settings = _settings(ctx.store)
    settings["reject_anonymous_inbound_calls"] = value
    return json_response(dict(settings))


# Declared before BLOCKED so /blocked_phone_number/settings/ is routed before /{id}/.
BLOCKED_SETTINGS = Resource(
    "blocked_phone_number_settings",
    "BlockedPhoneNumberSettings",
    "/blocked_phone_number/settings/",
    "bpnset",
    collection="blocked_phone_number_settings",  # one entry, "org"
    ops=(),
    events=(),
    routes=(
        Route("/blocked_phone_number/settings/", "GET", get_settings),
        Route("/blocked_phone_number/settings/", "PUT", put_settings),
    ),
)

# ----- dialer sessions (read-only) -------------------------------------------------------
DIALER = Resource(
    "dialer",
    "Dialer",
    "/dialer/",
    "dialer",  # guess
    fields=(
        Field("source_type", choices=choice("saved-search", "shared-entry")),
        *Field.many("source_value status user_id type users", writable="never"),
    ),
    ops=READ,
    events=(),
    filters=("organization_id", "source_type", "source_value", "status", "user_id"),
)
RESOURCES = (PHONE_NUMBER, BLOCKED_SETTINGS, BLOCKED, DIALER)


# ----- seed ----------------------------------------------------------------------------
def seed(sc: SeedCtx) -> None:
    store, users = sc.store, list(sc.store.users)
    boot = RequestInfo(user_id=users[0], request_id="seed", method="SEED", path="/")
    when = sc.org_created + timedelta(days=3)
    numbers = store.collection("phone_numbers")
    for i, uid in enumerate([*users[:3], None]):
        pid = sc.ids.new("phon")
        obj: Obj = {f.name: copy.deepcopy(f.default) for f in PHONE_NUMBER.fields if f.default is not UNSET}
        group = uid is None
        obj.update(id=pid, number=f"+1415555{1000 + i * 37:04d}", country="US", user_id=uid)
        name = "Sales line" if uid is None else store.users[uid]["first_name"]
        obj.update(label=name, is_group_number=group, participants=users[:3] if group else [])
        numbers[pid] = store.stamp_new(obj, boot, when + timedelta(days=i))
    store.collection("blocked_phone_number_settings")[SETTINGS_KEY] = {
        "reject_anonymous_inbound_calls": False
    }
    blocked = store.collection("blocked_phone_numbers")
    for phone, reason in [
        ("+14155550199", "Repeated spam calls"),
        ("+442079460000", "Asked never to be called"),
    ]:
        bid = sc.ids.new("blkphone")
        blocked[bid] = store.stamp_new({"id": bid, "phone": phone, "reason": reason}, boot, when)
    dialers = store.collection("dialers")
    for i, status in enumerate(["active", "paused", "ended"]):  # guess: session states
        did = sc.ids.new("dialer")
        obj = {"id": did, "source_type": "saved-search", "source_value": f"save_demo{i}", "status": status}
        obj.update(user_id=users[i % len(users)], type="power", users=[users[i % len(users)]])
        dialers[did] = store.stamp_new(obj, boot, sc.now - timedelta(days=3 - i))
