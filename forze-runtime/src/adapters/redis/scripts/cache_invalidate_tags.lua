-- Deletes every entry recorded in the tag sets, and the sets, atomically.
-- KEYS[1..n] tag sets; ARGV[1] "k" to list the keys. Returns the number of entries that existed
-- or, listing, {that number, every key the sets recorded...}. A tag key that holds no set
-- (another program's value) records no entry: it is deleted.
local list = ARGV[1] == 'k'
local removed = 0
local keys = {}
for i = 1, #KEYS do
  local members = redis.pcall('SMEMBERS', KEYS[i])
  if members.err then members = {} end
  for j = 1, #members, 500 do
    removed = removed + redis.call('DEL', unpack(members, j, math.min(j + 499, #members)))
  end
  if list then
    for j = 1, #members do keys[#keys + 1] = members[j] end
  end
  redis.call('DEL', KEYS[i])
end
if list then
  table.insert(keys, 1, removed)
  return keys
end
return removed
