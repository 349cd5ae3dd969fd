-- Stores one version's body, moves the pointer to it (never backwards) and stores the entry's
-- current copy, which a read gets with a plain GET.
-- KEYS[1] pointer key; KEYS[2] body key of this version; KEYS[3] current key
-- ARGV[1] version (decimal); ARGV[2] the current copy, `{version}:{body}` as the client encoded
-- it; ARGV[3] body ttl in ms; ARGV[4] pointer ttl in ms (longer than the bodies', so that an
-- expired body cannot let an older writer back in while a newer body is still being read);
-- ARGV[5] where the body starts in ARGV[2] (0-based)
local current = tonumber(redis.call('GET', KEYS[1]) or '')
if current and current > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[2], string.sub(ARGV[2], tonumber(ARGV[5]) + 1), 'PX', ARGV[3])
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
return 1
