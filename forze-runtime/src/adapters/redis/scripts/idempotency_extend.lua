-- Renews the lease of the caller's uncommitted claim; only the claim's owner may.
-- KEYS[1] record; ARGV[1] token; ARGV[2] lease in ms
local r = redis.call('HMGET', KEYS[1], 't', 's')
if r[1] ~= ARGV[1] or r[2] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
