-- Deletes every entry recorded in the tag sets, and the sets, atomically.
-- KEYS[1..n] tag sets. Returns the number of entries that existed.
local removed = 0
for i = 1, #KEYS do
  local members = redis.call('SMEMBERS', KEYS[i])
  for j = 1, #members, 500 do
    removed = removed + redis.call('DEL', unpack(members, j, math.min(j + 499, #members)))
  end
  redis.call('DEL', KEYS[i])
end
return removed
