"""File uploads and AI field enrichment (tool manifest ``files``).

``POST /files/upload/`` answers Close's signed-POST shape (close-api.md §9: ``upload{url,
fields}`` plus ``download.url``; upload within 60 s, the file lives 24 h) with URLs on the
sandbox's own host; nothing is uploaded anywhere, the request is recorded in the store
(``sandbox_uploads``). The form ``fields`` mimic S3's POST policy keys (``key``, ``Content-Type``,
``policy``, ``x-amz-*``: AWS's documented names; the values are sandbox placeholders).

``POST /enrich_field/`` (body from the OpenAPI ``RunFieldEnrichment``: ``organization_id``,
``object_type`` lead|contact, ``object_id``, ``field_id``, ``overwrite_existing_value`` false,
``set_new_value`` true) fills the custom field with a deterministic value derived from the
object and field (no AI), records it in ``sandbox_enrichments`` and answers it with
``"sandbox": true``. The answer's shape is a guess (the spec documents an empty schema): the
field, the value, whether it was written.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from starlette.responses import Response

from close_mcp.sandbox.areas.reports_common import base_url
from close_mcp.sandbox.engine import Ctx, Resource, Route, json_response, write
from close_mcp.sandbox.ids import iso, now_utc
from close_mcp.sandbox.store import Obj, SandboxError, not_found
from close_mcp.sandbox.validate import FieldErrors


def _digest(*parts: str) -> int:
    return int(hashlib.sha256(":".join(parts).encode()).hexdigest()[:12], 16)


def upload(ctx: Ctx) -> Response:
    errs = FieldErrors()
    for name in ("content_type", "filename"):
        if not isinstance(ctx.body.get(name), str) or not ctx.body.get(name):
            errs.add(name, "This field is required.")
    errs.raise_if_any()
    key = f"{ctx.store.org['id']}/{ctx.store.ids.new('file')}/{ctx.body['filename']}"
    expires = now_utc() + timedelta(seconds=60)
    fields = {
        "key": key,
        "Content-Type": ctx.body["content_type"],
        "policy": f"sandbox-policy-{_digest(key):x}",
        "x-amz-algorithm": "AWS4-HMAC-SHA256",
        "x-amz-credential": "SANDBOX/sandbox/s3/aws4_request",
        "x-amz-date": expires.strftime("%Y%m%dT%H%M%SZ"),
        "x-amz-signature": f"{_digest('sig', key):x}",
    }
    root = base_url(ctx)
    answer = {
        "upload": {"url": f"{root}/sandbox_files/upload/", "fields": fields},
        "download": {"url": f"{root}/sandbox_files/{key}"},
    }
    record = {"key": key, "filename": ctx.body["filename"], "content_type": ctx.body["content_type"]}
    record.update(expires=iso(expires), user_id=ctx.info.user_id)
    ctx.store.collection("sandbox_uploads")[key] = record
    return json_response(answer)


def _value(field: Obj, obj: Obj, store_users: list[str]) -> object:
    seed = _digest(field["id"], obj["id"])
    kind = field.get("type")
    if kind == "number":
        return seed % 1000
    if kind == "choices" and field.get("choices"):
        choice = field["choices"][seed % len(field["choices"])]
        return [choice] if field.get("accepts_multiple_values") else choice
    if kind in ("date", "datetime"):
        day = (now_utc() - timedelta(days=seed % 365)).date().isoformat()
        return day if kind == "date" else day + "T00:00:00+00:00"
    if kind == "user" and store_users:
        return store_users[seed % len(store_users)]
    return f"Sandbox enrichment of {field['name']} for {obj.get('name') or obj['id']}"


def enrich(ctx: Ctx) -> Response:
    body, errs = ctx.body, FieldErrors()
    for name in ("organization_id", "object_type", "object_id", "field_id"):
        if body.get(name) is None:
            errs.add(name, "This field is required.")
    if body.get("object_type") not in (None, "lead", "contact"):
        errs.add("object_type", "Not a valid choice.")
    errs.raise_if_any()
    if body["organization_id"] != ctx.store.org["id"]:
        raise not_found("Organization")
    kind = body["object_type"]
    obj = ctx.registry.lookup(ctx.store, kind, str(body["object_id"]))
    field = ctx.store.custom_fields[kind].get(str(body["field_id"]))
    if field is None:
        raise SandboxError(400, {"errors": [], "field-errors": {"field_id": "Object does not exist."}})
    key = f"custom.{field['id']}"
    value = _value(field, obj, list(ctx.store.users))
    has_value = obj.get(key) not in (None, "", [])
    written = bool(body.get("set_new_value", True)) and (
        not has_value or bool(body.get("overwrite_existing_value"))
    )
    if written:
        write.update(ctx, ctx.registry[kind], obj, {key: value})
    answer = {"object_type": kind, "object_id": obj["id"], "field_id": field["id"], "value": value}
    answer.update(value_set=written, previous_value_kept=has_value and not written, sandbox=True)
    ctx.store.collection("sandbox_enrichments")[f"{obj['id']}:{field['id']}"] = dict(answer)
    return json_response(answer)


# Route-only: nothing is listed or fetched, so the resource declares no generic operations.
FILES = Resource(
    "file_upload",
    "File",
    "/files/",
    "file",
    ops=(),
    events=(),
    routes=(Route("/files/upload/", "POST", upload), Route("/enrich_field/", "POST", enrich)),
)
RESOURCES = (FILES,)
