"""After an ambiguous write, find out whether it happened, instead of leaving a "maybe" to the agent.

A write is ambiguous when Close may have applied it but its answer never arrived: a 5xx on a write,
a timeout or a dropped connection after the request was sent. What to look at is declared per tool in
the manifest's ``reconcile`` key (schema ``tool_manifests/manifest.schema.json``), so this module knows
no Close resource:

* ``find`` (creates): list ``find`` with ``params`` and look for an object whose fields equal what the
  call sent for the ``match`` arguments, dated no earlier than the send time minus ``window_seconds``;
* ``read`` (updates): re-read the object and compare the fields sent (``compare``, default all that the
  object has);
* ``read`` + ``gone`` (deletes, merges): a 404 at ``read`` means done.

The answer is :class:`Done` (the object, returned as a normal result with a note), or one of the
errors :class:`WriteNotDone` ("nothing changed, safe to retry") and :class:`WriteUndecided` (what
exactly to check), which :func:`close_mcp.errors.agent_message` words for the agent.

Guesses about Close, written down (close-api.md has no observation of these):

* an *answered* 5xx (500/502/503) and a dropped connection mean Close is done with the request: if the
  object is not there when we look, it was not written. A 504 and our own timeout mean a gateway or we
  gave up while Close may still be working, so a miss is looked at again a few times (``SETTLE_LOOKS``,
  ~3 s). Still missing after a 504: not written (Close's gateway gave up; its backend is taken to be
  done by then, a guess). Still missing after our own timeout: undecided, with the check to make, as
  a stall can outlast any wait;
* an identical object dated within the window is taken as this write's: if it was an earlier identical
  call's, the state the agent asked for exists either way, and repeating would make a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio

from close_mcp.errors import (
    CloseError,
    NotFound,
    ResponseLost,
    ServerError,
    WriteNotDone,
    WriteUndecided,
    lost_answer,
)
from close_mcp.plan import fill_path

if TYPE_CHECKING:
    from close_mcp.client import CloseClient
    from close_mcp.manifest import ToolSpec
    from close_mcp.plan import RequestPlan
    from close_mcp.ratelimit import WaitCallback

DEFAULT_WINDOW = 60.0  # seconds before the send an object may be dated and still be this write's
PAGE = 100  # objects per list page read while looking
MAX_PAGES = 5  # pages read at most; more candidates than that cannot be scanned
SETTLE_LOOKS = (0.0, 1.0, 2.0)  # pauses before each look when Close may still be applying the write
LOOK_BUDGET = 5.0  # wait budget of each reconciliation request (its own, short)


@dataclass(frozen=True)
class ReconcileSpec:
    """A tool's ``reconcile`` declaration, compiled."""

    find: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    match: tuple[str, ...] = ()
    window: float = DEFAULT_WINDOW
    read: str | None = None
    gone: bool = False
    compare: tuple[str, ...] = ()

    @classmethod
    def from_manifest(cls, declared: dict[str, Any] | None, method: str) -> ReconcileSpec | None:
        if declared is None:
            return None
        return cls(
            find=declared.get("find"),
            params=dict(declared.get("params", {})),
            match=tuple(declared.get("match", ())),
            window=float(declared.get("window_seconds", DEFAULT_WINDOW)),
            read=declared.get("read"),
            gone=bool(declared.get("gone", method == "DELETE")),
            compare=tuple(declared.get("compare", ())),
        )

    def arguments(self) -> set[str]:
        """Every argument the declaration names (checked against the tool's by the manifest loader)."""
        named = set(self.match) | set(self.compare)
        for template in (*self.params.values(), self.read or ""):
            named |= {part.split("}")[0] for part in template.split("{")[1:]}
        return named - {"since"}


DONE = "Done:"  # how the note of a reconciled write starts


@dataclass
class Done:
    """The write was made: ``data`` is the object (or ``{}`` for a delete); ``how`` says how we know."""

    data: Any
    how: str
    note: str = ""


def is_ambiguous(exc: CloseError) -> bool:
    """Whether Close may have applied a write although its answer did not say so."""
    return exc.is_write and isinstance(exc, ResponseLost | ServerError)


def _look_again(exc: CloseError) -> bool:
    """Whether Close may still be applying the write when we first look: after our timeout, or a
    gateway's (504)."""
    return (isinstance(exc, ResponseLost) and exc.timed_out) or (
        isinstance(exc, ServerError) and exc.status == 504
    )


