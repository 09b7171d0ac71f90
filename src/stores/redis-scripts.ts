/**
 * The Lua scripts of the Redis session store. Redis runs a script atomically: no other command of any
 * client runs in the middle, which makes each store operation one compare-and-set, whichever instance sends it.
 *
 * Keys (P = the key prefix, ARGV[1] of every script):
 *   P..'epoch'                      random id of this data set; a new one means Redis lost its data
 *   P..'revocations'                stream: the revocation log (fields k=kind, i=id, e=expiresAt, n=notBefore)
 *   P..'family:'..id                hash: one session family (FamilyRecord; absent fields are null)
 *   P..'families:by-expiry'         sorted set: family id scored by the expiry of its last token, for purging
 *   P..'subject-families:'..sub     set: the family ids of a subject
 *   P..'subject-revoked:{'..sub..'}' the log entry id of the subject's latest subject revocation (hash tag:
 *                                   the subject), kept until that revocation expires (plus the margin)
 * Family hashes and subject sets also carry a TTL (ARGV[2] seconds after their last token expires) so that
 * nothing outlives its use if no instance purges. The TTL is a duration computed from the caller's clock,
 * so a difference between the service's and Redis's clocks does not matter.
 *
 * Redis Cluster layout (`cluster` scripts; the prefix holds no braces): every key of a subject carries the
 * subject as its hash tag, so whatever one user's session does is one slot, and users spread over the cluster:
 *   P..'{'..sub..'}:family:'..id    P..'{'..sub..'}:families'    P..'{'..sub..'}:revoked'
 *   P..'family-owner:'..id          the subject of a family (for a revocation by family id alone)
 * The revocation log and the epoch share one slot, P..'{log}:revocations' and P..'{log}:epoch': the log is
 * small (revocations live at most as long as a refresh token) and every instance reads all of it anyway.
 * No expiry index: families and subject sets go by their TTL, and a family whose tokens all expired counts as
 * purged. A family revoked in its slot is then appended to
 * the log by the caller (two steps, never a cross-slot transaction): the family keeps `revokedAt` without
 * `logged` until its log entry is written, and any later call that finds it so (logout again, a refresh with
 * one of its tokens, ending the user's sessions) hands it back for logging, so an interrupted step is
 * finished by the next one.
 */
import { LuaScript } from './redis-client.js'

