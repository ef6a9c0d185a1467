--[[
  Reads a page's numbers over a range of days in one round trip. Built by readRangeCall
  (read-range.ts).

  KEYS     first the day tables of the range's months (ARGV[2] of them), then the uniques of
           each run that covers the range (rollups and single days), then those runs' referrers
  ARGV[1]  topReferrers   how many referrers to answer
  ARGV[2]  dayTables      how many of KEYS are day tables

  Returns { the union of the runs' uniques, each day table as one string of its fields and
  values joined by commas (one reply string per month: many small replies cost more than the
  reads), the top referrers as a flat { referrer, views, ... } list, most frequent first }.
]]

local tableCount = tonumber(ARGV[2])
local runs = (#KEYS - tableCount) / 2

local tables = {}
for t = 1, tableCount do tables[t] = table.concat(redis.call('HGETALL', KEYS[t]), ',') end

local uniqueKeys, zunion = {}, { 'ZUNION', runs }
for r = 1, runs do
  uniqueKeys[r] = KEYS[tableCount + r]
  zunion[#zunion + 1] = KEYS[tableCount + runs + r]
end
zunion[#zunion + 1] = 'WITHSCORES'

local merged = redis.call(unpack(zunion))
local top = {}
for i = #merged - 1, math.max(1, #merged - 2 * tonumber(ARGV[1]) + 1), -2 do
  top[#top + 1] = merged[i]
  top[#top + 1] = tonumber(merged[i + 1])
end
return { redis.call('PFCOUNT', unpack(uniqueKeys)), tables, top }
