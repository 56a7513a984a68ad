"""Client-side rate limiting: read Close's ``RateLimit`` header, pace, and share 429 pauses.

One :class:`Bucket` per (credential, endpoint group). Every concurrent call in a bucket waits on the
same pause, so one 429 never becomes a stampede; while a bucket's limits are unknown only one request
probes it. Waiters are served in arrival order: only the head of a bucket's queue waits for a slot,
the others queue behind it (FIFO), so no call is overtaken by later ones.

Endpoint groups are not published by Close (close-api.md §1.1: a group is a set of paths × methods;
GET /lead/ and POST /activity/ "can be different groups"). Requests start in a provisional bucket per
(read/write, resource) and are merged, for the process's life, when Close's answers show they share
a limit:

* a new bucket's first request, while a bucket of the same credential and kind (read or write) is in
  use, takes one of that bucket's slots, and its answer's count decides: it counted the other
  bucket's requests too (one limit: merged before either draws a 429), or only itself (apart);
* an answer counts more requests in a bucket's window than the bucket sent (:meth:`Bucket.observe`),
  or a 429 comes though the bucket had not spent the limit itself, while other buckets of the same
  credential and kind with the same ``limit`` were active in the same window (:func:`sharers_of`);
* a 429 names its ``rate_endpoint_group`` (legacy body, close-api.md §1.3).

Callers queued in a bucket that is merged move on to the merged bucket's queue, so two buckets never
pace one limit side by side.

With a :class:`SharedLimits` backend (Redis, ``--redis-url``) a bucket's state (remaining/reset, 429
pauses, learned merges) lives there, so replicas together stay under Close's per-key limit and share
one pause; the local state is kept up to date as a fallback. When the backend does not answer in time,
pacing continues per process (the backend logs a warning and shows it in ``/healthz``) and returns to
the shared state by itself once the backend answers again.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

log = logging.getLogger("close_mcp.ratelimit")
DEFAULT_RESET = 1.0
SAFETY_MARGIN = 0.01
ROUNDING_NOISE = 1.05  # seconds: the live header's reset is rounded up to whole seconds
# Requests a window may count beyond what this bucket sent in it before that shows another bucket
# shares its limit: ours sent just before we rolled to our (later, rounded-up) window end count too.
OUTSPENT_SLACK = 2
PROBE_POLL = 0.05  # seconds between looks while another replica probes a bucket of unknown limits
WaitCallback = Callable[[float], Awaitable[None]]
_KV = re.compile(r"\s*([A-Za-z_-]+)\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*")


@dataclass(frozen=True)
class RateLimitInfo:
    limit: int
    remaining: int
    reset: float


def parse_ratelimit(value: str | None) -> RateLimitInfo | None:
    """``limit=100, remaining=50, reset=5`` with ``,`` or ``;``, any key order, decimal reset."""
    if not value:
        return None
    found: dict[str, float] = {}
    for part in re.split(r"[,;]", value):
        m = _KV.fullmatch(part)
        if m:
            found.setdefault(m.group(1).lower(), float(m.group(2)))
    if not {"limit", "remaining", "reset"} <= found.keys():
        return None
    return RateLimitInfo(int(found["limit"]), int(found["remaining"]), max(found["reset"], 0.0))


def reset_after_429(headers: Mapping[str, str], body: Any) -> float:
    """Seconds to pause, in order of trust: RateLimit reset, retry-after, legacy body rate_reset, default."""
    info = parse_ratelimit(headers.get("ratelimit"))
    if info is not None:
        return info.reset
    retry_after = headers.get("retry-after", "")
    try:
        return max(float(retry_after), 0.0)
    except ValueError:
        pass
    if isinstance(body, dict):
        for holder in (body, body.get("error")):
            if isinstance(holder, dict) and holder.get("rate_reset") is not None:
                try:
                    return max(float(holder["rate_reset"]), 0.0)
                except (TypeError, ValueError):
                    pass
    return DEFAULT_RESET


def endpoint_group_of(body: Any) -> str | None:
    if isinstance(body, dict):
        for holder in (body, body.get("error")):
            if isinstance(holder, dict) and isinstance(holder.get("rate_endpoint_group"), str):
                return str(holder["rate_endpoint_group"])
    return None


class WaitTooLong(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(wait)
        self.wait = wait


# ----- learning which buckets share a limit --------------------------------------------------------
@dataclass(frozen=True)
class GroupState:
    """What a bucket knows of its window, for deciding whether a 429 shows a shared limit."""

    name: str
    limit: int | None
    window_end: float
    window_len: float
    sent: int  # requests this bucket sent in its current window
    seen: float  # when it last heard from Close


def kind_of(group: str) -> str:
    """``read`` or ``write`` (a merged group keeps the kind of the group it was named after)."""
    return group.removeprefix("shared:").split(":", 1)[0]


def sharers_of(
    tripped: GroupState, others: Sequence[GroupState], limit: int, reset: float, now: float
) -> list[str]:
    """The groups a 429 in ``tripped`` (limit ``limit``, resetting in ``reset`` seconds) shows to share
    its limit; empty when ``tripped`` spent the limit itself.

    A sharer is of the same kind (read or write: Close limited writes to different resources
    together, issue 17, while close-api.md §1.1 has reads and writes in different groups), has the
    same limit, heard from Close within its last two windows, sent requests, and has a window ending
    with the 429's (within a second: the live header rounds ``reset`` up to whole seconds, §1.2).
    Reads and writes are merged only when a 429 names their common group."""
    if tripped.sent >= limit:
        return []
    end = now + reset
    return sorted(
        o.name
        for o in others
        if o.name != tripped.name
        and kind_of(o.name) == kind_of(tripped.name)
        and o.limit == limit
        and o.sent > 0
        and now - o.seen <= 2 * max(o.window_len, 1.0)
        and abs(o.window_end - end) <= ROUNDING_NOISE
    )


# ----- the shared backend --------------------------------------------------------------------------
class SharedLimits(Protocol):
    """Bucket state shared by replicas (:class:`close_mcp.redis_limits.RedisLimits`). Every method may
    raise :class:`close_mcp.redis_store.SharedStateUnavailable`; the caller then paces per process."""

    def usable(self) -> bool: ...

    async def take(self, credential: str, group: str) -> tuple[str, float | None]:
        """Take a slot in ``group`` (or the group it was merged into): (group used, 0.0 = granted,
        ``None`` = another replica probes unknown limits, else seconds to wait)."""
        ...

    async def observe(
        self, credential: str, group: str, info: RateLimitInfo | None, age: float = 0.0
    ) -> None:
        """Record a response to a request sent ``age`` seconds ago (see :meth:`Bucket.observe`)."""
        ...

    async def pause(self, credential: str, group: str, seconds: float) -> None: ...

    async def states(self, credential: str) -> tuple[float, list[GroupState]]:
        """The backend's clock and every group of ``credential``, for :func:`sharers_of`."""
        ...

    async def merge(self, credential: str, groups: Sequence[str], into: str) -> None:
        """From now on requests of ``groups`` use ``into``'s state (its pause the longest of theirs)."""
        ...


