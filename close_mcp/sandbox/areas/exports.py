"""Lead and opportunity exports as jobs (tool manifest ``exports``).

``POST /export/lead/`` (an ``s_query`` selects the leads, as bulk actions do) and ``POST
/export/opportunity/`` (``params``: the ``GET /opportunity/`` filters) answer a job with
``status: created``. The job advances **one step per GET of the job** (``GET /export/{id}/``):
created → started → in_progress → done. On the step into ``done`` the file is built from the
data at that moment and ``download_url`` is set to a sandbox route under its own host and API
prefix (``GET /export/{id}/download/``, gzip, JSON or CSV). Close's real link is a signed S3
URL valid for a limited time (close-api.md §9); the sandbox's needs the API key like any call.

Guesses, with sources: body keys ``format`` (``json``/``csv``), ``type`` (``leads``,
``contacts``, ``lead_opps``), ``fields``, ``date_format``, ``send_done_email`` and the job's
``download_url``/``status`` values from developer.close.com's Exports page as summarised in
close-api.md §9; the ``expo_`` id prefix is unpublished (close-api.md §10 item 12); POST answers
200 (close-api.md §4); CSV columns are the JSON keys of the first object, nested values as JSON.
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
from datetime import timedelta

from starlette.responses import Response

from close_mcp.sandbox.areas.bulk_select import select_leads
from close_mcp.sandbox.areas.reports_common import base_url, seed_stamp
from close_mcp.sandbox.engine import Ctx, Field, Hooks, Resource, Route, choice, one, write
from close_mcp.sandbox.engine.query import filter_items
from close_mcp.sandbox.seeding import SeedCtx
from close_mcp.sandbox.store import Obj, OrgStore
from close_mcp.sandbox.validate import FieldErrors

STEPS = ("created", "started", "in_progress", "done")
FORMATS = choice("json", "csv")
LEAD_TYPES = choice("leads", "contacts", "lead_opps")
FILES = "sandbox_export_files"  # export id -> gzip bytes


def _hide(_store: OrgStore, export: Obj) -> Obj:
    return {k: copy.deepcopy(v) for k, v in export.items() if not k.startswith("_")}


def _advance(ctx: Ctx) -> Response:
    export = ctx.registry.lookup(ctx.store, "export", ctx.path_id)
    step = STEPS.index(export["status"]) if export["status"] in STEPS else len(STEPS) - 1
    if step < len(STEPS) - 1:
        export["status"] = STEPS[step + 1]
        if export["status"] == "done":
            _build(ctx, export)
        ctx.store.stamp_update(export, ctx.info)
    elif export["status"] == "done" and not export.get("download_url"):
        _build(ctx, export)  # a seeded finished export gets its file (from today's data) when read
    return one(ctx, ctx.registry.view(ctx.store, "export", export))


def _rows(ctx: Ctx, export: Obj) -> list[Obj]:
    reg, store = ctx.registry, ctx.store
    if export["object_type"] == "opportunity":
        opps = [reg.view(store, "opportunity", o) for o in reg.objects(store, "opportunity")]
        return filter_items(opps, export.get("_params") or {}, reg["opportunity"])
    leads = [store.leads[i] for i in export.get("_lead_ids", []) if i in store.leads]
    if export["type"] == "contacts":
        return [
            reg.view(store, "contact", c) for lead in leads for c in store.children_of(lead["id"])["contacts"]
        ]
    rows = []
    for lead in leads:
        row = reg.view(store, "lead", lead)
        children = store.children_of(lead["id"])
        row["contacts"] = [reg.view(store, "contact", c) for c in children["contacts"]]
        if export["type"] == "lead_opps":
            row["opportunities"] = [reg.view(store, "opportunity", o) for o in children["opportunities"]]
        rows.append(row)
    return rows


def _build(ctx: Ctx, export: Obj) -> None:
    rows = _rows(ctx, export)
    if export.get("fields"):
        rows = [{k: r.get(k) for k in export["fields"]} for r in rows]
    if export["format"] == "csv":
        out = io.StringIO()
        columns = list(rows[0]) if rows else ["id"]
        writer = csv.writer(out)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([json.dumps(v) if isinstance(v, list | dict) else v for v in map(r.get, columns)])
        text = out.getvalue()
    else:
        text = json.dumps(rows)
    ctx.store.collection(FILES)[export["id"]] = {"data": gzip.compress(text.encode())}
    export.update(n_docs=len(rows), download_url=f"{base_url(ctx)}/export/{export['id']}/download/")


def _download(ctx: Ctx) -> Response:
    export = ctx.registry.lookup(ctx.store, "export", ctx.path_id)
    stored = ctx.store.collection(FILES).get(export["id"])
    if stored is None:
        if export["status"] != "done":
            return one(ctx, {"error": "The export is not done yet."}, 404)
        _build(ctx, export)  # a seeded finished export: its file is made from today's data
        stored = ctx.store.collection(FILES)[export["id"]]
    kind = "text/csv" if export["format"] == "csv" else "application/json"
    name = f"{export['id']}.{export['format']}.gz"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(stored["data"], media_type=f"{kind}; gzip", headers=headers)


def _flags(body: Obj, errs: FieldErrors) -> Obj:
    out: Obj = {}
    if body.get("format", "json") not in FORMATS:
        errs.add("format", "Not a valid choice.")
    out["format"] = body.get("format", "json")
    for flag in ("send_done_email", "include_activities", "include_smart_fields"):
        if not isinstance(body.get(flag, False), bool):
            errs.add(flag, "Not a valid boolean.")
        out[flag] = body.get(flag, flag == "send_done_email")
    fields = body.get("fields")
    if fields is not None and not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
        errs.add("fields", "Not a valid list.")
    out.update(fields=fields, date_format=body.get("date_format", "original"))
    return out


def _create_lead_export(ctx: Ctx) -> Response:
    errs = FieldErrors()
    fields = _flags(ctx.body, errs)
    kind = ctx.body.get("type", "leads")
    if kind not in LEAD_TYPES:
        errs.add("type", "Not a valid choice.")
    if kind == "lead_opps" and fields["format"] != "csv":
        errs.add("format", "lead_opps exports are CSV only.")  # Close's docs: lead_opps is CSV (guess)
    errs.raise_if_any()
    s_query = ctx.body.get("s_query") or {"type": "object_type", "object_type": "lead"}
    leads = select_leads(ctx, s_query, ctx.body.get("sort"), ctx.body.get("results_limit"))
    fields.update(object_type="lead", type=kind, s_query=s_query, _lead_ids=[lead["id"] for lead in leads])
    return _respond(ctx, write.insert(ctx, EXPORT, fields, emit_event=False))


def _create_opportunity_export(ctx: Ctx) -> Response:
    errs = FieldErrors()
    fields = _flags(ctx.body, errs)
    params = ctx.body.get("params") or {}
    if not isinstance(params, dict):
        errs.add("params", "Not a valid mapping.")
    errs.raise_if_any()
    wire = {k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in params.items()}
    fields.update(object_type="opportunity", type="opportunities", params=params, _params=wire)
    return _respond(ctx, write.insert(ctx, EXPORT, fields, emit_event=False))


def _respond(ctx: Ctx, export: Obj) -> Response:
    return one(ctx, ctx.registry.view(ctx.store, "export", export))


EXPORT = Resource(
    "export",
    "Export",
    "/export/",
    "expo",
    fields=(
        Field("object_type", choices=choice("lead", "opportunity"), writable="never"),
        Field("type", writable="never"),
        Field("format", choices=FORMATS, writable="never", default="json"),
        Field("status", choices=choice(*STEPS, "error"), writable="never", default="created"),
        *Field.many("s_query params fields date_format download_url n_docs", writable="never", default=None),
        *Field.many("send_done_email include_activities include_smart_fields", "bool", writable="never"),
    ),
    ops=("list",),
    events=(),
    filters=("status", "object_type"),
    hooks=Hooks(view=_hide),
    routes=(
        Route("/export/{id}/", "GET", _advance),
        Route("/export/{id}/download/", "GET", _download),
        Route("/export/lead/", "POST", _create_lead_export),
        Route("/export/opportunity/", "POST", _create_opportunity_export),
    ),
)
RESOURCES = (EXPORT,)


def seed(sc: SeedCtx) -> None:
    """Two finished exports (one lead JSON, one opportunity CSV) from earlier weeks."""
    for object_type, fmt in (("lead", "json"), ("opportunity", "csv")):
        export: Obj = {"id": sc.ids.new("expo"), "object_type": object_type, "format": fmt, "status": "done"}
        export["type"] = "leads" if object_type == "lead" else "opportunities"
        export.update(s_query=None, params=None, fields=None, date_format="original", download_url=None)
        export.update(n_docs=None, send_done_email=True, include_activities=False, include_smart_fields=False)
        export["_lead_ids"] = list(sc.store.leads) if object_type == "lead" else []
        seed_stamp(sc, export, sc.now - timedelta(days=sc.rng.randint(7, 30)))
        sc.store.collection(EXPORT.store_name)[export["id"]] = export
