-- Renews the expiry of a value its owner holds: a lock's token, an idempotency claim. (Where
-- the server has it, `SET key value IFEQ value PX ms` does the same without a script.)
-- KEYS[1] key; ARGV[1] the owner's value; ARGV[2] expiry in ms
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
