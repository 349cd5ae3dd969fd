-- Fences a versioned entry before its store is written: readers miss, and no re-warm is taken,
-- until the fencing writer's own write replaces the fence. Returns what it replaced.
-- KEYS[1] pointer key; KEYS[2] current key; ARGV[1] token; ARGV[2] pointer ttl in ms
local pointer = redis.call('GET', KEYS[1])
local current = redis.call('GET', KEYS[2])
redis.call('SET', KEYS[1], 'fence:' .. ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
return {pointer, current}
