-- Run when a begin found a value that is no record (`SET … NX GET` met another type, or a
-- string it cannot read): such a value holds no result, and is replaced by the caller's claim.
-- A hash from forze's earlier layout (f = fingerprint, t = token, s = snapshot) is rewritten in
-- the record format of `codec::idempotency` (restated here: kind, fingerprint length, `:`,
-- fingerprint, token or snapshot), keeping its expiry, and returned for the caller to read.
-- KEYS[1] record; ARGV[1] the caller's claim; ARGV[2] lease in ms; ARGV[3] the string seen
-- ('' when the value was of another type)
-- Returns {'claimed'} or {'seen', value}: the value now there, for the caller to read again.
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'hash' then
  local r = redis.call('HMGET', KEYS[1], 'f', 't', 's')
  if r[1] then
    local ttl = redis.call('PTTL', KEYS[1])
    local v
    if r[3] then
      v = 'd' .. #r[1] .. ':' .. r[1] .. r[3]
    else
      v = 'c' .. #r[1] .. ':' .. r[1] .. (r[2] or '')
    end
    redis.call('DEL', KEYS[1])
    if ttl > 0 then
      redis.call('SET', KEYS[1], v, 'PX', ttl)
    else
      redis.call('SET', KEYS[1], v)
    end
    return {'seen', v}
  end
elseif kind == 'string' then
  local v = redis.call('GET', KEYS[1])
  if v ~= ARGV[3] then return {'seen', v} end
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {'claimed'}
