-- Turns the caller's claim into its committed record: when the key still holds the claim, or
-- holds nothing (the claim lapsed and nobody took the key: the owner holds the only result).
-- (Where the server has it: `SET key record IFEQ claim PX ttl`, then `SET … NX` after a lapse.)
-- A key that already holds this very record (the commit sent again after a dropped connection)
-- is committed.
-- KEYS[1] record; ARGV[1] the caller's claim; ARGV[2] the committed record; ARGV[3] ttl in ms
local v = redis.pcall('GET', KEYS[1])
if type(v) == 'table' then return 0 end
if v == ARGV[2] then return 1 end
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
