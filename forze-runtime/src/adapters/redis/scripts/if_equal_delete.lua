-- Deletes a value its owner holds: a lock's token, an idempotency claim. (Where the server has
-- it, `DELIFEQ key value` or `DELEX key IFEQ value` does the same without a script.)
-- KEYS[1] key; ARGV[1] the owner's value
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
