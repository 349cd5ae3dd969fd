-- Turns the caller's claim into a snapshot; only the claim's owner may.
-- KEYS[1] record; ARGV[1] token; ARGV[2] snapshot; ARGV[3] ttl in ms
local r = redis.call('HMGET', KEYS[1], 't', 's')
if r[1] ~= ARGV[1] or r[2] then return 0 end
redis.call('HSET', KEYS[1], 's', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
