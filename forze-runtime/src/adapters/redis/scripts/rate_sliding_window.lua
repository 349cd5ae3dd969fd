-- Sliding window in buckets; mirrors adapters/memory/algorithms.rs::sliding_window.
-- KEYS[1] state (hash: 'm' = '{units in the window}:{oldest bucket with units}:{newest bucket
-- with units}', and one field per bucket index with its units)
-- ARGV[1] limit; ARGV[2] period in us; ARGV[3] cost; ARGV[4] buckets per period
-- Returns {remaining, reset_after_us, retry_after_us (-1: allowed)}, and a fourth element 1 when
-- the state was no valid state and was replaced (see below).
-- The window is cut into buckets of period/buckets; every bucket that overlaps the last period
-- is counted in full, so no interval of one period ever holds more than the limit, and a
-- denial comes at most one bucket early. A check reads the summary and the current bucket in
-- one HMGET (and the oldest bucket on a denial) and writes both in one HSET; buckets that
-- leave the window are dropped once each, so the work is bounded by the bucket count whatever
-- the quota. A state that is no valid state (not numbers, a negative
-- count, buckets in the future, a key of another type) is treated as absent: healed = 1.
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local limit, period, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local width = math.max(1, math.ceil(period / tonumber(ARGV[4])))
local cur = math.floor(now / width)
local first = math.floor(math.max(now - period, 0) / width)
local function f(b) return string.format('%.0f', b) end
local function range(a, b)
  local out = {}
  for i = a, b do out[#out + 1] = f(i) end
  return out
end
local healed = 0
local got = redis.pcall('HMGET', KEYS[1], 'm', f(cur))
local m, here = false, 0
if got.err then redis.call('DEL', KEYS[1]); healed = 1
else m = got[1]; here = tonumber(got[2]) or 0 end
local n, o, l
if m then
  local a, b, c = string.match(m, '^(-?[%d.e+]+):(-?[%d.e+]+):(-?[%d.e+]+)$')
  n, o, l = tonumber(a), tonumber(b), tonumber(c)
end
local present = m
local dirty = false
if present and (not (n and o and l) or n < 0 or n ~= math.floor(n) or o > l or l > cur
    or l - o > tonumber(ARGV[4]) + 1) then
  redis.call('DEL', KEYS[1]); present = false; healed = 1; here = 0
end
if not present or l < first then
  if present then redis.call('DEL', KEYS[1]) end
  n, o, l, here = 0, cur, cur, 0
elseif o < first then
  -- Drop the buckets that left the window, then find the oldest one left with units.
  local gone = range(o, first - 1)
  local counts = redis.call('HMGET', KEYS[1], unpack(gone))
  for i = 1, #counts do n = n - (tonumber(counts[i]) or 0) end
  redis.call('HDEL', KEYS[1], unpack(gone))
  if n < 0 then n = 0 end
  dirty = true
  o = l
  local left = redis.call('HMGET', KEYS[1], unpack(range(first, l)))
  for i = 1, #left do
    if (tonumber(left[i]) or 0) > 0 then o = first + i - 1; break end
  end
end
if n + cost > limit then
  -- The earliest moment enough old buckets have left the window.
  local needed, retry = n + cost - limit, period
  local oldest = here
  if o ~= cur then oldest = tonumber(redis.call('HGET', KEYS[1], f(o))) or 0 end
  if oldest >= needed then
    retry = (o + 1) * width + period - now
  else
    local counts = redis.call('HMGET', KEYS[1], unpack(range(o, l)))
    local freed = 0
    for i = 1, #counts do
      freed = freed + (tonumber(counts[i]) or 0)
      if freed >= needed then retry = (o + i) * width + period - now; break end
    end
  end
  if dirty then redis.call('HSET', KEYS[1], 'm', f(n) .. ':' .. f(o) .. ':' .. f(l)) end
  local out = {math.max(limit - n, 0), (l + 1) * width + period - now, retry}
  if healed == 1 then out[4] = 1 end
  return out
end
redis.call('HSET', KEYS[1], f(cur), f(here + cost), 'm', f(n + cost) .. ':' .. f(o) .. ':' .. f(cur))
local reset = (cur + 1) * width + period - now
-- The state lives until its newest bucket leaves: set once per bucket (or for a new state).
if n == 0 or l ~= cur then
  redis.call('PEXPIREAT', KEYS[1], f(math.ceil(((cur + 1) * width + period) / 1000)))
end
if healed == 1 then return {limit - n - cost, reset, -1, 1} end
return {limit - n - cost, reset, -1}
