-- A weighted fixed-window check (cost > 1): admits only what fits, so that the counter never
-- passes the limit through a weighted call (calls of cost 1 count with a plain INCRBY, and come
-- here when that found no valid counter).
-- KEYS[1] the window's counter; ARGV[1] limit; ARGV[2] cost; ARGV[3] expiry (unix ms)
-- Returns {allowed (0/1), units used after this call, healed (0/1)}
-- A counter that is no valid count (another type, not an integer, negative) is treated as
-- absent and replaced: healed = 1.
local raw = redis.pcall('GET', KEYS[1])
local healed = 0
if type(raw) == 'table' then redis.call('DEL', KEYS[1]); raw = false; healed = 1 end
local used = 0
if raw then
  used = tonumber(raw)
  if not used or used ~= math.floor(used) or used < 0 then
    redis.call('DEL', KEYS[1]); used = 0; healed = 1
  end
end
local cost = tonumber(ARGV[2])
if used + cost > tonumber(ARGV[1]) then return {0, used, healed} end
used = redis.call('INCRBY', KEYS[1], cost)
if used == cost then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
return {1, used, healed}
