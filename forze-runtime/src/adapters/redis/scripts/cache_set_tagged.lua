-- Stores an entry and records it in its tag sets, atomically.
-- KEYS[1] entry; KEYS[2..n] tag sets; ARGV[1] value; ARGV[2] ttl in ms
-- A tag set lives at least as long as its longest-lived entry. A tag key that holds no set
-- (another program's value) is treated as absent and replaced.
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 2, #KEYS do
  local added = redis.pcall('SADD', KEYS[i], KEYS[1])
  if type(added) == 'table' and added.err then
    redis.call('DEL', KEYS[i])
    redis.call('SADD', KEYS[i], KEYS[1])
  end
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  end
end
return 1
