-- Fences a versioned entry before its store is written: one writer more in flight; readers
-- miss, and no re-warm is taken, until the last writer installs the newest version written.
-- Returns what it replaced.
-- KEYS[1] pointer key; KEYS[2] current key; ARGV[1] pointer ttl in ms
local pointer = redis.call('GET', KEYS[1])
local current = redis.call('GET', KEYS[2])
local w, n, d = 0, '0', '0'
if pointer then
  local fw, fn, fd = string.match(pointer, '^fence:(%d+):(%d+):([01])$')
  if fw then w, n, d = tonumber(fw), fn, fd end
end
redis.call('SET', KEYS[1], 'fence:' .. (w + 1) .. ':' .. n .. ':' .. d, 'PX', ARGV[1])
redis.call('DEL', KEYS[2])
return {pointer, current}
