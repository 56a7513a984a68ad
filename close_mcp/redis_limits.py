"""Rate-limit buckets in Redis, so every replica paces against one count per credential × endpoint group.

Each operation is one Lua script, atomic on the server, timed by the server's clock (``TIME``: replicas'
clocks need not agree). Keys (the credential is hashed, never stored in the clear):

* ``<prefix>rl:<hash>:b:<group>`` – a hash: ``limit remaining window_end window_len paused_until
  unmetered probe_until sent seen`` (expires 10 minutes after last use);
* ``<prefix>rl:<hash>:aliases`` – learned merges, provisional group → shared group (kept a day);
* ``<prefix>rl:<hash>:groups`` – the groups in use, for learning which share a limit.

The scripts build bucket keys from the alias they read, so they need a single Redis (or Valkey) server
or a replicated primary, not Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from close_mcp.ratelimit import ROUNDING_NOISE, SAFETY_MARGIN, GroupState, RateLimitInfo
from close_mcp.redis_store import DEFAULT_PREFIX, RedisConnection
from close_mcp.shared_store import hashed

BUCKET_TTL_MS = 600_000
ALIASES_TTL_MS = 86_400_000
PROBE_TTL = 2.0  # seconds another replica waits for a probe that never reports back

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

_TAKE = (
    _NOW
    + """
local group = redis.call('HGET', KEYS[1], ARGV[2]) or ARGV[2]
local key = ARGV[1] .. group
redis.call('SADD', KEYS[2], group)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
local v = redis.call('HMGET', key, 'limit', 'remaining', 'window_end', 'window_len',
                     'paused_until', 'unmetered', 'probe_until', 'sent')
local limit, remaining = tonumber(v[1]), tonumber(v[2])
local window_end, window_len = tonumber(v[3]) or 0, tonumber(v[4]) or 0
local paused, probe, sent = tonumber(v[5]) or 0, tonumber(v[7]) or 0, tonumber(v[8]) or 0
local margin = tonumber(ARGV[3])
redis.call('PEXPIRE', key, ARGV[5])
if paused > now then return {group, tostring(paused - now + margin)} end
if limit == nil then
  if v[6] == '1' then return {group, '0'} end
  if probe > now then return {group, 'probe'} end
  redis.call('HSET', key, 'probe_until', now + tonumber(ARGV[4]), 'sent', sent + 1)
  redis.call('PEXPIRE', key, ARGV[5])
  return {group, '0'}
end
if now >= window_end then  -- our guess of the next window, until Close's answers say
  remaining, window_end, sent = limit, now + window_len, 0
  redis.call('HSET', key, 'window_start', now, 'known', 0)
end
if remaining <= 0 then
  redis.call('HSET', key, 'remaining', remaining, 'window_end', window_end, 'sent', sent)
  return {group, tostring(window_end - now + margin)}
end
redis.call('HSET', key, 'remaining', remaining - 1, 'window_end', window_end, 'sent', sent + 1)
return {group, '0'}
"""
)

_OBSERVE = (
    _NOW
    + """
local key = KEYS[1]
if ARGV[1] == '0' then
  if redis.call('HEXISTS', key, 'limit') == 0 then redis.call('HSET', key, 'unmetered', '1') end
  redis.call('HSET', key, 'probe_until', 0, 'seen', now)
  redis.call('PEXPIRE', key, ARGV[5])
  return 1
end
-- Bucket.observe in close_mcp/ratelimit.py, the same rules on the shared state.
local L, R, reset = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local sent, noise = now - tonumber(ARGV[6]), tonumber(ARGV[7])
local v = redis.call('HMGET', key, 'limit', 'remaining', 'window_end', 'window_len', 'window_start', 'known')
local limit, remaining = tonumber(v[1]), tonumber(v[2])
local window_end, window_len = tonumber(v[3]) or 0, tonumber(v[4]) or 0
local window_start, known = tonumber(v[5]) or 0, v[6] == '1'
local finish = now + reset
window_len = math.max(window_len, reset)
if limit == nil or sent >= window_end then
  limit, remaining, window_end, window_start, known = L, R, finish, sent, true
elseif sent >= window_start then
  limit, remaining = L, math.min(remaining or R, R)
  if (not known) or finish > window_end + noise then
    window_end = finish
  else
    window_end = math.min(window_end, finish)
  end
  known = true
end
redis.call('HSET', key, 'limit', limit, 'remaining', remaining, 'window_end', window_end,
           'window_len', window_len, 'window_start', window_start, 'known', known and 1 or 0,
           'probe_until', 0, 'seen', now)
redis.call('PEXPIRE', key, ARGV[5])
return 1
"""
)

_PAUSE = (
    _NOW
    + """
local key, upto = KEYS[1], now + tonumber(ARGV[1])
local v = redis.call('HMGET', key, 'paused_until', 'window_end')
redis.call('HSET', key, 'paused_until', math.max(tonumber(v[1]) or 0, upto), 'remaining', 0,
           'window_end', math.max(tonumber(v[2]) or 0, upto), 'known', 1, 'probe_until', 0, 'seen', now)