const prelude = (cluster: boolean): string => `
local CLUSTER = ${String(cluster)}
local P = ARGV[1]
local MARGIN = tonumber(ARGV[2])
local LOG = P .. (CLUSTER and '{log}:revocations' or 'revocations')
local EXPIRY = P .. 'families:by-expiry'
local EPOCH = P .. (CLUSTER and '{log}:epoch' or 'epoch')

local function family_key (sub, id)
  if CLUSTER then return P .. '{' .. sub .. '}:family:' .. id end
  return P .. 'family:' .. id
end
local function subject_key (sub)
  if CLUSTER then return P .. '{' .. sub .. '}:families' end
  return P .. 'subject-families:' .. sub
end
local function subject_revoked_key (sub)
  if CLUSTER then return P .. '{' .. sub .. '}:revoked' end
  return P .. 'subject-revoked:{' .. sub .. '}'
end

local function read_family (sub, id)
  local flat = redis.call('HGETALL', family_key(sub, id))
  if #flat == 0 then return nil end
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end

local function last_expiry (h)
  return math.max(tonumber(h.refreshExpiresAt), tonumber(h.accessExpiresAt))
end

local function index_family (h, now)
  local expires = last_expiry(h)
  local ttl = math.max(expires - now + MARGIN, 1)
  redis.call('EXPIRE', family_key(h.sub, h.id), ttl)
  if not CLUSTER then redis.call('ZADD', EXPIRY, expires, h.id) end
  local sk = subject_key(h.sub)
  redis.call('SADD', sk, h.id)
  if redis.call('TTL', sk) < ttl then redis.call('EXPIRE', sk, ttl) end
end

-- In a cluster the log is in another slot: the caller appends what the script returns.
local function log_revocation (r)
  if CLUSTER then return r end
  if r[1] == 'subject' then
    redis.call('XADD', LOG, '*', 'k', r[1], 'i', r[2], 'e', r[3], 'n', r[4])
  else
    redis.call('XADD', LOG, '*', 'k', r[1], 'i', r[2], 'e', r[3])
  end
  return r
end

local function family_revocation (h)
  return { 'family', h.id, string.format('%d', last_expiry(h)) }
end

local function revoke_family (h, now)
  redis.call('HSET', family_key(h.sub, h.id), 'revokedAt', now)
  return log_revocation(family_revocation(h))
end

-- Cluster: a family revoked in its slot whose log entry was not confirmed written.
local function unlogged (h)
  return CLUSTER and h.revokedAt ~= nil and h.logged == nil
end

local function parse_id (id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return ms, tonumber(seq)
end

-- True when stream id a comes after stream id b (both well formed). Millisecond parts are compared as
-- digit strings: they can exceed the 2^53 a Lua number holds exactly.
local function id_after (a, b)
  local ams, aseq = parse_id(a)
  local bms, bseq = parse_id(b)
  if #ams ~= #bms then return #ams > #bms end
  if ams ~= bms then return ams > bms end
  return aseq > bseq
end

local function last_log_id ()
  if redis.call('EXISTS', LOG) == 0 then return '0-0' end
  local info = redis.call('XINFO', 'STREAM', LOG)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then return info[i + 1] end
  end
  return '0-0'
end

-- True when the log cannot hold what came after the entry 'after' any more: the stream is gone, or its last
-- generated id is older than 'after' (Redis restarted from an older state).
local function log_behind (after)
  if after == '0-0' then return false end
  if redis.call('EXISTS', LOG) == 0 then return true end
  return id_after(after, last_log_id())
end

local function log_lost (epoch, after)
  return redis.call('GET', EPOCH) ~= epoch or log_behind(after)
end
`

/** A script in its two layouts: one Redis (or Sentinel), and Redis Cluster. */
export interface LayoutScript {
  single: LuaScript
  cluster: LuaScript
}

function script (body: string): LayoutScript {
  return { single: new LuaScript(prelude(false) + body), cluster: new LuaScript(prelude(true) + body) }
}

/**
 * The last id the revocation log generated (kept by the stream even when its entries are trimmed), '0-0'
 * before the first: a login's mark. KEYS[1]: the log.
 */
export const revocationMark = script(`
return last_log_id()
`)

/**
 * KEYS: the family hash, the expiry index, the subject's family set, the subject's latest revocation (the keys
 * the script touches). ARGV[3]: the login's mark (a log id), ARGV[4]: now (the family's \`rotatedAt\`); then
 * field, value pairs of the family hash. 0, and nothing written, when the subject was revoked after the mark.
 */
export const createFamily = script(`
local h = {}
local fields = {}
for i = 5, #ARGV, 2 do
  h[ARGV[i]] = ARGV[i + 1]
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
local revoked = redis.call('GET', subject_revoked_key(h.sub))
if revoked and id_after(revoked, ARGV[3]) then return 0 end
redis.call('DEL', family_key(h.sub, h.id))
redis.call('HSET', family_key(h.sub, h.id), unpack(fields))
index_family(h, tonumber(ARGV[4]))
return 1
`)

/**
 * \`decideRotation\` (session-store.ts), line for line, then its effect. ARGV[3..]: familyId, subject,
 * presentedJti, now, graceSeconds, next refreshJti, accessJti, refreshExpiresAt, accessExpiresAt, user JSON
 * ('' to keep the stored profile), user id, client address ('' to keep the stored one). Returns {'rejected'}, {'rotated', hash}, {'replayed', hash} or
 * {'reused', hash, revocation}.
 */