def _may_still_land(exc: CloseError) -> bool:
    """Whether a write still missing after every look may land later: only after our own timeout (a
    504's backend is taken to be done by the last look, a guess)."""
    return isinstance(exc, ResponseLost) and exc.timed_out


def _values(template: dict[str, str], args: dict[str, Any], since: datetime) -> dict[str, str]:
    out: dict[str, str] = {}
    stamp = since.isoformat(timespec="seconds")
    for key, value in template.items():
        names = [part.split("}")[0] for part in value.split("{")[1:]]
        if any(n != "since" and args.get(n) in (None, "") for n in names):
            continue  # an optional argument this call did not give
        filled = fill_path(value, {n: args[n] for n in names if n != "since"}) if names else value
        out[key] = filled.replace("{since}", stamp)
    return out


def contains(sent: Any, stored: Any) -> bool:
    """Whether what was sent is what Close keeps: equal, a dict's keys contained, a list's items each
    contained in one of the stored items (Close adds fields such as ``type`` or ``id``)."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(
            k in stored and contains(v, stored[k]) for k, v in sent.items()
        )
    if isinstance(sent, list):
        return isinstance(stored, list) and all(any(contains(s, t) for t in stored) for s in sent)
    if isinstance(sent, str) and isinstance(stored, str):  # Close lowercases emails, trims names
        return sent.strip().casefold() == stored.strip().casefold()
    if isinstance(sent, bool) or isinstance(stored, bool):
        return sent is stored
    if isinstance(sent, int | float) and isinstance(stored, int | float):
        return float(sent) == float(stored)
    return bool(sent == stored)


def _dated_after(obj: dict[str, Any], since: datetime) -> bool:
    raw = obj.get("date_created")
    if not isinstance(raw, str):
        return True  # undated objects: matched by their fields alone
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return True
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # Close's naive datetimes are UTC (close-api.md §3.3)
    return when >= since


class Reconciler:
    """Settles one ambiguous write of one tool, from its manifest declaration."""

    def __init__(
        self,
        spec: ToolSpec,
        args: dict[str, Any],
        plan: RequestPlan,
        client: CloseClient,
        on_wait: WaitCallback | None = None,
    ) -> None:
        self.spec, self.args, self.plan, self.client, self.on_wait = spec, args, plan, client, on_wait

    @property
    def declared(self) -> ReconcileSpec | None:
        return self.spec.reconcile

    def check_hint(self) -> str:
        """What the agent should check itself when close-mcp cannot tell."""
        if self.spec.lookup_hint:
            return f"{self.spec.lookup_hint}"
        if self.spec.method in ("PUT", "DELETE") and self.plan.ids:
            named = ", ".join(f"{k}={v}" for k, v in self.plan.ids.items())
            return f"reading the object ({named}) with its get tool"
        return "reading the objects this call changes"

    async def settle(self, exc: CloseError, sent_at: datetime) -> Done:
        """Done (the object), or raise :class:`WriteNotDone` / :class:`WriteUndecided`."""
        declared = self.declared
        if declared is None:
            raise WriteUndecided(
                exc, "close-mcp has no way to look this write up", f"Check by {self.check_hint()}"
            )
        looks = SETTLE_LOOKS if _look_again(exc) else SETTLE_LOOKS[:1]
        for pause in looks:
            if pause:
                await anyio.sleep(pause)
            try:
                found = await self._look(declared, exc, sent_at)
            except WriteUndecided:
                raise
            except CloseError as failed:  # Close is still failing: it cannot be read now
                raise WriteUndecided(
                    exc,
                    f"checking failed too ({lost_answer(failed)})",
                    f"In a minute, check by {self.check_hint()} before calling {self.spec.name} again",
                ) from None
            if found is not None:
                return found
        how = self._how(declared)
        if _may_still_land(exc):
            raise WriteUndecided(
                exc,
                f"{how} found nothing yet, but Close may still be applying it",
                f"In a minute, check by {self.check_hint()}; call {self.spec.name} again only if it is "
                "not there",
            )
        raise WriteNotDone(exc, how)

    def _how(self, declared: ReconcileSpec) -> str:
        if declared.find:
            return f"listing {declared.find}"
        return f"reading {fill_path(declared.read or '', self.args)}"

    async def _look(self, declared: ReconcileSpec, exc: CloseError, sent_at: datetime) -> Done | None:
        if declared.find:
            return await self._find(declared, exc, sent_at)
        path = fill_path(declared.read or "", self.args)
        params = _values(declared.params, self.args, sent_at) or None
        try:
            response = await self.client.request(
                "GET", path, params=params, wait_budget=LOOK_BUDGET, on_wait=self.on_wait
            )
        except NotFound:
            if declared.gone:
                return Done({}, f"reading {path}: gone, 404")
            raise
        if declared.gone:
            return None
        obj = response.data if isinstance(response.data, dict) else {}
        sent = self._compared(declared, obj)
        if not sent:
            raise WriteUndecided(
                exc,
                f"none of the fields sent can be compared with {path}",
                f"Check by {self.check_hint()}",
            )
        if all(contains(value, obj[key]) for key, value in sent.items()):
            return Done(obj, f"reading {path}: it has every field this call set")
        return None

    def _compared(self, declared: ReconcileSpec, obj: dict[str, Any]) -> dict[str, Any]:
        body = self.plan.body or {}
        if declared.compare:
            wires = {self.spec.bindings[a].wire for a in declared.compare if a in self.spec.bindings}
            return {k: v for k, v in body.items() if k in wires and k in obj}
        return {k: v for k, v in body.items() if k in obj}

    async def _find(self, declared: ReconcileSpec, exc: CloseError, sent_at: datetime) -> Done | None:
        assert declared.find is not None
        since = sent_at - timedelta(seconds=declared.window)
        body = self.plan.body or {}
        wanted = {
            self.spec.bindings[a].wire: body[self.spec.bindings[a].wire]
            for a in declared.match
            if a in self.spec.bindings and self.spec.bindings[a].wire in body
        }
        if not wanted:
            raise WriteUndecided(
                exc,
                "this call gave none of the fields that identify its object",
                f"Check by {self.check_hint()}",
            )
        params = _values(declared.params, self.args, since)
        matches: list[dict[str, Any]] = []
        for page in range(MAX_PAGES):
            query = {**params, "_limit": str(PAGE), "_skip": str(page * PAGE)}
            response = await self.client.request(
                "GET", declared.find, params=query, wait_budget=LOOK_BUDGET, on_wait=self.on_wait
            )
            envelope = response.data if isinstance(response.data, dict) else {}
            items = [o for o in envelope.get("data") or [] if isinstance(o, dict)]
            matches += [
                o
                for o in items
                if _dated_after(o, since) and all(k in o and contains(v, o[k]) for k, v in wanted.items())
            ]
            if not envelope.get("has_more") or not items:
                break
        else:
            if not matches:
                raise WriteUndecided(
                    exc,
                    f"more than {MAX_PAGES * PAGE} objects in {declared.find} to look through",
                    f"Check by {self.check_hint()}",
                )
        if not matches:
            return None
        newest = max(matches, key=lambda o: str(o.get("date_created") or ""))
        how = f"listing {declared.find}"
        if len(matches) > 1:
            ids = ", ".join(str(o.get("id")) for o in matches)
            how += f": {len(matches)} identical objects in the window, {ids}; this is the newest"
        return Done(newest, how)


def now() -> datetime:
    return datetime.now(UTC)


async def settle(
    spec: ToolSpec,
    args: dict[str, Any],
    plan: RequestPlan,
    client: CloseClient,
    exc: CloseError,
    sent_at: datetime,
    on_wait: WaitCallback | None = None,
) -> Done:
    """The outcome of a write that raised ``exc``: :class:`Done` with its note, or an exception (``exc``
    itself when the write surely did not happen, :class:`WriteNotDone` or :class:`WriteUndecided`)."""
    gone = spec.reconcile.gone if spec.reconcile is not None else spec.method == "DELETE"
    if isinstance(exc, NotFound) and exc.attempts > 1 and gone:
        # a retry of a delete whose first answer was lost: the first attempt removed it
        done = Done({}, f"a repeat of {exc.method} {exc.path} found it gone (404)")
    elif is_ambiguous(exc):
        done = await Reconciler(spec, args, plan, client, on_wait).settle(exc, sent_at)
        done.how = f"{lost_answer(exc)}, but close-mcp checked ({done.how})"
    else:
        raise exc
    done.note = f"{DONE} {done.how} and the write was made. Do not repeat it."
    return done
