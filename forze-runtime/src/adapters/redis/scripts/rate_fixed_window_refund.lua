-- Gives back the units of a denied fixed-window check (only when the window's counter still
-- exists: a counter that expired is never re-created without a TTL).
-- KEYS[1] the window's counter; ARGV[1] units
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('DECRBY', KEYS[1], ARGV[1])
end
return 0
