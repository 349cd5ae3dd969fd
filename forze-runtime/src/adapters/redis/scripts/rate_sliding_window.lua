-- Sliding window in buckets; mirrors adapters/memory/algorithms.rs::sliding_window.
-- KEYS[1] state (hash: field = bucket index, value = units admitted in that bucket)
-- ARGV[1] limit; ARGV[2] period in us; ARGV[3] cost; ARGV[4] buckets per period
-- Returns {allowed (0/1), remaining, reset_after_us, retry_after_us or -1, healed (0/1)}
-- The window is cut into buckets of period/buckets; every bucket that overlaps the last period
-- is counted in full, so no interval of one period ever holds more than the limit, and a
-- denial comes at most one bucket early. The work is bounded by the bucket count, whatever the
-- quota. What is no valid bucket (not numbers, a negative count, a bucket in the future, a key
-- of another type) is treated as absent and removed: healed = 1.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, period, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local width = math.max(1, math.ceil(period / tonumber(ARGV[4])))
local cur = math.floor(now / width)
local first = math.floor(math.max(now - period, 0) / width)
local healed = 0
local raw = redis.pcall('HGETALL', KEYS[1])
if raw.err then redis.call('DEL', KEYS[1]); raw = {}; healed = 1 end
local kept, used = {}, 0
for i = 1, #raw, 2 do
  local b, n = tonumber(raw[i]), tonumber(raw[i + 1])
  if not b or not n or n < 0 or n ~= math.floor(n) or b > cur then
    redis.call('HDEL', KEYS[1], raw[i]); healed = 1
  elseif b < first then
    redis.call('HDEL', KEYS[1], raw[i])
  else
    kept[#kept + 1] = {b, n}; used = used + n
  end
end
table.sort(kept, function(x, y) return x[1] < y[1] end)
if used + cost > limit then
  local freed, retry = 0, period
  for _, e in ipairs(kept) do
    freed = freed + e[2]
    if used - freed + cost <= limit then retry = (e[1] + 1) * width + period - now; break end
  end
  local newest = cur
  if #kept > 0 then newest = kept[#kept][1] end
  return {0, math.max(limit - used, 0), (newest + 1) * width + period - now, retry, healed}
end
redis.call('HINCRBY', KEYS[1], string.format('%.0f', cur), cost)
local reset = (cur + 1) * width + period - now
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil(reset / 1000)))
return {1, limit - used - cost, reset, -1, healed}
