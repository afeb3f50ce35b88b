/** The Lua scripts of the Redis store: each store call is one script, so Redis applies it atomically (F10) and a retry is idempotent. */

/*
 * Keys of one session (built by `sessionKeys`): KEYS[1] record (string, the
 * SessionRecord JSON), KEYS[2] log (stream, entry id `<seq>-0`, field `e` =
 * the event JSON), KEYS[3] turns (hash turnId → TurnRecord JSON), KEYS[4] the
 * session's unfinished turn ids (set), KEYS[5] the store-wide sorted set of
 * sessions (score = last touch, ms), KEYS[6] the store-wide set of sessions
 * that have unfinished turns.
 *
 * Stream ids are derived from `seq` (`<seq>-0`): Redis itself refuses an id
 * that is not above the last one, a reader resumes with `XRANGE (<after>-0`,
 * and the append script refuses a gap — so `seq` stays contiguous from 1
 * whichever process appends, and a writer that lost its turn lease cannot
 * slip an event in (the `fence` check below).
 */

/** Touch every key of a session with the TTL (ARGV ttl ms, 0 = keep forever) and the sessions index. */
const TOUCH = `
local function touch(ttl, now, id)
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[1], ttl)
    redis.call('PEXPIRE', KEYS[2], ttl)
    redis.call('PEXPIRE', KEYS[3], ttl)
    redis.call('PEXPIRE', KEYS[4], ttl)
  end
  redis.call('ZADD', KEYS[5], now, id)
end
`;

/**
 * ARGV: ttl, now, sessionId, recordJson, publish channel ('' = none). The
 * record is published as `{"record":…}` on the session's channel in the same
 * atomic step, so the nodes following the session apply a share at once.
 */
export const SAVE_SESSION = `${TOUCH}
redis.call('SET', KEYS[1], ARGV[4])
touch(tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
if ARGV[5] and ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], '{"record":' .. ARGV[4] .. '}') end
return 1
`;

/**
 * ARGV: ttl, now, sessionId, maxEvents, fence key ('' = none), fence value,
 * publish channel ('' = none), then seq/json pairs. Events at or below the
 * last stored seq are skipped (a retry after an unknown outcome); an event
 * that would leave a gap is an error. Retention is exact: `XTRIM MAXLEN`.
 * The stored events are published as one JSON array on the channel, in the
 * same atomic step, so a live reader never sees an event that is not stored.
 */
export const APPEND_EVENTS = `${TOUCH}
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('ERR agent-tether: unknown session') end
if ARGV[5] ~= '' and redis.call('GET', ARGV[5]) ~= ARGV[6] then
  return redis.error_reply('ERR agent-tether: lease lost')
end
local last = 0
local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if #top > 0 then last = tonumber(string.match(top[1][1], '^(%d+)')) end
local added = {}
for i = 8, #ARGV, 2 do
  local seq = tonumber(ARGV[i])
  if seq > last then
    if seq ~= last + 1 then
      return redis.error_reply('ERR agent-tether: seq gap (stored ' .. last .. ', got ' .. seq .. ')')
    end
    redis.call('XADD', KEYS[2], seq .. '-0', 'e', ARGV[i + 1])
    added[#added + 1] = ARGV[i + 1]
    last = seq
  end
end
redis.call('XTRIM', KEYS[2], 'MAXLEN', tonumber(ARGV[4]))
touch(tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
if ARGV[7] ~= '' and #added > 0 then
  redis.call('PUBLISH', ARGV[7], '[' .. table.concat(added, ',') .. ']')
end
return last
`;

/**
 * ARGV: ttl, now, sessionId, turnId, turnJson, finished ('1' | '0'), fence key
 * ('' = none), fence value. Fenced like appends: a runner that lost the
 * session's lease cannot overwrite the turn records of the node that took
 * it over (a record ahead of the log would read as lost history).
 */
export const SAVE_TURN = `${TOUCH}
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('ERR agent-tether: unknown session') end
if ARGV[7] and ARGV[7] ~= '' and redis.call('GET', ARGV[7]) ~= ARGV[8] then
  return redis.error_reply('ERR agent-tether: lease lost')
end
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
if ARGV[6] == '1' then
  redis.call('SREM', KEYS[4], ARGV[4])
else
  redis.call('SADD', KEYS[4], ARGV[4])
  redis.call('SADD', KEYS[6], ARGV[3])
end
touch(tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
return 1
`;

/** ARGV: ttl, now, sessionId, maxEvents. Returns false, or {record, {turn...}, {event...} newest first}: one consistent snapshot. */
export const LOAD_SESSION = `${TOUCH}
local record = redis.call('GET', KEYS[1])
if not record then return false end
local turns = redis.call('HVALS', KEYS[3])
local entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', tonumber(ARGV[4]))
local events = {}
for i = 1, #entries do events[i] = entries[i][2][2] end
touch(tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
return {record, turns, events}
`;

/** ARGV: sessionId. Forgets the session's keys, its unfinished turns and its index entry. */
export const DELETE_SESSION = `
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('SREM', KEYS[6], ARGV[1])
return 1
`;

/**
 * ARGV: now, ttl, prefix. Every (sessionId, turnId) saved without a terminal,
 * as a flat list; sessions that expired or have none left leave the index.
 */
export const UNFINISHED_TURNS = `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local base = ARGV[3] .. 's:' .. id
  local turns = {}
  if redis.call('EXISTS', base .. ':rec') == 1 then turns = redis.call('SMEMBERS', base .. ':unf') end
  if #turns == 0 then redis.call('SREM', KEYS[1], id) end
  for _, turn in ipairs(turns) do
    out[#out + 1] = id
    out[#out + 1] = turn
  end
end
return out
`;

/** ARGV: expired-before (ms, or -1 for never). Drops index entries of expired sessions and counts the rest. */
export const COUNT_SESSIONS = `
if tonumber(ARGV[1]) >= 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1]) end
return redis.call('ZCARD', KEYS[1])
`;
