"""The generic executor: arguments → request → Close → agent-sized result.

It knows nothing about leads or tasks; everything specific comes from the
:class:`~close_mcp.manifest.ToolSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from close_mcp import compose, cursors, reconcile
from close_mcp.arguments import ArgumentChecker, ToolInputError, check_url_size, prepare
from close_mcp.client import CloseClient
from close_mcp.errors import CloseError
from close_mcp.manifest import ToolSpec
from close_mcp.names import NameCache, NameSource, UnknownName
from close_mcp.org_schema import CUSTOM_FIELD_PATHS, OrgSchema, UnknownCustomField
from close_mcp.plan import RequestPlan
from close_mcp.ratelimit import WaitCallback
from close_mcp.result_forms import TEXT, ResultForm
from close_mcp.search_query import QueryBuilder, SearchInputError, SearchSpec, check_query, shape
from close_mcp.tool_arguments import DEFAULT_LIMIT, STANDARD_ARGUMENTS
from close_mcp.trim import LIST_STRING_MAX, compact, fit_object, minimal, project, render

_ENVELOPE_KEYS = {"data", "has_more", "total_results", "cursor_next", "cursor_previous"}
PREVIEW_COUNT_LIMIT = 100
# Close documents no request-ID response header (close-api.md): if an answer carries this common one,
# the audit records it; otherwise the audit line has no close_request_id at all.
REQUEST_ID_HEADER = "x-request-id"
FIRST_PAGE = 25  # upstream page size while a tool's item size is still unknown
MIN_ROOM_ITEMS = 3  # another upstream page only if at least this many more items are likely to fit
ITEMS_SHARE = 0.92  # of the output budget, for items; the rest is the envelope (count, cursor, notice)


@dataclass
class ToolOutput:
    structured: dict[str, Any]
    text: str
    reconciled: bool = False  # the answer was lost and close-mcp found out the write was made
    request_id: str | None = None  # Close's ID of the request, when its answer names one


@dataclass
class _Fetched:
    item: dict[str, Any]
    position: cursors.Position


@dataclass
class _Page:
    """The items of one list call, shaped, with the position of each and of the first one not kept."""

    next_position: cursors.Position | None
    items: list[dict[str, Any]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # each item rendered, as measured
    positions: list[cursors.Position] = field(default_factory=list)
    first: dict[str, Any] = field(default_factory=dict)  # the first upstream envelope (totals, summaries)
    shortened: set[str] = field(default_factory=set)
    chars: int = 0
    fetched: int = 0
    full: bool = False  # stopped because the next item would not fit


class Executor:
    """Plans and runs tool calls; one per server, shared by every session."""

    def __init__(self, *, output_budget: int, result_form: str = TEXT) -> None:
        self.output_budget = output_budget
        self.form = ResultForm(result_form)
        # what the payload of one result may take on the wire, and how its text is measured there
        self.budget = output_budget - self.form.reserve
        self.measure = self.form.measure
        self._checkers: dict[str, ArgumentChecker] = {}
        self._item_chars: dict[tuple[str, ...], float] = {}  # learned size of a shaped item, per tool+fields
        self.schema = OrgSchema()  # custom field names, per credential
        self.names = NameCache()  # statuses, pipelines, users… by name, per credential
        self.searches = QueryBuilder(self.names, self.schema)

    def plan(self, spec: ToolSpec, args: dict[str, Any]) -> RequestPlan:
        """Validate the arguments and turn them into the exact request (raises :class:`ToolInputError`)."""
        checker = self._checkers.get(spec.name)
        if checker is None:  # compiled on first use: start-up does not grow with the tool count
            checker = self._checkers[spec.name] = ArgumentChecker(spec)
        checker.check(args)
        plan = prepare(spec, args)
        if spec.is_list or spec.access == "read":
            plan.default_view = self._apply_fields(spec, args, plan)
        return plan

    async def resolve(
        self, spec: ToolSpec, plan: RequestPlan, client: CloseClient, args: dict[str, Any] | None = None
    ) -> None:
        """What needs the organization's schema: custom fields given by name become ``cf_…`` IDs, choices
        are checked, names declared in the manifest become IDs, a search's arguments become its query
        tree (raises :class:`ToolInputError` naming the closest valid values)."""
        try:
            if spec.search is not None:
                search = SearchSpec.from_manifest(spec.search, spec.custom_fields)
                plan.body = await self.searches.body(search, args or {}, client)
                plan.params.pop("_fields", None)  # fields go in the search body
            if spec.names:
                await self._resolve_names(spec, args or {}, plan, client)
            for name, declared in spec.query_terms.items():
                if (args or {}).get(name):
                    await check_query(self.searches, declared, name, str((args or {})[name]), client)
        except (SearchInputError, UnknownName) as exc:
            message = str(exc).rstrip(".")
            raise ToolInputError(
                f"Invalid arguments for {spec.name}: {message}. Nothing was sent to Close."
            ) from None
        if spec.custom_fields and plan.body and spec.search is None:
            try:
                await self.schema.resolve_body(client, spec.custom_fields, plan.body)
            except UnknownCustomField as exc:
                raise ToolInputError(
                    f"Invalid arguments for {spec.name}: `custom`: {exc} Nothing was sent to Close."
                ) from None

    async def _resolve_names(
        self, spec: ToolSpec, args: dict[str, Any], plan: RequestPlan, client: CloseClient
    ) -> None:
        """Arguments declared with ``names`` take a name or an ID; the request carries the ID."""
        target: dict[str, Any] | None = None
        problems: list[str] = []
        for name, declared in spec.names.items():
            if args.get(name) is None:
                continue
            source = NameSource.from_manifest(declared)
            if source.prefer_same and target is None and plan.method == "PUT":
                target = (await client.request("GET", plan.path)).data or {}
            binding = spec.bindings[name]
            try:
                ids = await self.names.resolve(
                    client, source, str(args[name]), what=declared.get("what", name), target=target
                )
            except UnknownName as exc:
                problems.append(f"`{name}`: {exc}")
                continue
            if binding.location == "query":
                plan.params[binding.wire] = ids[0]
            elif plan.body is not None:
                plan.body[binding.wire] = ids[0]
        if problems:
            raise UnknownName("; ".join(problems))

    async def call(
        self,
        spec: ToolSpec,
        args: dict[str, Any],
        plan: RequestPlan,
        client: CloseClient,
        on_wait: WaitCallback | None = None,
    ) -> ToolOutput:
        """Run a planned call and shape its result for the agent."""
        if spec.is_list:
            return await self._list(spec, args, plan, client, on_wait)
        before = None
        if spec.report_changes and plan.method == "PUT":  # read first, to say what the write changed
            before = (await client.request("GET", plan.path, on_wait=on_wait)).data
        matched = await self._matches(spec, plan, client, on_wait) if spec.report_matches else None
        notes: list[str] = []
        request_id: str | None = None
        raw: Any
        if spec.compose is not None:
            resolved = {
                **args,
                **{n: plan.params[b.wire] for n, b in spec.bindings.items() if b.wire in plan.params},
            }
            raw = await compose.run(spec.compose, resolved, client, self.names)
        else:
            sent_at = reconcile.now()
            try:
                response = await client.request(
                    plan.method,
                    plan.path,
                    params=plan.params or None,
                    json=plan.body,
                    idempotent=plan.idempotent,
                    on_wait=on_wait,
                )
                raw = response.data
                request_id = response.headers.get(REQUEST_ID_HEADER)
            except CloseError as exc:
                settled = await reconcile.settle(spec, args, plan, client, exc, sent_at, on_wait)
                raw = settled.data
                notes.append(settled.note)
        if plan.method != "GET" and plan.path.startswith(CUSTOM_FIELD_PATHS):
            self.schema.invalidate()  # a definition changed: names are read again when next needed
        if plan.method not in ("GET",) and spec.search is None:
            self.names.wrote(plan.path)  # e.g. a new status: its name resolves on the next call
        data = raw if raw is not None else {}
        if spec.search is not None:
            data = shape(data, args, self.output_budget)
        if isinstance(before, dict) and isinstance(data, dict) and data:
            data = _with_changes(before, data, plan.body or {})
            if "also" in data["changes"]:
                notes.append(f"Also changed, not asked for: {', '.join(data['changes']['also'])}.")
        if spec.custom_fields and isinstance(data, dict):
            named = await self.schema.fields(client, spec.custom_fields)
            data = self.schema.name_keys(named, data)
            if isinstance(data.get("changes"), dict):
                data["changes"] = {k: self.schema.name_keys(named, v) for k, v in data["changes"].items()}
        if spec.method == "DELETE" or data == {}:
            data = {"ok": True, **({"deleted": plan.ids} if spec.method == "DELETE" else {})}
        if matched is not None and isinstance(data, dict):
            ids, more = matched
            data = {**data, "matched": f"{len(ids)}+" if more else len(ids), "ids": ids}
            if more:
                notes.append(f"More than {len(ids)} objects matched; ids lists the first {len(ids)}.")
        keep_full = set(args.get("full_fields") or [])
        result, shortened, text = fit_object(data, self.budget, keep_full, measure=self.measure)
        if not isinstance(result, dict) or shortened or notes:
            result = result if isinstance(result, dict) else {"result": result}
            if shortened:
                notes.append(_shortened_notice(shortened, spec))
            result["notice"] = " ".join(notes)
            text = render(result)
        reconciled = bool(notes) and notes[0].startswith(reconcile.DONE)
        return ToolOutput(result, text, reconciled=reconciled, request_id=request_id)

    async def _matches(
        self, spec: ToolSpec, plan: RequestPlan, client: CloseClient, on_wait: WaitCallback | None
    ) -> tuple[list[str], bool]:
        """The IDs a bulk change's filters match (the first page), read just before it runs."""
        params = {**plan.params, "_limit": str(PREVIEW_COUNT_LIMIT), "_fields": "id"}
        page = (await client.request("GET", plan.path, params=params, on_wait=on_wait)).data or {}
        ids = [str(o["id"]) for o in page.get("data") or [] if isinstance(o, dict) and "id" in o]
        return ids, bool(page.get("has_more"))

    async def preview(self, spec: ToolSpec, plan: RequestPlan, client: CloseClient) -> str:
        """One sentence naming what a destructive call will destroy or change, read from Close as the
        manifest's ``confirm_preview`` declares (may raise a CloseError, e.g. 404)."""
        if spec.preview is None or plan.preview_path is None:
            return f"{spec.title}: {plan.method} {plan.path}."
        if plan.preview_path == spec.path:  # a bulk change: count what the same filters match
            params = {**plan.params, "_limit": str(PREVIEW_COUNT_LIMIT), "_fields": "id"}
            page = (await client.request("GET", plan.preview_path, params=params)).data or {}
            matched = len(page.get("data") or [])
            more = "+" if page.get("has_more") else ""
            return f"{spec.title}: {matched}{more} objects match these filters and will all be changed."
        obj = (await client.request("GET", plan.preview_path)).data or {}
        named = f"{_label(spec.preview.label, obj)} ({obj.get('id', plan.preview_path)})"
        if spec.preview.second is not None and plan.preview_second_path:
            other = (await client.request("GET", plan.preview_second_path)).data or {}
            label, joiner = spec.preview.second[1], spec.preview.second[2]
            named += f" {joiner} {_label(label, other)} ({other.get('id', plan.preview_second_path)})"
        counts = [
            f"{len(obj[k])} {k}" for k in spec.preview.counts if isinstance(obj.get(k), list) and obj[k]
        ]
        tail = (
            f" It also removes: {', '.join(counts)} (and everything else attached)."
            if counts and spec.method == "DELETE"
            else ""
        )
        return f"{spec.title}: {named}.{tail}"

    # ----- lists ------------------------------------------------------------------------
    def _apply_fields(self, spec: ToolSpec, args: dict[str, Any], request: RequestPlan) -> bool:
        """Set ``_fields``; returns True when the manifest's compact default view applies."""
        fields = args.get("fields")
        if fields:
            if "_all" not in fields:
                request.params["_fields"] = ",".join(fields)
                check_url_size(spec.name, "fields", request.params["_fields"])
            return False
        if spec.default_fields:
            request.params["_fields"] = ",".join(spec.default_fields)
            return True
        return False

    async def _list(
        self,
        spec: ToolSpec,
        args: dict[str, Any],
        request: RequestPlan,
        client: CloseClient,
        on_wait: WaitCallback | None,
    ) -> ToolOutput:
        secret = client.credential.fingerprint.encode()
        filters = cursors.filters_hash(args, STANDARD_ARGUMENTS)
        try:
            position = (
                cursors.decode(args["cursor"], spec.name, filters, secret)
                if args.get("cursor")
                else cursors.Position()
            )
        except cursors.CursorError as exc:
            raise ToolInputError(str(exc)) from None
        if spec.pagination == "offset" and position.close_cursor is not None:
            raise ToolInputError("`cursor` does not belong to this tool; start again without a cursor.")
        want = int(args.get("max_items") or args.get("limit") or min(DEFAULT_LIMIT, spec.max_limit))
        page = await self._collect(spec, args, request, client, position, want, on_wait)
        result, text = self._fit(spec, page, secret, filters)
        return ToolOutput(result, text)

    def _page_size(self, key: tuple[str, ...], spec: ToolSpec, missing: int, room: int) -> int:
        """``_limit`` for the next upstream page: what is still wanted, cut to what is likely to fit in
        the room left of the output budget (item size learned per tool and field set), so what is
        fetched is what will be returned."""
        size = min(spec.max_limit, missing)
        estimate = self._item_chars.get(key)
        if estimate is None:
            return min(size, FIRST_PAGE)
        return max(1, min(size, int(room / estimate) + 1))

    async def _collect(
        self,
        spec: ToolSpec,
        args: dict[str, Any],
        request: RequestPlan,
        client: CloseClient,
        position: cursors.Position,
        want: int,
        on_wait: WaitCallback | None,
    ) -> _Page:
        """Fetch pages and shape their items until ``want`` items are kept or the budget is full;
        items are compacted one by one and the work stops with the first item that does not fit."""
        keep_full = set(args.get("full_fields") or [])
        key = (spec.name, *sorted(args.get("fields") or ()))
        named = await self.schema.fields(client, spec.custom_fields) if spec.custom_fields else None
        room = int(self.budget * ITEMS_SHARE)
        page = _Page(next_position=position)
        while page.next_position is not None and len(page.items) < want and not page.full:
            estimate = self._item_chars.get(key)
            if page.items and estimate and room - page.chars < MIN_ROOM_ITEMS * estimate:
                break  # nearly full: one more round trip for an item or two is not worth it
            limit = self._page_size(key, spec, want - len(page.items), room - page.chars)
            fetched, page.next_position, envelope = await self._fetch_page(
                spec, request, client, page.next_position, limit, on_wait
            )
            page.first = page.first or envelope
            page.fetched += len(fetched)
            for one in fetched:
                if len(page.items) >= want:  # enough: the rest is neither shaped nor rendered
                    page.next_position = one.position
                    break
                item = project(one.item, spec.compact) if request.default_view else one.item
                if named is not None:
                    item = self.schema.name_keys(named, item)
                item, shortened = compact(item, LIST_STRING_MAX, keep_full)
                text = render(item)
                chars = self.measure(text) + 1
                if page.items and page.chars + chars > room:
                    page.next_position, page.full = one.position, True
                    break
                page.items.append(item)
                page.texts.append(text)
                page.positions.append(one.position)
                page.shortened |= shortened
                page.chars += chars
            if page.items:  # learned as we go: the next page of this call is sized by it already
                sample = page.chars / len(page.items)
                old = self._item_chars.get(key)
                self._item_chars[key] = sample if old is None else (old + sample) / 2
        return page

    async def _fetch_page(
        self,
        spec: ToolSpec,
        request: RequestPlan,
        client: CloseClient,
        pos: cursors.Position,
        limit: int,
        on_wait: WaitCallback | None,
    ) -> tuple[list[_Fetched], cursors.Position | None, dict[str, Any]]:
        """One upstream page from ``pos``: its items with their positions, and where the next page starts."""
        params = dict(request.params)
        if spec.pagination == "cursor":
            params["_limit"] = str(min(spec.max_limit, pos.index + limit))
            if pos.close_cursor:
                params["_cursor"] = pos.close_cursor
        else:
            params["_limit"] = str(limit)
            params["_skip"] = str(pos.skip)
        envelope = (await client.request("GET", request.path, params=params, on_wait=on_wait)).data or {}
        data = list(envelope.get("data") or [])
        if spec.pagination == "cursor":
            fetched = [
                _Fetched(item, cursors.Position(close_cursor=pos.close_cursor or "", index=pos.index + k))
                for k, item in enumerate(data[pos.index :])
            ]
            nxt = envelope.get("cursor_next")
            return fetched, (cursors.Position(close_cursor=nxt) if nxt and data else None), envelope
        fetched = [_Fetched(item, cursors.Position(skip=pos.skip + k)) for k, item in enumerate(data)]
        more = envelope.get("has_more") and data
        return fetched, (cursors.Position(skip=pos.skip + len(data)) if more else None), envelope

    def _fit(self, spec: ToolSpec, page: _Page, secret: bytes, filters: str) -> tuple[dict[str, Any], str]:
        """Keep whole items within the budget; the cursor points at the first item not returned.
        Returns the result and its text."""
        items, first, shortened = page.items, page.first, page.shortened

        def build(n: int, squeezed: bool = False) -> dict[str, Any]:
            pos = page.positions[n] if n < len(items) else page.next_position
            token = cursors.encode(spec.name, filters, pos, secret) if pos is not None else None
            result: dict[str, Any] = {
                "items": items[:n],
                "count": n,
                "has_more": token is not None,
                "next_cursor": token,
            }
            if isinstance(first.get("total_results"), int):
                result["total_results"] = first["total_results"]
            summary = {k: v for k, v in first.items() if k not in _ENVELOPE_KEYS}
            if summary:
                result["summary"] = summary
            notes = []
            if n < len(items) or page.full:
                notes.append(
                    f"Returned {n} items to stay within the {self.output_budget}-character output budget."
                )
            if token:
                notes.append(
                    f'More results: call {spec.name} again with the same arguments and cursor="{token}".'
                )
            if shortened or squeezed:
                notes.append(_shortened_notice(shortened or {"?"}, spec))
            if notes:
                result["notice"] = " ".join(notes)
            return result

        def rendered(result: dict[str, Any], n: int) -> str:
            """The result's text from the items' texts made while collecting (``items`` is its first
            key): the same as ``render(result)``, without rendering every item again."""
            rest = render({**result, "items": []})
            return '{"items":[' + ",".join(page.texts[:n]) + "]" + rest[len('{"items":[]') :]

        n, size = len(items), self.measure
        result = build(n)
        text = rendered(result, n)
        avg = max(1, page.chars // max(1, n))  # measured item by item while collecting
        while n > 1 and (over := size(text) - self.budget) > 0:
            n = max(1, min(n - 1, n - over // avg))  # drop roughly the overflow at once, then one by one
            result = build(n)
            text = rendered(result, n)
        if n == 1 and size(text) > self.budget:
            squeezed, _, _ = fit_object(items[0], self.budget // 2, set(), max_chars=200, measure=size)
            items[0] = squeezed if isinstance(squeezed, dict) else minimal(items[0])
            result = build(1, squeezed=True)
            text = render(result)
        return result, text


_NOT_A_CHANGE = frozenset({"date_updated", "updated_by", "updated_by_name"})


def _with_changes(before: dict[str, Any], after: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The object after a write, with ``changes``: ``fields`` whose value differs, as [before, after], and
    ``also``: changed fields the request did not ask for and Close did not merely recompute from them
    (e.g. a status of another pipeline moves the opportunity's pipeline too)."""
    changed = {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if key not in _NOT_A_CHANGE and before.get(key) != after.get(key)
    }
    also = [key for key in changed if not _follows_from(key, set(body))]
    return {**after, "changes": {"fields": changed, **({"also": also} if also else {})}}


def _follows_from(key: str, asked: set[str]) -> bool:
    """Whether a changed field is one asked for, or one Close derives from it (``status_id`` →
    ``status_label``/``status_type``; ``value`` → ``value_formatted``, ``expected_value``; ``name`` →
    ``display_name``)."""
    if key in asked:
        return True
    stems = {a.removesuffix("_id") for a in asked}
    if key.startswith(tuple(f"{s}_" for s in stems)) or key.endswith(tuple(f"_{s}" for s in stems)):
        return True
    if key in ("display_name", "contacts_summary") and "name" in asked:
        return True
    return any(key in _RECOMPUTED.get(a, ()) for a in asked)


_RECOMPUTED = {  # fields Close recomputes from another one
    "confidence": ("expected_value", "annualized_expected_value"),
    "value_period": ("annualized_value", "annualized_expected_value", "value_formatted"),
    "is_complete": ("view",),
    "date": ("due_date", "view", "is_dateless"),
}


def _shortened_notice(fields: set[str], spec: ToolSpec) -> str:
    named = sorted(f for f in fields if f != "?")
    hint = (
        f" pass full_fields={named}"
        if named and spec.access == "read"
        else " fetch the object with its get tool"
    )
    return f"Long text was shortened to excerpts; to get it whole,{hint}."


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _label(template: str | None, obj: dict[str, Any]) -> str:
    """The preview's name for an object: the manifest's template filled from its fields."""
    if template:
        text = " ".join(template.format_map(_Blank(obj)).split())
        if text.strip(" ()\"'"):
            return text
    return str(obj.get("display_name") or obj.get("name") or obj.get("id", "?"))
