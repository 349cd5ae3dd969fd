-- Leaves a fence after a write that changed nothing: one writer fewer; the last one out puts
-- back what its fence replaced when nobody wrote meanwhile, or points at the newest version
-- written.
-- KEYS[1] pointer key; KEYS[2] current key; ARGV[1] the pointer before ('' for none); ARGV[2]
-- the current copy before ('' for none); ARGV[3] pointer ttl in ms; ARGV[4] body ttl in ms
local p = redis.call('GET', KEYS[1])
if not p then return 0 end
local w, n, d = string.match(p, '^fence:(%d+):(%d+):([01])$')
if not w then return 0 end
w, n = tonumber(w) - 1, tonumber(n)
if w > 0 then
  redis.call('SET', KEYS[1], 'fence:' .. w .. ':' .. string.format('%d', n) .. ':' .. d, 'PX', ARGV[3])
elseif n > 0 then
  redis.call('SET', KEYS[1], (d == '1' and 't' or '') .. string.format('%d', n), 'PX', ARGV[3])
else
  if ARGV[1] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) end
  if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4]) end
end
return 1
