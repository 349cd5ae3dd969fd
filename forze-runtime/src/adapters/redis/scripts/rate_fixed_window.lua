-- Fixed window limiter; mirrors adapters/memory/rate_limit.rs::fixed_window.
-- KEYS[1] state (hash: w = window index, c = units used)
-- ARGV[1] limit; ARGV[2] period in us; ARGV[3] cost
-- Returns {allowed (0/1), remaining, reset_after_us, retry_after_us or -1}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, period, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window = math.floor(now / period)
-- A key of another type (an older algorithm's state) starts afresh.
local st = redis.pcall('HMGET', KEYS[1], 'w', 'c')
if st.err then redis.call('DEL', KEYS[1]); st = {false, false} end
local used = 0
if tonumber(st[1]) == window then used = tonumber(st[2]) end
local left = (window + 1) * period - now
if used + cost > limit then
  return {0, limit - used, left, left}
end
used = used + cost
redis.call('HSET', KEYS[1], 'w', string.format('%.0f', window), 'c', string.format('%.0f', used))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil(left / 1000)))
return {1, limit - used, left, -1}
