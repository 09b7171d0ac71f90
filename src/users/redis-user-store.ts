/**
 * The built-in user directory in Redis (`STORE=redis`), so every instance and the users CLI see the same
 * users. Keys (P = the key prefix): P..'user:'..id (hash), P..'username:'..lowercased name (the id; makes
 * names unique regardless of ASCII case, like the SQLite store), P..'users' (ids by creation time). Writes
 * that touch several keys are Lua scripts, atomic across instances.
 *
 * On Redis Cluster every key of the directory carries the hash tag `{users}` after the prefix
 * (P..'{users}:user:'..id, ...): the scripts touch several users' keys (unique names, the last-admin guard), so
 * the directory is one slot. It is small: one hash per user.
 */
import { UserExistsError } from '../common/errors.js'
import { Cluster } from 'ioredis'
import { LuaScript, type RedisConnection } from '../stores/redis-client.js'
import { byCreation, type ChangeOutcome, type RoleGuard, type SecondFactorRecord, type UserPatch, type UserPage, type UserQuery, type UserRecord, type UserStore } from './user-store.js'

const findByUsername = new LuaScript(`
local id = redis.call('GET', ARGV[1] .. 'username:' .. string.lower(ARGV[2]))
if not id then return {} end
return redis.call('HGETALL', ARGV[1] .. 'user:' .. id)
`)

/** ARGV[3]: id, ARGV[4]: createdAt, then the hash's field, value pairs. 0 when the name is taken. */
const insert = new LuaScript(`
local name_key = ARGV[1] .. 'username:' .. string.lower(ARGV[2])
if redis.call('EXISTS', name_key) == 1 then return 0 end
redis.call('HSET', ARGV[1] .. 'user:' .. ARGV[3], unpack(ARGV, 5))
redis.call('SET', name_key, ARGV[3])
redis.call('ZADD', ARGV[1] .. 'users', ARGV[4], ARGV[3])
return 1
`)

/**
 * The last-admin guard (user-store.ts, RoleGuard) in Lua: is the user an enabled holder of the role now, will
 * it be after the change, and does another enabled user hold it. O(users): admin changes are rare.
 */
const GUARD = `
local function holds (disabled, roles_json, role)
  if disabled == '1' then return false end
  for _, r in ipairs(cjson.decode(roles_json)) do
    if r == role then return true end
  end
  return false
end

local function other_holder (prefix, id, role)
  for _, other in ipairs(redis.call('ZRANGE', prefix .. 'users', 0, -1)) do
    if other ~= id then
      local u = redis.call('HMGET', prefix .. 'user:' .. other, 'disabled', 'roles')
      if u[2] and holds(u[1], u[2], role) then return true end
    end
  end
  return false
end
`

/**
 * ARGV[2]: id, ARGV[3]: guarded role ('' for none), then field, value pairs. 'not-found', 'last-holder' or
 * 'done'.
 */
const update = new LuaScript(GUARD + `
local key = ARGV[1] .. 'user:' .. ARGV[2]
local now = redis.call('HMGET', key, 'disabled', 'roles')
if not now[2] then return 'not-found' end
local role = ARGV[3]
if role ~= '' and holds(now[1], now[2], role) then
  local disabled, roles = now[1], now[2]
  for i = 4, #ARGV, 2 do
    if ARGV[i] == 'disabled' then disabled = ARGV[i + 1] end
    if ARGV[i] == 'roles' then roles = ARGV[i + 1] end
  end
  if not holds(disabled, roles, role) and not other_holder(ARGV[1], ARGV[2], role) then return 'last-holder' end
end
redis.call('HSET', key, unpack(ARGV, 4))
return 'done'
`)