export const rotate = script(`
local subject, presented, now, grace = ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local h = read_family(subject, ARGV[3])
if h ~= nil and h.sub == subject and unlogged(h) then return { 'rejected', {}, family_revocation(h) } end
if h == nil or h.sub ~= subject or h.revokedAt ~= nil then return { 'rejected' } end
local key = family_key(h.sub, h.id)
if h.refreshJti == presented then
  redis.call('HSET', key,
    'previousRefreshJti', h.refreshJti, 'refreshJti', ARGV[8], 'accessJti', ARGV[9], 'rotatedAt', ARGV[6],
    'refreshExpiresAt', ARGV[10], 'accessExpiresAt', ARGV[11],
    'generation', string.format('%d', tonumber(h.generation) + 1))
  -- In a cluster a family's keys stay under the subject it was created for: a profile naming another user id
  -- is not taken (the family keeps the profile it has).
  if ARGV[12] ~= '' and not (CLUSTER and ARGV[13] ~= h.sub) then
    if ARGV[13] ~= h.sub then redis.call('SREM', subject_key(h.sub), h.id) end
    redis.call('HSET', key, 'user', ARGV[12], 'sub', ARGV[13])
  end
  if ARGV[14] ~= '' then redis.call('HSET', key, 'clientAddress', ARGV[14]) end
  index_family(read_family(h.sub, h.id), now)
  return { 'rotated', redis.call('HGETALL', key) }
end
if h.previousRefreshJti == presented and now - tonumber(h.rotatedAt) <= grace then
  return { 'replayed', redis.call('HGETALL', key) }
end
local revocation = revoke_family(h, ARGV[6])
return { 'reused', redis.call('HGETALL', key), revocation }
`)

/** ARGV[3]: subject, ARGV[4]: now. The live families' hashes; ids whose hash expired leave the set. */
export const listFamilies = script(`
local sk = subject_key(ARGV[3])
local now = tonumber(ARGV[4])
local live = {}
for _, id in ipairs(redis.call('SMEMBERS', sk)) do
  local h = read_family(ARGV[3], id)
  if h == nil then
    redis.call('SREM', sk, id)
  elseif h.sub == ARGV[3] and h.revokedAt == nil and tonumber(h.refreshExpiresAt) > now then
    live[#live + 1] = redis.call('HGETALL', family_key(ARGV[3], id))
  end
end
return live
`)

/**
 * ARGV[3]: family id, ARGV[4]: now, ARGV[5]: '1' to require ARGV[6] as the owner (in a cluster ARGV[6] is
 * always the owner, which locates the keys). {} when there is no such family. In a cluster, a fourth element
 * 'log' means "append it to the log" (newly revoked, or revoked earlier without its log entry).
 */
export const revokeFamily = script(`
local h = read_family(ARGV[6], ARGV[3])
if h == nil or (ARGV[5] == '1' and h.sub ~= ARGV[6]) then return {} end
-- In a cluster nothing purges families (they go by their TTL): one whose tokens all expired is as if purged.
if CLUSTER and last_expiry(h) < tonumber(ARGV[4]) then return {} end
if h.revokedAt ~= nil then
  local r = family_revocation(h)
  if unlogged(h) then r[4] = 'log' end
  return r
end
local r = revoke_family(h, ARGV[4])
if CLUSTER then r[4] = 'log' end
return r
`)

/** Cluster: ARGV[3]: subject, then the ids of its families whose revocation is now in the log. */
export const markLogged = script(`
for i = 4, #ARGV do
  local key = family_key(ARGV[3], ARGV[i])
  if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 'logged', '1') end
end
return 1
`)

/**
 * ARGV[3]: subject, ARGV[4]: notBefore, ARGV[5]: expiresAt, ARGV[6]: now. Every revocation recorded. The
 * subject's latest revocation key gets the log id of the subject revocation: logins with an earlier mark are
 * refused from now on.
 */
