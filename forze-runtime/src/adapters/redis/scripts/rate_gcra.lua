-- GCRA limiter; mirrors adapters/memory/algorithms.rs::gcra.
-- KEYS[1] state (string: theoretical arrival time in us)
-- ARGV[1] limit; ARGV[2] period in us; ARGV[3] cost
-- Returns one integer: how far the state after this call stands ahead of the server's now, in
-- ns (truncated): the new theoretical arrival time's when the call is admitted (the reply is
-- >= 0), the unchanged one's when it is not (the reply is -1 - that). The client turns it into
-- remaining, reset and retry (ports::gcra_decision). A state that is no valid GCRA state
-- (another type, not a number, infinite, NaN, negative, or further ahead than one period) is
-- replaced as if absent, and the reply is {that integer, 1}.
-- Kept to three server calls (TIME, GET, SET), plain numbers (Redis formats a Lua number
-- argument itself) and a one-integer reply: a table reply costs Redis 7 more to build than the
-- arithmetic of the whole check.
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local period = tonumber(ARGV[2])
local interval = period / tonumber(ARGV[1])
-- Times are microseconds since 1970 in doubles, precise to a quarter of one: a state may stand
-- this much past the period (ports::gcra_tolerance).
local tolerance = math.min(interval / 2, 1)
local stored = redis.pcall('GET', KEYS[1])
local tat, healed = now, false
if stored then
  local v = type(stored) == 'string' and tonumber(stored)
  if v and v >= 0 and v - now <= period + tolerance then
    if v > now then tat = v end
  else
    healed = true
    if type(stored) == 'table' then redis.call('DEL', KEYS[1]) end
  end
end
local new_tat = tat + ARGV[3] * interval
local reply
if new_tat - now > period + tolerance then
  reply = -1 - math.floor((tat - now) * 1000)
else
  redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
  reply = math.floor((new_tat - now) * 1000)
end
if healed then return {reply, 1} end
return reply
