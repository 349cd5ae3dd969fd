-- Stores an entry and records it in its tag sets, atomically.
-- KEYS[1] entry; KEYS[2..n] tag sets; ARGV[1] value; ARGV[2] ttl in ms
-- A tag set lives at least as long as its longest-lived entry.
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  end
end
return 1