/** ARGV[2]: id, ARGV[3]: guarded role ('' for none). 'not-found', 'last-holder' or 'done'. */
const remove = new LuaScript(GUARD + `
local key = ARGV[1] .. 'user:' .. ARGV[2]
local u = redis.call('HMGET', key, 'disabled', 'roles', 'username')
if not u[2] then return 'not-found' end
if ARGV[3] ~= '' and holds(u[1], u[2], ARGV[3]) and not other_holder(ARGV[1], ARGV[2], ARGV[3]) then return 'last-holder' end
redis.call('DEL', key)
redis.call('DEL', ARGV[1] .. 'mfa:' .. ARGV[2], ARGV[1] .. 'mfa-recovery:' .. ARGV[2])
redis.call('DEL', ARGV[1] .. 'username:' .. string.lower(u[3]))
redis.call('ZREM', ARGV[1] .. 'users', ARGV[2])
return 'done'
`)

/** ARGV[2]: id, then the factor's field, value pairs. 0 when there is no such user. */
const setFactor = new LuaScript(`
if redis.call('EXISTS', ARGV[1] .. 'user:' .. ARGV[2]) == 0 then return 0 end
local key = ARGV[1] .. 'mfa:' .. ARGV[2]
redis.call('DEL', key)
redis.call('HSET', key, unpack(ARGV, 3))
return 1
`)

/** ARGV[2]: id, then the hashes: replaces the set in one step. */
const setCodes = new LuaScript(`
local key = ARGV[1] .. 'mfa-recovery:' .. ARGV[2]
redis.call('DEL', key)
if #ARGV > 2 then redis.call('SADD', key, unpack(ARGV, 3)) end
return 1
`)

/** Every user, in one atomic read. */
const list = new LuaScript(`
local users = {}
for _, id in ipairs(redis.call('ZRANGE', ARGV[1] .. 'users', 0, -1)) do
  local flat = redis.call('HGETALL', ARGV[1] .. 'user:' .. id)
  if #flat > 0 then users[#users + 1] = flat end
end
return users
`)

function toRecord (flat: string[]): Record<string, string> {
  const h: Record<string, string> = {}
  for (let i = 0; i < flat.length; i += 2) h[flat[i] as string] = flat[i + 1] as string
  return h
}

function toUser (h: Record<string, string>): UserRecord {
  return {
    id: h['id'] as string,
    username: h['username'] as string,
    passwordHash: h['passwordHash'] as string,
    roles: JSON.parse(h['roles'] as string) as string[],
    disabled: h['disabled'] === '1',
    createdAt: Number(h['createdAt']),
    updatedAt: Number(h['updatedAt'])
  }
}

function patchFields (patch: UserPatch): string[] {
  const fields: string[] = []
  if (patch.passwordHash !== undefined) fields.push('passwordHash', patch.passwordHash)
  if (patch.roles !== undefined) fields.push('roles', JSON.stringify(patch.roles))
  if (patch.disabled !== undefined) fields.push('disabled', patch.disabled ? '1' : '0')
  return fields
}

export class RedisUserStore implements UserStore {
  readonly #client: RedisConnection
  readonly #prefix: string

  /** `client` is connected and owned by the caller; `keyPrefix` as for the session store. */
  constructor (client: RedisConnection, keyPrefix = 'session:') {
    this.#client = client
    this.#prefix = client instanceof Cluster ? `${keyPrefix}{users}:` : keyPrefix
  }

  /** Runs a script with the directory's index as its declared key (on a cluster, that routes it to the slot). */
  async #run (script: LuaScript, args: Array<string | number>): Promise<unknown> {
    return await script.run(this.#client, args, [this.#prefix + 'users'])
  }

  async findByUsername (username: string): Promise<UserRecord | undefined> {
    const flat = await this.#run(findByUsername, [this.#prefix, username]) as string[]
    return flat.length === 0 ? undefined : toUser(toRecord(flat))
  }

  async findById (id: string): Promise<UserRecord | undefined> {
    const flat = await this.#client.hgetall(this.#prefix + 'user:' + id)
    return Object.keys(flat).length === 0 ? undefined : toUser(flat)
  }

