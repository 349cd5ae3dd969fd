-- GCRA limiter; mirrors adapters/memory/rate_limit.rs::gcra.
-- KEYS[1] state (string: theoretical arrival time in us)
-- ARGV[1] limit; ARGV[2] period in us; ARGV[3] cost
-- Returns {allowed (0/1), remaining, reset_after_us, retry_after_us or -1, healed (0/1)}
-- A state that is no valid GCRA state (another type, not a number, infinite, NaN, negative, or
-- further ahead than one period) is treated as absent and replaced: healed = 1.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, period, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local interval = period / limit
local stored = redis.pcall('GET', KEYS[1])
local healed = 0
if type(stored) == 'table' then redis.call('DEL', KEYS[1]); stored = false; healed = 1 end
local tat = 0
if stored then
  tat = tonumber(stored)
  if not tat or tat ~= tat or tat < 0 or tat - now > period then tat = 0; healed = 1 end
end
local base = math.max(tat, now)
local new_tat = base + cost * interval
local function remaining(x)
  local r = math.floor((period - (x - now)) / interval + 1e-9)
  if r < 0 then r = 0 end
  if r > limit then r = limit end
  return r
end
if new_tat - now > period + 1e-3 then
  return {0, remaining(base), math.ceil(base - now), math.ceil(new_tat - now - period), healed}
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX',
  string.format('%.0f', math.ceil((new_tat - now) / 1000) + 1))
return {1, remaining(new_tat), math.ceil(new_tat - now), -1, healed}
