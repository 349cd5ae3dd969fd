-- Deletes every entry recorded in the tag sets, and the sets, atomically.
-- KEYS[1..n] tag sets. Returns the number of entries that existed. A tag key that holds no set
-- (another program's value) records no entry: it is deleted.
local removed = 0
for i = 1, #KEYS do
  local members = redis.pcall('SMEMBERS', KEYS[i])
  if members.err then members = {} end
  for j = 1, #members, 500 do
    removed = removed + redis.call('DEL', unpack(members, j, math.min(j + 499, #members)))
  end
  redis.call('DEL', KEYS[i])
end
return removed
