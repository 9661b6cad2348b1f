-- Writes one node's count for one user (0 removes it), after checking the limit
-- against the live nodes' counts when a limit is given. Returns `{admitted, change}`,
-- change 1 = came online, -1 = went offline, 0 = neither.
-- KEYS: 1 the user's hash (node -> count), 2 this node's set of users, 3 the set of
--       users online anywhere, 4 the sorted set of node heartbeats (node -> expiry, ms)
-- ARGV: 1 node id, 2 user id, 3 this node's count for the user, 4 the per-user limit
--       (0: none), 5 the channel for online-set changes
local count = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local before = redis.call('HLEN', KEYS[1])
if limit > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local others = 0
  local fields = redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    if fields[i] ~= ARGV[1] then
      local expiry = redis.call('ZSCORE', KEYS[4], fields[i])
      if expiry and tonumber(expiry) >= now then others = others + tonumber(fields[i + 1]) end
    end
  end
  if others + count > limit then return {0, 0} end
end
if count > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], count)
  redis.call('SADD', KEYS[2], ARGV[2])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
local after = redis.call('HLEN', KEYS[1])
if before == 0 and after > 0 then
  redis.call('SADD', KEYS[3], ARGV[2])
  redis.call('PUBLISH', ARGV[5], '+' .. ARGV[2])
  return {1, 1}
elseif before > 0 and after == 0 then
  redis.call('SREM', KEYS[3], ARGV[2])
  redis.call('PUBLISH', ARGV[5], '-' .. ARGV[2])
  return {1, -1}
end
return {1, 0}
