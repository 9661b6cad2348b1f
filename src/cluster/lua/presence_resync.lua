-- Makes Redis hold exactly this node's counts (ARGV[4..]: user, count pairs). Returns
-- `{[users who came online], [users who went offline]}`.
-- KEYS: 1 this node's set of users, 2 the set of users online anywhere
-- ARGV: 1 node id, 2 the channel for online-set changes, 3 key prefix, then pairs
local keep = {}
for i = 4, #ARGV, 2 do keep[ARGV[i]] = true end
local online, offline = {}, {}
for _, user in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not keep[user] then
    local hash = ARGV[3] .. 'user:' .. user
    redis.call('HDEL', hash, ARGV[1])
    redis.call('SREM', KEYS[1], user)
    if redis.call('HLEN', hash) == 0 then
      redis.call('SREM', KEYS[2], user)
      redis.call('PUBLISH', ARGV[2], '-' .. user)
      table.insert(offline, user)
    end
  end
end
for i = 4, #ARGV, 2 do
  local hash = ARGV[3] .. 'user:' .. ARGV[i]
  local before = redis.call('HLEN', hash)
  redis.call('HSET', hash, ARGV[1], ARGV[i + 1])
  redis.call('SADD', KEYS[1], ARGV[i])
  if before == 0 then
    redis.call('SADD', KEYS[2], ARGV[i])
    redis.call('PUBLISH', ARGV[2], '+' .. ARGV[i])
    table.insert(online, ARGV[i])
  end
end
return {online, offline}
