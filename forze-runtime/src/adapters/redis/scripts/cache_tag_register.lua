-- Records that a tag has entries in a hash slot (Redis Cluster), before they are written there.
-- KEYS[1] the tag's set of slots; ARGV[1] the slot; ARGV[2] ttl in ms.
-- The set lives at least as long as the tag's longest-lived entry. A key that holds no set
-- (another program's value) is replaced.
local ttl = tonumber(ARGV[2])
local added = redis.pcall('SADD', KEYS[1], ARGV[1])
if type(added) == 'table' and added.err then
  redis.call('DEL', KEYS[1])
  redis.call('SADD', KEYS[1], ARGV[1])
end
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