def _unavailable() -> type[Exception]:
    from close_mcp.redis_store import SharedStateUnavailable

    return SharedStateUnavailable


@dataclass
class Bucket:
    name: str = "default"
    credential: str = ""
    shared: SharedLimits | None = None
    limit: int | None = None
    remaining: int | None = None
    window_end: float = 0.0
    window_len: float = 0.0
    window_start: float = 0.0
    window_known: bool = False  # window_end comes from Close (an upper bound), not from our own roll
    paused_until: float = 0.0
    unmetered: bool = False  # responses carry no RateLimit header: rely on 429s only
    probing: bool = False
    probe_done: anyio.Event = field(default_factory=anyio.Event)
    sent: int = 0  # requests sent in the current window (for learning shared limits)
    seen: float = 0.0
    shared_name: str | None = None  # the group the backend resolved this bucket to
    waiting: int = 0
    next_slot: float = 0.0  # when the head of the queue expects its slot (for failing fast)
    merged_into: Bucket | None = None  # set once this bucket's limit is learned to be another's
    tentative_of: Bucket | None = None  # a bucket of the same kind in use when this one was made
    kin_sent: int = 0  # what that bucket had sent in its window when this one's probe took a slot
    _turn: anyio.Lock = field(default_factory=anyio.Lock)  # FIFO: anyio wakes lock waiters in order

    # ----- local state ---------------------------------------------------------------------------
    def _wait_needed(self, now: float) -> float | None:
        """Seconds to wait before sending; ``None`` = wait for the probe in flight."""
        if self.paused_until > now:
            return self.paused_until - now + SAFETY_MARGIN
        if self.limit is None:
            return None if (self.probing and not self.unmetered) else 0.0
        if now >= self.window_end:  # our guess of the next window, until Close's answers say
            self.remaining = self.limit
            self.window_start, self.window_end, self.window_known = now, now + self.window_len, False
            self.sent = 0
        if self.remaining is not None and self.remaining <= 0:
            return self.window_end - now + SAFETY_MARGIN
        return 0.0

    def _take_local(self) -> float | None:
        if self.tentative_of is not None and self.limit is None and not self.unmetered:
            if self.paused_until <= time.monotonic():
                return self._take_from_kin(self.tentative_of.resolved())
            self.tentative_of = None  # a 429 came first: this bucket's own pause decides
        wait = self._wait_needed(time.monotonic())
        if wait == 0.0:
            if self.limit is None and not self.unmetered:
                self.probing = True
            if self.remaining is not None:
                self.remaining -= 1
        return wait

    def _take_from_kin(self, kin: Bucket) -> float | None:
        """A new bucket's first request (its probe), while a bucket of the same kind is in use: it
        takes one of that bucket's slots, so the two never spend one limit twice before this one's
        answer shows whether they share it (:meth:`observe`)."""
        if self.probing:
            return None
        if kin.limit is None:
            if kin.probing:
                return PROBE_POLL  # its answer comes first
            self.tentative_of = None  # nothing known to share: probe on its own
            return self._take_local()
        wait = kin._take_local()
        if wait == 0.0:
            kin.sent += 1
            self.kin_sent = kin.sent - 1
            self.probing = True
        return wait

    async def _take(self) -> float | None:
        if self.shared is not None and self.shared.usable():
            try:
                self.shared_name, wait = await self.shared.take(
                    self.credential, self.shared_name or self.name
                )
            except _unavailable():
                pass
            else:
                if wait == 0.0 and self.remaining is not None:
                    self.remaining -= 1  # keep the fallback's count close
                return PROBE_POLL if wait is None else wait
        return self._take_local()

    def _estimate(self, ahead: int) -> float:
        """Seconds until ``ahead`` earlier callers have been served, at the known rate."""
        if not self.limit or self.window_len <= 0:
            return 0.0
        rate = self.limit / self.window_len
        return max(0.0, (ahead - max(self.remaining or 0, 0)) / rate)

    # ----- acquiring a slot, first come first served ---------------------------------------------
    def _queue_wait(self, now: float) -> float:
        """At least how long a caller arriving now waits: the pause, or the callers ahead of it."""
        return max(self.paused_until - now, self.next_slot - now, self._estimate(self.waiting), 0.0)

    def resolved(self) -> Bucket:
        """The bucket requests of this one use now: itself, or the one it was merged into. Merges
        point at a bucket merged into none (:meth:`RateLimiter._merge`), so this ends; the chain
        walked is shortened to one step for the next time. A loop would be a bug: raised."""
        if self.merged_into is None:
            return self
        walked: list[Bucket] = []
        bucket = self
        while bucket.merged_into is not None:
            if any(bucket is seen for seen in walked):
                raise RuntimeError(f"rate-limit bucket {self.name!r}: merges form a loop")
            walked.append(bucket)
            bucket = bucket.merged_into
        for merged in walked:
            merged.merged_into = bucket
        return bucket

    async def acquire(self, deadline: float, on_wait: WaitCallback | None = None) -> Bucket:
        """Wait for a slot, in arrival order, until ``deadline``; :class:`WaitTooLong` (with the wait
        it foresees) as soon as the slot is known to come later than the deadline. Returns the bucket
        that granted it: callers still queued here when this bucket is merged into another move on
        to that one's queue, so the two never pace the same limit side by side."""
        target = self.resolved()
        if target is not self:
            return await target.acquire(deadline, on_wait)
        # Nobody queued and a slot free now: take it without queueing (the common, unhurried case;
        # the queue below is for callers that must wait their turn).
        unqueued = not self.waiting and not self._turn.locked() and self.shared is None
        if unqueued and self._take_local() == 0.0:
            self.sent += 1
            return self
        now = time.monotonic()
        if self.waiting and now + self._queue_wait(now) > deadline:
            raise WaitTooLong(self._queue_wait(now))
        self.waiting += 1
        try:
            # A little grace past the deadline: the head's own checks end it on time; this bounds
            # the time spent queued behind others.
            with anyio.move_on_after(max(deadline - now, 0.0) + 0.05):
                async with self._turn:
                    granted = await self._acquire_head(deadline, on_wait)
                if granted is not self:
                    return await granted.acquire(deadline, on_wait)
                return self
            raise WaitTooLong(max(self._queue_wait(time.monotonic()), 0.1))
        finally:
            self.waiting -= 1

    async def _acquire_head(self, deadline: float, on_wait: WaitCallback | None) -> Bucket:
        """Wait at the head of the queue: ``self`` once a slot is taken, or the bucket this one was
        merged into meanwhile (nothing taken)."""
        while True:
            if self.merged_into is not None:
                return self.resolved()
            wait = await self._take()
            if wait == 0.0:
                self.sent += 1
                return self
            now = time.monotonic()
            if wait is None:
                if now >= deadline:
                    raise WaitTooLong(0.1)
                with anyio.move_on_after(max(deadline - now, 0.0)):
                    await self.probe_done.wait()
                continue
            self.next_slot = now + wait
            if now + wait > deadline:
                raise WaitTooLong(wait)
            if on_wait is not None and wait > PROBE_POLL:
                await on_wait(wait)
            await anyio.sleep(wait + random.uniform(0, min(0.02, wait * 0.1)))

    # ----- what Close said -----------------------------------------------------------------------
    def observe(self, headers: Mapping[str, str], sent_at: float | None = None) -> bool:
        """Record a response's ``RateLimit`` for a request sent at ``sent_at`` (default now); True when
        its count shows that more was spent in this window than this bucket sent (others share it).

        * Sent after our window ended: a new window for certain; its counts replace ours.
        * Sent in our current window: the lower count wins (a slow answer must not hand back slots
          already spent). Each ``now + reset`` is an upper bound of the window's end (the server
          computed ``reset`` before now, and the live header rounds it up to whole seconds,
          close-api.md §1.2), so the end is the lowest bound seen; the first answer after we rolled
          the window ourselves replaces our guess. An end beyond rounding noise means Close is in a
          later window than we think: move to its end, keep the lower count.
        * Sent before our current window: stale, ignored.
        """
        info = parse_ratelimit(headers.get("ratelimit"))
        now = time.monotonic()
        sent = now if sent_at is None else sent_at
        self.seen = now
        outspent = False
        kin, self.tentative_of = self.tentative_of, None
        if kin is not None and info is not None and self.limit is None:
            # The probe's window counted the kin bucket's requests too: one limit, paced together.
            others = info.limit - info.remaining - 1
            outspent = info.limit == kin.resolved().limit and others >= max(1, self.kin_sent - OUTSPENT_SLACK)
        if info is None:
            if self.limit is None:
                self.unmetered = True
        else:
            end = now + info.reset
            self.window_len = max(self.window_len, info.reset)
            if self.limit is None or sent >= self.window_end:
                self.limit, self.remaining, self.window_end = info.limit, info.remaining, end
                self.window_start, self.window_known = sent, True
            elif sent >= self.window_start:
                outspent = info.limit - info.remaining > self.sent + OUTSPENT_SLACK
                self.limit = info.limit
                self.remaining = min(
                    self.remaining if self.remaining is not None else info.remaining, info.remaining
                )
                if not self.window_known or end > self.window_end + ROUNDING_NOISE:
                    self.window_end = end
                else:
                    self.window_end = min(self.window_end, end)
                self.window_known = True
        self._end_probe()
        return outspent

    async def observe_shared(self, headers: Mapping[str, str], sent_at: float | None = None) -> bool:
        """:meth:`observe`, and with a shared backend, tell the other replicas."""
        outspent = self.observe(headers, sent_at)
        if self.shared is not None and self.shared.usable():
            age = 0.0 if sent_at is None else max(time.monotonic() - sent_at, 0.0)
            try:
                info = parse_ratelimit(headers.get("ratelimit"))
                await self.shared.observe(self.credential, self.shared_name or self.name, info, age)
            except _unavailable():
                pass
        return outspent

    def pause(self, seconds: float) -> None:
        """A 429: everyone in this bucket waits until the same moment."""
        now = time.monotonic()
        self.seen = now
        self.paused_until = max(self.paused_until, now + seconds)
        self.remaining = 0
        self.window_end = max(self.window_end, now + seconds)
        self.window_known = True
        self._end_probe()

    async def pause_shared(self, seconds: float) -> None:
        """:meth:`pause`, and with a shared backend, pause every replica's bucket."""
        self.pause(seconds)
        if self.shared is not None and self.shared.usable():
            try:
                await self.shared.pause(self.credential, self.shared_name or self.name, seconds)
            except _unavailable():
                pass

    def release_probe(self) -> None:
        """The probe failed without a response: let the next request probe instead."""
        self._end_probe()

    def _end_probe(self) -> None:
        if self.probing:
            self.probing = False
            self.probe_done.set()
            self.probe_done = anyio.Event()

    def state(self) -> GroupState:
        return GroupState(self.name, self.limit, self.window_end, self.window_len, self.sent, self.seen)


