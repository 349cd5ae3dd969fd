-- A weighted fixed-window check (cost > 1): admits only what fits, so that the counter never
-- passes the limit through a weighted call (calls of cost 1 count with a plain INCRBY).
-- KEYS[1] the window's counter; ARGV[1] limit; ARGV[2] cost; ARGV[3] expiry (unix ms)
-- Returns {allowed (0/1), units used after this call}
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[2])
if used + cost > tonumber(ARGV[1]) then return {0, used} end
used = redis.call('INCRBY', KEYS[1], cost)
if used == cost then redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
return {1, used}
