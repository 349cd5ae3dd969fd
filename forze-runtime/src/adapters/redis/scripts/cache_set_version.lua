-- Stores one version's body, moves the pointer to it and stores the entry's current copy,
-- which a read gets with a plain GET — when the writer may (VersionWrite::may_replace in
-- ports/cache.rs states the same rule): a reader never over a fence or a newer version; the
-- fencing writer over its own fence; a creator over a deletion of any version.
-- KEYS[1] pointer key; KEYS[2] body key of this version; KEYS[3] current key
-- ARGV[1] version (decimal); ARGV[2] the current copy, `{version}:{body}` as the client encoded
-- it; ARGV[3] body ttl in ms; ARGV[4] pointer ttl in ms (longer than the bodies', so that an
-- expired body cannot let an older writer back in while a newer body is still being read);
-- ARGV[5] where the body starts in ARGV[2] (0-based); ARGV[6] who writes: 'r' a reader, 'f' the
-- fencing writer, 'c' a creator; ARGV[7] the fence token ('f'); ARGV[8] the pointer's new value
local p = redis.call('GET', KEYS[1])
if p then
  local fence = string.match(p, '^fence:(.+)$')
  if fence then
    if not (ARGV[6] == 'f' and fence == ARGV[7]) then return 0 end
  else
    local deleted = string.sub(p, 1, 1) == 't'
    local n = tonumber(deleted and string.sub(p, 2) or p)
    if n and not (ARGV[6] == 'c' and deleted) and n > tonumber(ARGV[1]) then return 0 end
  end
end
redis.call('SET', KEYS[2], string.sub(ARGV[2], tonumber(ARGV[5]) + 1), 'PX', ARGV[3])
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[1], ARGV[8], 'PX', ARGV[4])
return 1
