-- Refreshes this node's heartbeat and sweeps nodes whose heartbeat expired. Returns
-- `{was this node known, [users who went offline]}`.
-- KEYS: 1 the sorted set of node heartbeats, 2 the set of users online anywhere
-- ARGV: 1 node id, 2 expiry (ms), 3 the channel for online-set changes, 4 key prefix
-- At most 8 dead nodes per call; the rest at the next heartbeat.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local known = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local offline = {}
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, 8)
for _, node in ipairs(dead) do
  local members = ARGV[4] .. 'node:' .. node
  for _, user in ipairs(redis.call('SMEMBERS', members)) do
    local hash = ARGV[4] .. 'user:' .. user
    redis.call('HDEL', hash, node)
    if redis.call('HLEN', hash) == 0 then
      redis.call('SREM', KEYS[2], user)
      redis.call('PUBLISH', ARGV[3], '-' .. user)
      table.insert(offline, user)
    end
  end
  redis.call('DEL', members)
  redis.call('ZREM', KEYS[1], node)
end
if known then return {1, offline} end
return {0, offline}
