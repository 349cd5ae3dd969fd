-- Follows a document cache pointer to its body in one round trip.
-- KEYS[1] pointer key; KEYS[2] body key prefix (the body is KEYS[2] .. '/' .. version)
local version = redis.call('GET', KEYS[1])
if not version then return false end
local body = redis.call('GET', KEYS[2] .. '/' .. version)
if not body then return false end
return {version, body}
