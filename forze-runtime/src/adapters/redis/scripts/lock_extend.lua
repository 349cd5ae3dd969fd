-- KEYS[1] lock; ARGV[1] token; ARGV[2] lease in ms
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
