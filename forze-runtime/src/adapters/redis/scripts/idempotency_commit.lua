-- Turns the caller's claim into a snapshot: when the claim is still its own, or has lapsed
-- with nobody else holding the key (the owner holds the only result).
-- KEYS[1] record; ARGV[1] token; ARGV[2] snapshot; ARGV[3] ttl in ms; ARGV[4] fingerprint
local r = redis.call('HMGET', KEYS[1], 'f', 't', 's')
if r[1] and (r[2] ~= ARGV[1] or r[3]) then return 0 end
redis.call('HSET', KEYS[1], 'f', ARGV[4], 't', ARGV[1], 's', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
