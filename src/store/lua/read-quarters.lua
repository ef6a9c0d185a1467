--[[
  Reads a page's quarter-hour tables (viewsByQuarter) of consecutive UTC days in one call.
  Built by spanReads (read-zone.ts).

  KEYS     the tables, one per UTC day
  ARGV     none

  Returns each table as one string of its fields and values joined by commas
  ('HH:MM,views bots limited,...'): one reply string per day, as read-range.lua answers its
  day tables, because many small replies cost more than the reads.
]]

local tables = {}
for t = 1, #KEYS do tables[t] = table.concat(redis.call('HGETALL', KEYS[t]), ',') end
return tables