  async insert (user: UserRecord): Promise<void> {
    const inserted = await this.#run(insert, [
      this.#prefix, user.username, user.id, user.createdAt,
      'id', user.id,
      'username', user.username,
      'passwordHash', user.passwordHash,
      'roles', JSON.stringify(user.roles),
      'disabled', user.disabled ? '1' : '0',
      'createdAt', user.createdAt,
      'updatedAt', user.updatedAt
    ])
    if (inserted === 0) throw new UserExistsError(user.username)
  }

  async update (id: string, patch: UserPatch, now: number, guard?: RoleGuard): Promise<ChangeOutcome> {
    return await this.#run(update, [this.#prefix, id, guard?.keepRole ?? '', ...patchFields(patch), 'updatedAt', now]) as ChangeOutcome
  }

  async delete (id: string, guard?: RoleGuard): Promise<ChangeOutcome> {
    return await this.#run(remove, [this.#prefix, id, guard?.keepRole ?? '']) as ChangeOutcome
  }

  async list (): Promise<UserRecord[]> {
    const users = await this.#run(list, [this.#prefix]) as string[][]
    return users.map((flat) => toUser(toRecord(flat))).sort(byCreation)
  }

  async getSecondFactor (userId: string): Promise<SecondFactorRecord | undefined> {
    const h = await this.#client.hgetall(this.#prefix + 'mfa:' + userId)
    if (h['sealedSecret'] === undefined) return undefined
    return { sealedSecret: h['sealedSecret'], confirmed: h['confirmed'] === '1', createdAt: Number(h['createdAt']) }
  }

  async setSecondFactor (userId: string, factor: SecondFactorRecord): Promise<boolean> {
    return await this.#run(setFactor, [this.#prefix, userId, 'sealedSecret', factor.sealedSecret, 'confirmed', factor.confirmed ? '1' : '0', 'createdAt', factor.createdAt]) === 1
  }

  async removeSecondFactor (userId: string): Promise<boolean> {
    const [[, removed] = []] = await this.#client.multi().del(this.#prefix + 'mfa:' + userId).del(this.#prefix + 'mfa-recovery:' + userId).exec() ?? []
    return removed === 1
  }

  async setRecoveryCodes (userId: string, hashes: readonly string[]): Promise<void> {
    await this.#run(setCodes, [this.#prefix, userId, ...hashes])
  }

  async useRecoveryCode (userId: string, hash: string): Promise<boolean> {
    return await this.#client.srem(this.#prefix + 'mfa-recovery:' + userId, hash) === 1
  }

  async recoveryCodesLeft (userId: string): Promise<number> {
    return await this.#client.scard(this.#prefix + 'mfa-recovery:' + userId)
  }

  // Expiries are relative (EX), so the server's clock and ours need not agree.
  async claimOnce (key: string, expiresAt: number, now: number): Promise<boolean> {
    return await this.#client.set(this.#prefix + 'once:' + key, '1', 'EX', Math.max(1, expiresAt - now), 'NX') === 'OK'
  }

  async putPending (key: string, value: string, expiresAt: number, now: number): Promise<void> {
    await this.#client.set(this.#prefix + 'pending:' + key, value, 'EX', Math.max(1, expiresAt - now))
  }

  async getPending (key: string): Promise<string | undefined> {
    return await this.#client.get(this.#prefix + 'pending:' + key) ?? undefined
  }

  async takePending (key: string): Promise<string | undefined> {
    return await this.#client.getdel(this.#prefix + 'pending:' + key) ?? undefined
  }

  /** Filtered and sliced here, over one atomic read of every user: fine for the sizes a built-in directory has. */
  async page (query: UserQuery): Promise<UserPage> {
    const search = query.search?.toLowerCase()
    const matching = (await this.list()).filter((u) => search === undefined || u.username.toLowerCase().includes(search))
    return { users: matching.slice(query.offset, query.offset + query.limit), total: matching.length }
  }
}
