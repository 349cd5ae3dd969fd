-- Claims an idempotency key, or reports what holds it.
-- KEYS[1] record (hash: f = fingerprint, t = owner token, s = snapshot once committed)
-- ARGV[1] fingerprint; ARGV[2] token; ARGV[3] lease in ms
-- A value that is no record (another type, a hash without a fingerprint) holds no result: it
-- is treated as absent and replaced.
local r = redis.pcall('HMGET', KEYS[1], 'f', 't', 's')
if r.err then r = {} end
if not r[1] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'f', ARGV[1], 't', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'proceed'}
end
if r[1] ~= ARGV[1] then return {'mismatch'} end
if r[3] then return {'replay', r[3]} end
return {'in_progress'}