@dataclass
class RateLimiter:
    """All buckets of one process, keyed by credential fingerprint and endpoint group; with ``shared``,
    their state lives in a backend every replica sees."""

    shared: SharedLimits | None = None
    buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)

    @staticmethod
    def provisional_group(method: str, path: str) -> str:
        resource = path.strip("/").split("/")[0] or "root"
        return f"{'read' if method in ('GET', 'HEAD') else 'write'}:{resource}"

    def _bucket_for(self, credential: str, group: str) -> Bucket:
        found = self.buckets.get((credential, group))
        if found is None:
            found = self.buckets[(credential, group)] = Bucket(group, credential, self.shared)
            if not group.startswith(("shared:", "close:")):  # provisional: its limit is a guess
                found.tentative_of = self._kin_of(found)
        return found

    def _kin_of(self, new: Bucket) -> Bucket | None:
        """The bucket of the same credential and kind in use now (probing, or heard from within its
        last two windows), the one heard from last; None with a shared backend (it paces probes)."""
        if self.shared is not None:
            return None
        now, kind = time.monotonic(), kind_of(new.name)
        kin = [
            b
            for (c, _), b in self.buckets.items()
            if c == new.credential
            and b is not new
            and b.merged_into is None
            and kind_of(b.name) == kind
            and (b.probing or (b.limit is not None and now - b.seen <= 2 * max(b.window_len, 1.0)))
        ]
        return max(kin, key=lambda b: b.seen) if kin else None

    def bucket(self, credential: str, method: str, path: str) -> Bucket:
        provisional = self.provisional_group(method, path)
        group = self.aliases.get((credential, provisional), provisional)
        found = self._bucket_for(credential, group)
        if found.shared_name is not None and found.shared_name != group:
            # Another replica learned the merge (the backend resolved it): learn it here too.
            self._merge(credential, [group], found.shared_name)
            return self._bucket_for(credential, found.shared_name).resolved()
        return found.resolved()

    def learn_group(self, credential: str, method: str, path: str, close_group: str) -> Bucket:
        """A 429 named Close's endpoint group: requests of this kind share that group's bucket."""
        provisional = self.provisional_group(method, path)
        current = self.aliases.get((credential, provisional), provisional)
        target = f"close:{close_group}"
        if current != target:
            self._merge(credential, [current], target)
        return self._bucket_for(credential, target).resolved()

    def _merge(self, credential: str, groups: Sequence[str], into: str) -> None:
        """Requests of ``groups`` (and of every provisional group aliased to them) use ``into`` (or the
        bucket ``into`` was itself merged into: merges always point at a bucket merged into none, so
        following them never loops)."""
        merged = self._bucket_for(credential, into).resolved()
        into = merged.name
        merged.tentative_of = None
        moved = set(groups) - {into}
        for (cred, provisional), group in list(self.aliases.items()):
            if cred == credential and group in moved:
                self.aliases[(cred, provisional)] = into
        for group in moved:
            self.aliases[(credential, group)] = into
            old = self.buckets.get((credential, group))
            if old is None:
                continue
            for source in {id(old): old, id(root := old.resolved()): root}.values():
                if source is merged:
                    continue
                source.merged_into = merged
                source._end_probe()  # its waiters move on to the merged bucket
                merged.paused_until = max(merged.paused_until, source.paused_until)
                merged.window_end = max(merged.window_end, source.window_end)
                merged.window_len = max(merged.window_len, source.window_len)
                merged.sent += source.sent
                if merged.limit is None:
                    merged.limit, merged.remaining = source.limit, source.remaining

    async def learn_from_429(
        self, credential: str, method: str, path: str, bucket: Bucket, headers: Mapping[str, str], body: Any
    ) -> Bucket:
        """The bucket that a 429 in ``bucket`` should pause: the group the 429 names, or the merge of
        the buckets it shows to share a limit (learned for the process's life, and shared)."""
        named = endpoint_group_of(body)
        if named:
            merged = self.learn_group(credential, method, path, named)
            await self._share_merge(credential, [bucket.name], merged.name)
            return merged
        info = parse_ratelimit(headers.get("ratelimit"))
        if info is None:
            return bucket
        return await self._merge_sharers(credential, bucket, info, spent_alone_possible=True)

    async def learn_from_answer(self, credential: str, bucket: Bucket, headers: Mapping[str, str]) -> None:
        """An answer counted more requests in ``bucket``'s window than it sent (:meth:`Bucket.observe`):
        merge it with the buckets whose requests explain that, before their next window draws a 429."""
        info = parse_ratelimit(headers.get("ratelimit"))
        if info is not None:
            await self._merge_sharers(credential, bucket, info, spent_alone_possible=False)

    async def _merge_sharers(
        self, credential: str, bucket: Bucket, info: RateLimitInfo, spent_alone_possible: bool
    ) -> Bucket:
        now, states = time.monotonic(), [b.state() for (c, _), b in self.buckets.items() if c == credential]
        mine = bucket.state()
        if self.shared is not None and self.shared.usable():
            try:
                now, states = await self.shared.states(credential)
                mine = next((s for s in states if s.name == (bucket.shared_name or bucket.name)), mine)
            except _unavailable():
                pass
        if not spent_alone_possible:
            mine = dataclasses.replace(mine, sent=0)  # the answer's count shows it did not
        sharers = sharers_of(mine, states, info.limit, info.reset, now)
        if not sharers:
            return bucket
        groups = sorted({bucket.name, *sharers})
        into = groups[0] if groups[0].startswith("shared:") else f"shared:{groups[0]}"
        self._merge(credential, groups, into)
        await self._share_merge(credential, groups, into)
        log.info("%s share one rate limit (learned from Close's counts): paced together", ", ".join(groups))
        return self._bucket_for(credential, into).resolved()

    async def _share_merge(self, credential: str, groups: Sequence[str], into: str) -> None:
        if self.shared is not None and self.shared.usable():
            try:
                await self.shared.merge(credential, groups, into)
            except _unavailable():
                pass
