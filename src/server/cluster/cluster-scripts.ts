/** Lua scripts of the Redis cluster: runner leases (acquire, renew, release) and the scan for sessions whose runner is gone. */

/** KEYS[1] lease; ARGV nodeId, ttl. The lease's holder after the call (this node when it was free or already ours). */
export const ACQUIRE_LEASE = `
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return holder
`;

/** KEYS: leases; ARGV nodeId, ttl. Renews the ones this node holds; returns the 1-based indexes of those it no longer holds. */
export const RENEW_LEASES = `
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('PEXPIRE', key, ARGV[2]) else lost[#lost + 1] = i end
end
return lost
`;

/** KEYS[1] lease; ARGV nodeId. Deletes it only while this node holds it. */
export const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** KEYS[1] the set of sessions with unfinished turns; ARGV prefix. The ones nobody holds a lease on (their runner died or left). */
export const ORPHANED_SESSIONS = `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. 'lease:' .. id) == 0 and redis.call('EXISTS', ARGV[1] .. 's:' .. id .. ':rec') == 1 then
    out[#out + 1] = id
  end
end
return out
`;
