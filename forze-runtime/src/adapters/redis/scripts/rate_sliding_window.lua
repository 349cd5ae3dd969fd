-- Exact sliding log limiter; mirrors adapters/memory/rate_limit.rs::sliding_window.
-- KEYS[1] state (zset: member = '{unique}:{cost}', score = admission time in us)
-- ARGV[1] limit; ARGV[2] period in us; ARGV[3] cost; ARGV[4] unique member id
-- Returns {allowed (0/1), remaining, reset_after_us, retry_after_us or -1, healed (0/1)}
-- What is no valid entry (a key of another type, a member without its cost, an admission
-- more than a second in the future) is treated as absent and removed: healed = 1.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, period, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local healed = 0
local trimmed = redis.pcall('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - period))
if type(trimmed) == 'table' and trimmed.err then redis.call('DEL', KEYS[1]); healed = 1 end
if redis.call('ZREMRANGEBYSCORE', KEYS[1], string.format('(%.0f', now + 1000000), '+inf') > 0 then
  healed = 1
end
local raw = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local entries = {}
local used = 0
for i = 1, #raw, 2 do
  local c = tonumber(string.match(raw[i], ':(%d+)$'))
  if c then
    used = used + c
    entries[#entries + 1] = raw[i]
    entries[#entries + 1] = raw[i + 1]
  else
    redis.call('ZREM', KEYS[1], raw[i])
    healed = 1
  end
end
if used + cost > limit then
  local freed, retry = 0, period
  for i = 1, #entries, 2 do
    freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
    if used - freed + cost <= limit then
      retry = tonumber(entries[i + 1]) + period - now
      break
    end
  end
  local newest = now
  if #entries > 0 then newest = tonumber(entries[#entries]) end
  return {0, limit - used, newest + period - now, retry, healed}
end
redis.call('ZADD', KEYS[1], string.format('%.0f', now), ARGV[4] .. ':' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil(period / 1000)))
return {1, limit - used - cost, period, -1, healed}
