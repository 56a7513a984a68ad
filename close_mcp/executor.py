"""The generic executor: arguments → request → Close → agent-sized result.

It knows nothing about leads or tasks; everything specific comes from the
:class:`~close_mcp.manifest.ToolSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from close_mcp import cursors
from close_mcp.arguments import ArgumentChecker, ToolInputError, check_url_size, prepare
from close_mcp.client import CloseClient
from close_mcp.manifest import ToolSpec
from close_mcp.plan import RequestPlan
from close_mcp.ratelimit import WaitCallback
from close_mcp.tool_arguments import DEFAULT_LIMIT, STANDARD_ARGUMENTS
from close_mcp.trim import LIST_STRING_MAX, compact, fit_object, minimal, project, render

_ENVELOPE_KEYS = {"data", "has_more", "total_results", "cursor_next", "cursor_previous"}
PREVIEW_COUNT_LIMIT = 100


@dataclass
class ToolOutput:
    structured: dict[str, Any]
    text: str


@dataclass
class _Fetched:
    item: dict[str, Any]
    position: cursors.Position


class Executor:
    """Plans and runs tool calls; one per server, shared by every session."""

    def __init__(self, *, output_budget: int) -> None:
        self.output_budget = output_budget
        self._checkers: dict[str, ArgumentChecker] = {}

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
        response = await client.request(
            plan.method,
            plan.path,
            params=plan.params or None,
            json=plan.body,
            idempotent=plan.idempotent,
            on_wait=on_wait,
        )
        data = response.data if response.data is not None else {}
        if spec.method == "DELETE" or data == {}:
            data = {"ok": True, **({"deleted": plan.ids} if spec.method == "DELETE" else {})}
        keep_full = set(args.get("full_fields") or [])
        result, shortened, text = fit_object(data, self.output_budget, keep_full)
        if not isinstance(result, dict) or shortened:
            result = result if isinstance(result, dict) else {"result": result}
            if shortened:
                result["notice"] = _shortened_notice(shortened, spec)
            text = render(result)
        return ToolOutput(result, text)

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
        label = _label(spec.preview.label, obj)
        counts = [
            f"{len(obj[k])} {k}" for k in spec.preview.counts if isinstance(obj.get(k), list) and obj[k]
        ]
        tail = (
            f" It also removes: {', '.join(counts)} (and everything else attached)."
            if counts and spec.method == "DELETE"
            else ""
        )
        return f"{spec.title}: {label} ({obj.get('id', plan.preview_path)}).{tail}"

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
        default_view = request.default_view
        want = args.get("max_items") or args.get("limit") or min(DEFAULT_LIMIT, spec.max_limit)
        fetched, next_position, first = await self._fetch(
            spec, request, client, position, want, walk=bool(args.get("max_items")), on_wait=on_wait
        )
        keep_full = set(args.get("full_fields") or [])
        prepared: list[dict[str, Any]] = []
        shortened: set[str] = set()
        for f in fetched:
            item = project(f.item, spec.compact) if default_view else f.item
            item, s = compact(item, LIST_STRING_MAX, keep_full)
            shortened |= s
            prepared.append(item)
        result = self._fit(spec, prepared, fetched, next_position, first, shortened, secret, filters)
        return ToolOutput(result, render(result))

    async def _fetch(
        self,
        spec: ToolSpec,
        request: RequestPlan,
        client: CloseClient,
        position: cursors.Position,
        want: int,
        *,
        walk: bool,
        on_wait: WaitCallback | None,
    ) -> tuple[list[_Fetched], cursors.Position | None, dict[str, Any]]:
        """Fetch one page (or walk pages up to ``want`` items); record each item's position."""
        fetched: list[_Fetched] = []
        first: dict[str, Any] = {}
        next_position: cursors.Position | None = position
        approx_size = 0
        while next_position is not None and len(fetched) < want:
            pos = next_position
            params = dict(request.params)
            if spec.pagination == "cursor":
                params["_limit"] = str(min(spec.max_limit, pos.index + want - len(fetched)))
                if pos.close_cursor:
                    params["_cursor"] = pos.close_cursor
            else:
                params["_limit"] = str(min(spec.max_limit, want - len(fetched)))
                params["_skip"] = str(pos.skip)
            page = (await client.request("GET", request.path, params=params, on_wait=on_wait)).data or {}
            first = first or page
            data = list(page.get("data") or [])
            if spec.pagination == "cursor":
                fetched += [
                    _Fetched(item, cursors.Position(close_cursor=pos.close_cursor or "", index=pos.index + k))
                    for k, item in enumerate(data[pos.index :])
                ]
                nxt = page.get("cursor_next")
                next_position = cursors.Position(close_cursor=nxt) if nxt and data else None
            else:
                fetched += [
                    _Fetched(item, cursors.Position(skip=pos.skip + k)) for k, item in enumerate(data)
                ]
                next_position = (
                    cursors.Position(skip=pos.skip + len(data)) if page.get("has_more") and data else None
                )
            approx_size += sum(len(render(i)) for i in data)
            if not walk or approx_size > 4 * self.output_budget:
                break
        return fetched, next_position, first

    def _fit(
        self,
        spec: ToolSpec,
        items: list[dict[str, Any]],
        fetched: list[_Fetched],
        next_position: cursors.Position | None,
        first: dict[str, Any],
        shortened: set[str],
        secret: bytes,
        filters: str,
    ) -> dict[str, Any]:
        """Keep whole items within the budget; the cursor points at the first item not returned."""

        def build(n: int, squeezed: bool = False) -> dict[str, Any]:
            pos = fetched[n].position if n < len(fetched) else next_position
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
            if n < len(fetched):
                notes.append(
                    f"Returned {n} of {len(fetched)} fetched items to stay within the "
                    f"{self.output_budget}-character output budget."
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

        n = len(items)
        while n > 1 and len(render(build(n))) > self.output_budget:
            # drop roughly the overflow at once, then one by one
            over = len(render(build(n))) - self.output_budget
            avg = max(1, len(render(items[:n])) // n)
            n = max(1, min(n - 1, n - over // avg))
        result = build(n)
        if n == 1 and len(render(result)) > self.output_budget:
            squeezed, _, _ = fit_object(items[0], self.output_budget // 2, set(), max_chars=200)
            items[0] = squeezed if isinstance(squeezed, dict) else minimal(items[0])
            result = build(1, squeezed=True)
        return result


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
