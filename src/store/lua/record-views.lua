--[[
  Applies one batch of views, or one part of it, exactly once, and answers each group's
  numbers for the day. Built by recordViewsCall (record-views.ts); its test pins this layout.
  A call sends only the keys it writes, which keeps every key of a call in one slot: standalone,
  one call writes every key; in a cluster, each call writes the keys of one hash tag
  (record-parts.ts), and what an earlier call decided about a view (limited, new or returning)
  comes with the view. Each group's `present` marks which keys of its layout below are sent.

  KEYS[1]  writerProgress   the writer's highest batch number applied, and that call's answer
  KEYS[2]  visitLog         the visitor log (stream), or KEYS[1] when the call writes none
  then per (page, day) group, the keys its `present` marks of:
    viewsAllTime, viewsOnDay, uniquesOnDay, dayTable, referrersOnDay,
    then per rollup holding the day: its uniques, its referrers,
    then per UTC hour of the group's views: uniquesInUtcHour, viewsByQuarter and
    uniquesOnUtcDay of the hour's UTC day,
    then per view: visitorSummary (none unless a person's view), viewLimit (none when not limited)
  The page's keys from uniquesOnDay on share a hash tag: they are all written, or none.

  ARGV[1]  settings, JSON: seq (this batch's number), oldestUnconfirmed (the writer's oldest
           batch not confirmed to it: every one before was applied), strict (refuse a batch
           ahead of the next: true where one progress key sees every batch), progressTtl,
           summaryTtl (seconds), oldestLogId (ms: older log entries go), logCap, referrersKept,
           recentKept (log ids per visitor), viewLimit (views per address and minute, 0: none)
  ARGV[1 + g] group g's header and views, JSON: page, day, expireAt (unix seconds, of the day's
           keys), dayTableExpireAt, rollupExpireAt (one per rollup, as in KEYS), hourExpireAt
           (one per UTC hour, as in KEYS, of its three keys), present (a '1' or '0' per key of
           the group's layout: sent or not), views: a list of { kind, visitor, time (ms, a
           string), ip, userAgent, referrer, hour (its UTC hour's place in hourExpireAt),
           quarter (its UTC quarter hour's field, HH:MM), decided (an outcome an earlier call
           gave it, or ''), returning ('1' for a returning visitor's 'n' or 'd') } as arrays, in
           that order; visitor and referrer are '' unless the call writes the view's summary or
           its page's uniques, ip and userAgent unless it writes its summary.

  A view's kind is 'h' (a person), 'b' (a bot or prefetch) or 'p' (a person asking not to be
  tracked): all three count as views; only a person's goes to the uniques and the visitor log.
  A view's UTC hour and quarter get the same counts as its day, in this same call, so a batch
  applied once counts once in them too.

  Returns { applied (1 or 0), then per group: views, uniques (-1 when the key isn't this call's),
  outcomes, returning }, where outcomes has a letter per view: 'n' the visitor's first view of
  the page today, 'd' a later one, 'b', 'p', 'h' (a person's view not yet decided), or 'l' (over
  the limit: not counted), and returning a '1' or '0' per view. Only a batch after the progress
  is applied; the last one applied answers again what it answered then, an older one only
  reads (its outcomes are ''). Strict, a batch further ahead than the next is refused with
  OUT_OF_ORDER, to be sent again after the batches before it.
]]

local SETTINGS = { 'seq', 'oldestUnconfirmed', 'strict', 'progressTtl', 'summaryTtl', 'oldestLogId', 'logCap', 'referrersKept', 'recentKept', 'viewLimit' }
local GROUP = { 'page', 'day', 'expireAt', 'dayTableExpireAt', 'rollupExpireAt', 'hourExpireAt', 'present', 'views' }
local KEYS_PER_GROUP, KEYS_PER_ROLLUP, KEYS_PER_HOUR, KEYS_PER_VIEW = 5, 2, 3, 2

-- A field the caller left out is a layout mismatch between this script and its builder: say which.
local function decoded (text, fields, what)
  local value = cjson.decode(text)
  for _, name in ipairs(fields) do
    if value[name] == nil then error('LAYOUT ' .. what .. ' lacks "' .. name .. '"') end
  end
  return value
end

local settings = decoded(ARGV[1], SETTINGS, 'settings')
-- A key not this call's to write.
local NONE = KEYS[1]
-- The keys by their place in the layout, NONE where a key is not sent: filled as the groups are read.
local K = { KEYS[1], KEYS[2] }
local limit, keepReferrers, keepRecent = tonumber(settings.viewLimit), tonumber(settings.referrersKept), tonumber(settings.recentKept)

-- The limit counts every view of one address in one minute, across pages and instances.
local function overLimit (limiter)
  if limit == 0 or limiter == NONE then return false end
  local used = redis.call('INCR', limiter)
  if used == 1 then redis.call('EXPIRE', limiter, 60) end
  return used > limit
end

-- A person's view: their summary, and an entry in the visitor log. Answers 'n' for the
-- visitor's first view of the page that day, else 'd', and whether they are returning: first
-- seen on an earlier day (the one meaning of "returning", in the log and the day's numbers).
local function updateSummary (summary, page, day, visit)
  local visitor, time, ip, agent, referrer = visit[2], visit[3], visit[4], visit[5], visit[6]
  local known = redis.call('HMGET', summary, 'firstDay', 'day:' .. page, 'recent', 'visits')
  local returning = (known[1] or day) ~= day
  local entry = redis.call('XADD', KEYS[2], 'MAXLEN', '~', settings.logCap, '*', 'time', time, 'visitor', visitor, 'page', page, 'returning', returning and '1' or '0', 'ip', ip, 'userAgent', agent, 'referrer', referrer)
  if known[1] then
    -- The ids of the latest visits live in the summary: no key of their own.
    local recent = known[3] and entry .. ' ' .. known[3] or entry
    local _, spaces = string.gsub(recent, ' ', ' ')
    for _ = keepRecent, spaces do recent = string.match(recent, '^(.*) ') end
    redis.call('HSET', summary, 'day:' .. page, day, 'last', time, 'recent', recent, 'visits', (tonumber(known[4]) or 0) + 1)
  else
    redis.call('HSET', summary, 'first', time, 'firstDay', day, 'day:' .. page, day, 'last', time, 'visits', 1, 'recent', entry)
  end
  redis.call('EXPIRE', summary, settings.summaryTtl)
  -- The summary knows exactly whether the visitor saw this page today; PFADD's answer doesn't:
  -- on a busy day most new ids change no register of the HyperLogLog.
  return known[2] ~= day and 'n' or 'd', returning
end

-- A referrer key gets a group's counts at once, then is cut back to the top ones.
local function addReferrers (key, counts, expireAt)
  for referrer, count in pairs(counts) do redis.call('ZINCRBY', key, count, referrer) end
  if redis.call('ZCARD', key) > keepReferrers then redis.call('ZREMRANGEBYRANK', key, 0, -keepReferrers - 1) end
  redis.call('EXPIREAT', key, expireAt)
end

-- A group's people and referrers go to the day's keys and to every rollup that holds the day.
local function addToRollups (k, group, people, referred)
  local keysOf = { { K[k + 2], K[k + 4], group.expireAt } }
  for r, expireAt in ipairs(group.rollupExpireAt) do
    keysOf[#keysOf + 1] = { K[k + KEYS_PER_GROUP + (r - 1) * KEYS_PER_ROLLUP], K[k + KEYS_PER_GROUP + (r - 1) * KEYS_PER_ROLLUP + 1], expireAt }
  end
  for _, run in ipairs(keysOf) do
    if #people > 0 then
      redis.call('PFADD', run[1], unpack(people))
      redis.call('EXPIREAT', run[1], run[3])
    end
    if next(referred) ~= nil then addReferrers(run[2], referred, run[3]) end
  end
end

-- The day table's field for the day: six numbers, summed with the group's tally.
local function addToDayTable (k, group, tally, people)
  local dayTable, dd = K[k + 3], string.sub(group.day, 9, 10)
  local counts = {}
  for number in string.gmatch(redis.call('HGET', dayTable, dd) or '0 0 0 0 0 0', '%d+') do counts[#counts + 1] = tonumber(number) end
  counts[1] = counts[1] + tally.counted
  if #people > 0 then counts[2] = redis.call('PFCOUNT', K[k + 2]) end
  counts[3], counts[4] = counts[3] + tally.new, counts[4] + tally.returning
  counts[5], counts[6] = counts[5] + tally.bots, counts[6] + tally.limited
  redis.call('HSET', dayTable, dd, table.concat(counts, ' '))
  redis.call('EXPIREAT', dayTable, group.dayTableExpireAt)
end

-- Each UTC hour's quarters get their views, bots and limited views; its hour and its UTC day
-- the visitors. hours[h] is { quarters = { [HH:MM] = { views, bots, limited } }, people }.
local function addToHours (k, group, hours)
  for h, expireAt in ipairs(group.hourExpireAt) do
    local hourUniques, quarters, dayUniques = K[k + (h - 1) * KEYS_PER_HOUR], K[k + (h - 1) * KEYS_PER_HOUR + 1], K[k + (h - 1) * KEYS_PER_HOUR + 2]
    for quarter, added in pairs(hours[h].quarters) do
      local counts, c = {}, 1
      for number in string.gmatch(redis.call('HGET', quarters, quarter) or '0 0 0', '%d+') do
        counts[c] = tonumber(number) + added[c]
        c = c + 1
      end
      redis.call('HSET', quarters, quarter, table.concat(counts, ' '))
    end
    redis.call('EXPIREAT', quarters, expireAt)
    if #hours[h].people > 0 then
      for _, key in ipairs({ hourUniques, dayUniques }) do
        redis.call('PFADD', key, unpack(hours[h].people))
        redis.call('EXPIREAT', key, expireAt)
      end
    end
  end
end

-- Counts one group's views (its keys from K[k]); answers their outcomes and returning flags.
local function countViews (k, group, firstView)
  local tally = { counted = 0, limited = 0, bots = 0, new = 0, returning = 0 }
  local outcomes, returnings, people, referred, hours = {}, {}, {}, {}, {}
  for h = 1, #group.hourExpireAt do hours[h] = { quarters = {}, people = {} } end
  for v, visit in ipairs(group.views) do
    local summary, limiter = K[firstView + (v - 1) * KEYS_PER_VIEW], K[firstView + (v - 1) * KEYS_PER_VIEW + 1]
    local hour = hours[visit[7]]
    local quarter = hour.quarters[visit[8]] or { 0, 0, 0 }
    hour.quarters[visit[8]] = quarter
    local outcome, returning = visit[9] ~= '' and visit[9] or visit[1], visit[10] == '1'
    if overLimit(limiter) then outcome = 'l' end
    if outcome == 'h' and summary ~= NONE then outcome, returning = updateSummary(summary, group.page, group.day, visit) end
    if outcome == 'l' then
      tally.limited = tally.limited + 1
      quarter[3] = quarter[3] + 1
    else
      tally.counted = tally.counted + 1
      quarter[1] = quarter[1] + 1
      if outcome == 'b' then
        tally.bots = tally.bots + 1
        quarter[2] = quarter[2] + 1
      end
    end
    if outcome == 'n' or outcome == 'd' then
      people[#people + 1] = visit[2]
      hour.people[#hour.people + 1] = visit[2]
      -- New and returning count each visitor once per page and day.
      if outcome == 'n' then
        local kind = returning and 'returning' or 'new'
        tally[kind] = tally[kind] + 1
      end
      if visit[6] ~= '' then referred[visit[6]] = (referred[visit[6]] or 0) + 1 end
    end
    outcomes[#outcomes + 1] = outcome
    returnings[#returnings + 1] = returning and '1' or '0'
  end
  if tally.counted > 0 then
    if K[k] ~= NONE then redis.call('INCRBY', K[k], tally.counted) end
    if K[k + 1] ~= NONE then
      redis.call('INCRBY', K[k + 1], tally.counted)
      redis.call('EXPIREAT', K[k + 1], group.expireAt)
    end
  end
  if K[k + 2] ~= NONE then
    addToRollups(k, group, people, referred)
    addToDayTable(k, group, tally, people)
    addToHours(k + KEYS_PER_GROUP + #group.rollupExpireAt * KEYS_PER_ROLLUP, group, hours)
  end
  return table.concat(outcomes), table.concat(returnings)
end

-- Every group is read and checked before anything is written: a script that fails halfway keeps its writes.
local groups, k, sent = {}, 3, 3
for g = 2, #ARGV do
  local group = decoded(ARGV[g], GROUP, 'group ' .. (g - 1))
  group.firstKey = k
  group.firstView = k + KEYS_PER_GROUP + #group.rollupExpireAt * KEYS_PER_ROLLUP + #group.hourExpireAt * KEYS_PER_HOUR
  local places = group.firstView - k + #group.views * KEYS_PER_VIEW
  if #group.present ~= places then error('LAYOUT group ' .. (g - 1) .. ' has ' .. places .. ' keys, its present marks ' .. #group.present) end
  for place = 1, places do
    if string.sub(group.present, place, place) == '1' then
      K[k] = KEYS[sent]
      sent = sent + 1
    else
      K[k] = NONE
    end
    k = k + 1
  end
  groups[#groups + 1] = group
end
if sent - 1 ~= #KEYS then error('LAYOUT the groups need ' .. (sent - 1) .. ' keys, got ' .. #KEYS) end

local seq, progress = tonumber(settings.seq), redis.call('GET', KEYS[1])
-- The progress key holds the batch number, then what its call answered: '<seq>|<outcomes>/<returning>|…'.
local answered = progress and string.match(progress, '^%d+|(.*)$')
-- No progress: the writer is new, or was idle past the key's TTL, or the key was lost.
progress = progress and tonumber(string.match(progress, '^%d+')) or tonumber(settings.oldestUnconfirmed) - 1
if settings.strict and seq > progress + 1 then
  return redis.error_reply('OUT_OF_ORDER batch ' .. seq .. ' came before batch ' .. (progress + 1))
end
local applied = seq > progress
local before = {}
if seq == progress and answered then
  for outcomes, returning in string.gmatch(answered, '([^|/]*)/([^|]*)') do before[#before + 1] = { outcomes, returning } end
end

local result, kept = { applied and 1 or 0 }, {}
for g, group in ipairs(groups) do
  local outcomes, returning = '', ''
  if applied then
    outcomes, returning = countViews(group.firstKey, group, group.firstView)
    kept[#kept + 1] = outcomes .. '/' .. returning
  elseif before[g] then
    outcomes, returning = before[g][1], before[g][2]
  end
  result[#result + 1] = K[group.firstKey + 1] == NONE and -1 or tonumber(redis.call('GET', K[group.firstKey + 1]) or '0')
  result[#result + 1] = K[group.firstKey + 2] == NONE and -1 or redis.call('PFCOUNT', K[group.firstKey + 2])
  result[#result + 1] = outcomes
  result[#result + 1] = returning
end
if applied then
  redis.call('SET', KEYS[1], seq .. '|' .. table.concat(kept, '|'), 'EX', settings.progressTtl)
  -- Exact, not '~': an approximate trim keeps old entries while they share a node with new ones.
  if KEYS[2] ~= NONE then redis.call('XTRIM', KEYS[2], 'MINID', settings.oldestLogId) end
end
return result