redis.call('PEXPIRE', key, ARGV[2])
return 1
"""
)

_STATES = (
    _NOW
    + """
local out = {tostring(now)}
for _, g in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local v = redis.call('HMGET', ARGV[1] .. g, 'limit', 'window_end', 'window_len', 'sent', 'seen')
  table.insert(out, g)
  for i = 1, 5 do table.insert(out, v[i] or '') end
end
return out
"""
)

_MERGE = """
local prefix, into = ARGV[1], ARGV[2]
local target = prefix .. into
local moved = {}
for i = 4, #ARGV do if ARGV[i] ~= into then moved[ARGV[i]] = true end end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if moved[all[i + 1]] then redis.call('HSET', KEYS[1], all[i], into) end
end
local t = redis.call('HMGET', target, 'paused_until', 'window_end', 'window_len', 'sent', 'limit', 'remaining')
local paused, window_end = tonumber(t[1]) or 0, tonumber(t[2]) or 0
local window_len, sent = tonumber(t[3]) or 0, tonumber(t[4]) or 0
local limit, remaining = tonumber(t[5]), tonumber(t[6])
for g, _ in pairs(moved) do
  redis.call('HSET', KEYS[1], g, into)
  local v = redis.call('HMGET', prefix .. g, 'paused_until', 'window_end', 'window_len', 'sent',
                       'limit', 'remaining')
  paused = math.max(paused, tonumber(v[1]) or 0)
  window_end = math.max(window_end, tonumber(v[2]) or 0)
  window_len = math.max(window_len, tonumber(v[3]) or 0)
  sent = sent + (tonumber(v[4]) or 0)
  if limit == nil and tonumber(v[5]) then limit, remaining = tonumber(v[5]), tonumber(v[6]) end
  redis.call('SREM', KEYS[2], g)
end
redis.call('HSET', target, 'paused_until', paused, 'window_end', window_end, 'window_len', window_len,
           'sent', sent)
if limit then redis.call('HSET', target, 'limit', limit, 'remaining', remaining or 0) end
redis.call('SADD', KEYS[2], into)
redis.call('PEXPIRE', target, ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 144)
return 1
"""


def _number(raw: str, default: float = 0.0) -> float:
    return float(raw) if raw else default


@dataclass
class RedisLimits:
    """:class:`~close_mcp.ratelimit.SharedLimits` in Redis."""

    connection: RedisConnection
    prefix: str = DEFAULT_PREFIX

    def usable(self) -> bool:
        return self.connection.usable()

    def _base(self, credential: str) -> str:
        return f"{self.prefix}rl:{hashed(credential)}:"

    async def _eval(self, script: str, keys: Sequence[str], *args: Any) -> Any:
        # Every script here may run twice: a slot taken twice is a slot left unused, never one too many.
        return await self.connection.run(lambda r: r.eval(script, len(keys), *keys, *args), repeatable=True)

    async def take(self, credential: str, group: str) -> tuple[str, float | None]:
        base = self._base(credential)
        used, wait = await self._eval(
            _TAKE,
            [f"{base}aliases", f"{base}groups"],
            f"{base}b:",
            group,
            SAFETY_MARGIN,
            PROBE_TTL,
            BUCKET_TTL_MS,
        )
        return str(used), (None if wait == "probe" else float(wait))

    async def observe(
        self, credential: str, group: str, info: RateLimitInfo | None, age: float = 0.0
    ) -> None:
        key = f"{self._base(credential)}b:{group}"
        if info is None:
            await self._eval(_OBSERVE, [key], 0, 0, 0, 0, BUCKET_TTL_MS, age, ROUNDING_NOISE)
        else:
            args = (info.limit, info.remaining, info.reset, BUCKET_TTL_MS, age, ROUNDING_NOISE)
            await self._eval(_OBSERVE, [key], 1, *args)

    async def pause(self, credential: str, group: str, seconds: float) -> None:
        await self._eval(_PAUSE, [f"{self._base(credential)}b:{group}"], seconds, BUCKET_TTL_MS)

    async def states(self, credential: str) -> tuple[float, list[GroupState]]:
        base = self._base(credential)
        raw = await self._eval(_STATES, [f"{base}groups"], f"{base}b:")
        now, rows = float(raw[0]), raw[1:]
        states = []
        for i in range(0, len(rows), 6):
            name, limit, window_end, window_len, sent, seen = rows[i : i + 6]
            states.append(
                GroupState(
                    str(name),
                    int(float(limit)) if limit else None,
                    _number(window_end),
                    _number(window_len),
                    int(_number(sent)),
                    _number(seen),
                )
            )
        return now, states

    async def merge(self, credential: str, groups: Sequence[str], into: str) -> None:
        base = self._base(credential)
        await self._eval(
            _MERGE, [f"{base}aliases", f"{base}groups"], f"{base}b:", into, BUCKET_TTL_MS, *groups
        )
