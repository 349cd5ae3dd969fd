-- Writes one version of a versioned entry as VersionWrite::decide (ports/cache.rs) says — the
-- same rule, stated again here: a reader never over a fence or a newer version; a creator over
-- a deletion of any version; a writer that fenced the entry counts itself out of the fence and
-- records its version, and the last writer in flight installs the newest version written (or,
-- if that is not its own, points at it and leaves the current copy to the next reader).
-- KEYS[1] pointer key; KEYS[2] body key of this version; KEYS[3] current key
-- ARGV[1] version (decimal); ARGV[2] the current copy, `{version}:{body}` as the client encoded
-- it; ARGV[3] body ttl in ms; ARGV[4] pointer ttl in ms (longer than the bodies', so that an
-- expired body cannot let an older writer back in while a newer body is still being read);
-- ARGV[5] where the body starts in ARGV[2] (0-based); ARGV[6] who writes: 'r' a reader, 'f' a
-- fencing writer, 'c' a creator; ARGV[7] '1' when this version is a deletion
-- Returns 1 when this version is now current.
local v = tonumber(ARGV[1])
local mine = (ARGV[7] == '1' and 't' or '') .. ARGV[1]
local function body() redis.call('SET', KEYS[2], string.sub(ARGV[2], tonumber(ARGV[5]) + 1), 'PX', ARGV[3]) end
local function install()
  body()
  redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
  redis.call('SET', KEYS[1], mine, 'PX', ARGV[4])
  return 1
end
local p = redis.call('GET', KEYS[1])
if not p then return install() end
if string.sub(p, 1, 6) == 'fence:' then
  if ARGV[6] ~= 'f' then return 0 end
  local w, n, d = string.match(p, '^fence:(%d+):(%d+):([01])$')
  w, n = tonumber(w) or 1, tonumber(n) or 0
  if v >= n then n, d = v, ARGV[7] end
  local left = w - 1
  if left <= 0 and n == v then return install() end
  body()
  if left <= 0 then
    redis.call('SET', KEYS[1], (d == '1' and 't' or '') .. string.format('%d', n), 'PX', ARGV[4])
  else
    redis.call('SET', KEYS[1], 'fence:' .. left .. ':' .. string.format('%d', n) .. ':' .. d, 'PX', ARGV[4])
  end
  return 0
end
local deleted = string.sub(p, 1, 1) == 't'
local n = tonumber(deleted and string.sub(p, 2) or p)
if not n or (ARGV[6] == 'c' and deleted) or n <= v then return install() end
return 0
