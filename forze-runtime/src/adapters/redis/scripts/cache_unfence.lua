-- Puts back what a fence replaced, if that fence is still there (the write changed nothing).
-- KEYS[1] pointer key; KEYS[2] current key; ARGV[1] token; ARGV[2] the pointer before ('' for
-- none); ARGV[3] the current copy before ('' for none); ARGV[4] pointer ttl in ms; ARGV[5] body
-- ttl in ms
if redis.call('GET', KEYS[1]) ~= 'fence:' .. ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
end
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[5]) end
return 1
