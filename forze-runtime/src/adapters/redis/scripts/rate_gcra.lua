-- GCRA limiter; mirrors adapters/memory/algorithms.rs::gcra.
-- KEYS[1] state (string: theoretical arrival time in us)
-- ARGV[1] limit; ARGV[2] period in us; ARGV[3] cost
-- Returns {remaining, reset_after_us, retry_after_us (-1: allowed)}, and a fourth element 1
-- when the state was no valid GCRA state (another type, not a number, infinite, NaN, negative,
-- or further ahead than one period) and was replaced as if absent.
-- Kept to three server calls (TIME, GET, SET) and plain numbers: Redis formats a Lua number
-- argument itself, and a short reply costs less to build.
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local limit, period = tonumber(ARGV[1]), tonumber(ARGV[2])
local interval = period / limit
local stored = redis.pcall('GET', KEYS[1])
local tat, healed = now, false
if stored then
  local v = type(stored) == 'string' and tonumber(stored)
  if v and v >= 0 and v - now <= period then
    if v > now then tat = v end
  else
    healed = true
    if type(stored) == 'table' then redis.call('DEL', KEYS[1]) end
  end
end
local new_tat = tat + ARGV[3] * interval
local x, retry = new_tat, -1
if new_tat - now > period + 1e-3 then x = tat; retry = math.ceil(new_tat - now - period) end
local r = math.floor((period - (x - now)) / interval + 1e-9)
if r < 0 then r = 0 elseif r > limit then r = limit end
if retry == -1 then
  redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
end
if healed then return {r, math.ceil(x - now), retry, 1} end
return {r, math.ceil(x - now), retry}