export const revokeSubject = script(`
local sub, expires, now = ARGV[3], tonumber(ARGV[5]), tonumber(ARGV[6])
-- In a cluster the caller appended the subject revocation to the log first: ARGV[7] is its log id.
local log_id = CLUSTER and ARGV[7] or redis.call('XADD', LOG, '*', 'k', 'subject', 'i', sub, 'e', ARGV[5], 'n', ARGV[4])
local rk = subject_revoked_key(sub)
local ttl = math.max(expires - now + MARGIN, 1)
redis.call('SET', rk, log_id, 'KEEPTTL')
if redis.call('TTL', rk) < ttl then redis.call('EXPIRE', rk, ttl) end
local recorded = { { 'subject', sub, ARGV[5], ARGV[4] } }
for _, id in ipairs(redis.call('SMEMBERS', subject_key(ARGV[3]))) do
  local h = read_family(sub, id)
  if h ~= nil and h.sub == ARGV[3] and h.revokedAt == nil then
    recorded[#recorded + 1] = revoke_family(h, ARGV[6])
  elseif h ~= nil and h.sub == ARGV[3] and unlogged(h) then
    recorded[#recorded + 1] = family_revocation(h)
  end
end
return recorded
`)

/**
 * KEYS[1]: the log. ARGV: kind, id, expiresAt, notBefore ('' unless a subject revocation), for each revocation.
 * Appends them all (one atomic step) and returns their log ids.
 */
export const appendLog = new LuaScript(`
local ids = {}
for i = 1, #ARGV, 4 do
  if ARGV[i] == 'subject' then
    ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'k', ARGV[i], 'i', ARGV[i + 1], 'e', ARGV[i + 2], 'n', ARGV[i + 3])
  else
    ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'k', ARGV[i], 'i', ARGV[i + 1], 'e', ARGV[i + 2])
  end
end
return ids
`)

/** ARGV[3]: a new epoch, kept only if there is none. Returns the epoch in force. */
export const ensureEpoch = script(`
local epoch = redis.call('GET', EPOCH)
if epoch then return epoch end
redis.call('SET', EPOCH, ARGV[3])
return ARGV[3]
`)

/**
 * ARGV[3]: epoch, ARGV[4]: last entry id read, ARGV[5]: most entries to return (0: only check).
 * {'lost'} when the log behind the cursor is gone, else {'ok', entries}.
 */
export const revocationsSince = script(`
if log_lost(ARGV[3], ARGV[4]) then return { 'lost' } end
if ARGV[5] == '0' then return { 'ok', {} } end
return { 'ok', redis.call('XRANGE', LOG, '(' .. ARGV[4], '+', 'COUNT', ARGV[5]) }
`)

/**
 * ARGV[3]: before, ARGV[4]: most families and log entries to look at. Deletes families whose last token expired
 * before \`before\`, and the prefix of the log that did (an entry behind a live one waits its turn, as in the
 * other stores). Returns {families deleted, 1 when more of the log may go}.
 */
export const purgeExpired = script(`
local limit = tonumber(ARGV[4])
-- In a cluster families go by their TTL (no index across slots): only the log is purged here.
local ids = CLUSTER and {} or redis.call('ZRANGEBYSCORE', EXPIRY, '-inf', '(' .. ARGV[3], 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  local sub = redis.call('HGET', family_key('', id), 'sub')
  if sub then redis.call('SREM', subject_key(sub), id) end
  redis.call('DEL', family_key('', id))
  redis.call('ZREM', EXPIRY, id)
end
local before = tonumber(ARGV[3])
local entries = redis.call('XRANGE', LOG, '-', '+', 'COUNT', limit)
local last_expired = nil
local first_live = nil
for _, entry in ipairs(entries) do
  local fields = entry[2]
  local expires = 0
  for i = 1, #fields, 2 do
    if fields[i] == 'e' then expires = tonumber(fields[i + 1]) end
  end
  if expires >= before then
    first_live = entry[1]
    break
  end
  last_expired = entry[1]
end
if first_live then
  redis.call('XTRIM', LOG, 'MINID', first_live)
elseif last_expired then
  local ms, seq = parse_id(last_expired)
  redis.call('XTRIM', LOG, 'MINID', ms .. '-' .. string.format('%d', seq + 1))
end
local more = 0
if first_live == nil and #entries == limit then more = 1 end
return { #ids, more }
`)
