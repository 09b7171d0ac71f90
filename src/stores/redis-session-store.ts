/**
 * The shared store for several instances (`STORE=redis`). Every operation that reads and then writes is one
 * Lua script (redis-scripts.ts), so it is atomic across all instances: `rotate` is a compare-and-set on the
 * family's current refresh token id, with `decideRotation` ported line for line.
 *
 * The revocation log is a Redis stream; a cursor is `<epoch>:<stream id>`. Instances follow it with a
 * blocking XREAD on a connection of their own (`waitForRevocations`): a revocation reaches every instance in
 * about a network round trip, and an instance that was cut off resumes from its cursor without a gap. The
 * epoch, a random id stored beside the data, tells an instance that Redis lost everything (restarted without
 * persistence, flushed): its cursor is then refused with RevocationLogLostError (see docs/deployment.md).
 */
import { randomBytes } from 'node:crypto'
import { RevocationLogLostError } from '../common/errors.js'
import { Cluster } from 'ioredis'
import { duplicateConnection, isRedisUnavailableError, type RedisConnection, type ReplicaWait } from './redis-client.js'
import * as scripts from './redis-scripts.js'
import type {
  FamilyRecord,
  Revocation,
  RevocationBatch,
  RevocationFeedBatch,
  RotationOutcome,
  RotationRequest,
  SessionStore,
  SessionUser
} from './session-store.js'

export interface RedisSessionStoreOptions {
  /**
   * A connected client (connectRedis): one Redis, the primary of a Sentinel set, or a Redis Cluster (then the
   * cluster key layout of redis-scripts.ts is used); the caller owns and closes it.
   */
  client: RedisConnection
  /** Prefix of every key, so several deployments can share one Redis. Default `session:`. */
  keyPrefix?: string
  /** Seconds a family's keys outlive its last token, as a safety net behind `purgeExpired`. Default 3600. */
  retentionSeconds?: number
  /**
   * Replicas every write (login, refresh, logout, revocation) must reach before it is acknowledged (Redis
   * `WAIT`); 0, the default, acknowledges once the primary applied it. With 1 or more, an acknowledged
   * revocation survives the failover to a replica that got it; a write the replicas do not confirm within
   * `waitTimeoutMs` is answered as "store unavailable" (503).
   */
  waitReplicas?: number
  /** How long a write waits for its replicas. Default 500 ms. */
  waitTimeoutMs?: number
}

/** Entries read per command from the log. */
const LOG_BATCH = 1000
/** Longest block of one XREAD: staleness is measured by how recently a read came back. */
export const MAX_BLOCK_MS = 1000

type Flat = string[]

function toRecord (flat: Flat): Record<string, string> {
  const record: Record<string, string> = {}
  for (let i = 0; i < flat.length; i += 2) record[flat[i] as string] = flat[i + 1] as string
  return record
}

function toFamily (flat: Flat): FamilyRecord {
  const h = toRecord(flat)
  return {
    id: h['id'] as string,
    user: JSON.parse(h['user'] as string) as SessionUser,
    authTime: Number(h['authTime']),
    refreshJti: h['refreshJti'] as string,
    previousRefreshJti: h['previousRefreshJti'] ?? null,
    accessJti: h['accessJti'] as string,
    rotatedAt: Number(h['rotatedAt']),
    refreshExpiresAt: Number(h['refreshExpiresAt']),
    accessExpiresAt: Number(h['accessExpiresAt']),
    generation: Number(h['generation']),
    userAgent: h['userAgent'] ?? null,
    clientAddress: h['clientAddress'] ?? null,
    revokedAt: h['revokedAt'] === undefined ? null : Number(h['revokedAt'])
  }
}

/** The hash of a family: null fields are left out. */
function familyFields (family: FamilyRecord): string[] {
  const fields: Array<[string, string | number | null]> = [
    ['id', family.id],
    ['sub', family.user.id],
    ['user', JSON.stringify(family.user)],
    ['authTime', family.authTime],
    ['refreshJti', family.refreshJti],
    ['previousRefreshJti', family.previousRefreshJti],
    ['accessJti', family.accessJti],
    ['rotatedAt', family.rotatedAt],
    ['refreshExpiresAt', family.refreshExpiresAt],
    ['accessExpiresAt', family.accessExpiresAt],
    ['generation', family.generation],
    ['userAgent', family.userAgent],
    ['clientAddress', family.clientAddress],
    ['revokedAt', family.revokedAt]
  ]
  return fields.flatMap(([name, value]) => value === null ? [] : [name, String(value)])
}

/** A revocation as the scripts return it: {kind, id, expiresAt[, notBefore]}. */
function toRevocation (tuple: Flat): Revocation {
  const [kind, id, expiresAt, notBefore] = tuple as [Revocation['kind'], string, string, string | undefined]
  return kind === 'subject'
    ? { kind, id, notBefore: Number(notBefore), expiresAt: Number(expiresAt) }
    : { kind, id, expiresAt: Number(expiresAt) }
}

/** A stream entry: [id, [field, value, ...]]. */
function entryRevocation (fields: Flat): Revocation {
  const e = toRecord(fields)
  return toRevocation([e['k'], e['i'], e['e'], e['n']].filter((v) => v !== undefined) as Flat)
}

interface Cursor {
  epoch: string
  after: string
}

function parseCursor (cursor: string): Cursor {
  const match = /^([0-9a-f]{32}):(\d+-\d+)$/.exec(cursor)
  if (match === null) throw new RevocationLogLostError(`"${cursor}" is not a cursor of this store`)
  return { epoch: match[1] as string, after: match[2] as string }
}

export class RedisSessionStore implements SessionStore {
  readonly #client: RedisConnection
  readonly #wait: ReplicaWait
  readonly #prefix: string
  readonly #retention: string
  readonly #log: string
  readonly #epochKey: string
  readonly #layout: 'single' | 'cluster'
  /** The connection blocked in XREAD, created on first use; closed with the store. */
  #feed: RedisConnection | undefined
  #closed = false

  constructor (options: RedisSessionStoreOptions) {
    this.#client = options.client
    this.#wait = { replicas: options.waitReplicas ?? 0, timeoutMs: options.waitTimeoutMs ?? 500 }
    this.#prefix = options.keyPrefix ?? 'session:'
    this.#retention = String(options.retentionSeconds ?? 3600)
    this.#layout = options.client instanceof Cluster ? 'cluster' : 'single'
    if (this.#layout === 'cluster' && /[{}]/.test(this.#prefix)) {
      throw new TypeError(`the key prefix "${this.#prefix}" holds a brace: on Redis Cluster the store puts its own hash tags after the prefix (one per user, one for the revocation log), so the prefix must have none`)
    }
    this.#log = this.#prefix + (this.#layout === 'cluster' ? '{log}:revocations' : 'revocations')
    this.#epochKey = this.#prefix + (this.#layout === 'cluster' ? '{log}:epoch' : 'epoch')
  }

  /** The keys of a subject's slot that a script declares (in a cluster, they route it). */
  #subjectKeys (subject: string, familyId?: string): string[] {
    if (this.#layout === 'cluster') {
      const tag = `${this.#prefix}{${subject}}:`
      return [...(familyId === undefined ? [] : [`${tag}family:${familyId}`]), `${tag}families`, `${tag}revoked`]
    }
    return [
      ...(familyId === undefined ? [] : [`${this.#prefix}family:${familyId}`]),
      `${this.#prefix}families:by-expiry`,
      `${this.#prefix}subject-families:${subject}`,
      `${this.#prefix}subject-revoked:{${subject}}`
    ]
  }

  async #run (script: scripts.LayoutScript, args: Array<string | number>, keys: string[]): Promise<unknown> {
    return await script[this.#layout].run(this.#client, [this.#prefix, this.#retention, ...args], keys)
  }

  /** A script that writes: acknowledged once on `waitReplicas` replicas. */
  async #write (script: scripts.LayoutScript, args: Array<string | number>, keys: string[]): Promise<unknown> {
    return await script[this.#layout].run(this.#client, [this.#prefix, this.#retention, ...args], keys, this.#wait)
  }

  /**
   * Cluster: appends family revocations made in a subject's slot to the log, then notes them logged there.
   * Until both are done the caller gets an error (503), and the next call touching those families logs them.
   */
  async #logFamilies (subject: string, revocations: Revocation[]): Promise<void> {
    if (revocations.length === 0) return
    await this.#appendToLog(revocations)
    await this.#write(scripts.markLogged, [subject, ...revocations.map((r) => r.id)], this.#subjectKeys(subject))
  }

  async revocationMark (): Promise<string> {
    return await scripts.revocationMark[this.#layout].run(this.#client, [this.#prefix, this.#retention], [this.#log]) as string
  }

  async createFamily (family: FamilyRecord, mark: string): Promise<boolean> {
    if (!/^\d{1,20}-\d{1,20}$/.test(mark)) throw new TypeError(`"${mark}" is not a revocation mark of this store`)
    if (this.#layout === 'cluster') {
      // Lets a family be revoked by its id alone (the contract allows it); it lives as long as the family.
      const ttl = Math.max(family.refreshExpiresAt, family.accessExpiresAt) - family.rotatedAt + Number(this.#retention)
      await this.#client.set(`${this.#prefix}family-owner:${family.id}`, family.user.id, 'EX', Math.max(ttl, 1))
    }
    const created = await this.#write(scripts.createFamily, [mark, family.rotatedAt, ...familyFields(family)], this.#subjectKeys(family.user.id, family.id))
    return created === 1
  }

  async rotate (request: RotationRequest): Promise<RotationOutcome> {
    const { next } = request
    const reply = await this.#write(scripts.rotate, [
      request.familyId, request.subject, request.presentedJti, request.now, request.graceSeconds,
      next.refreshJti, next.accessJti, next.refreshExpiresAt, next.accessExpiresAt,
      next.user === undefined ? '' : JSON.stringify(next.user), next.user?.id ?? '', next.clientAddress ?? ''], this.#subjectKeys(request.subject, request.familyId)) as [string, Flat?, Flat?]
    const [outcome, hash, revocation] = reply
    switch (outcome) {
      case 'rotated':
      case 'replayed':
        return { outcome, family: toFamily(hash as Flat) }
      case 'reused': {
        const recorded = toRevocation(revocation as Flat)
        if (this.#layout === 'cluster') await this.#logFamilies(request.subject, [recorded])
        return { outcome, family: toFamily(hash as Flat), revocation: recorded }
      }
      default:
        // Cluster: a revoked family whose log entry is missing (an interrupted revocation) is logged now.
        if (revocation !== undefined) await this.#logFamilies(request.subject, [toRevocation(revocation)])
        return { outcome: 'rejected' }
    }
  }

  async listFamilies (subject: string, now: number): Promise<FamilyRecord[]> {
    const hashes = await this.#run(scripts.listFamilies, [subject, now], this.#subjectKeys(subject)) as Flat[]
    return hashes.map(toFamily).sort((a, b) => a.authTime - b.authTime || a.id.localeCompare(b.id))
  }

  async revokeFamily (familyId: string, now: number, subject?: string): Promise<Revocation | undefined> {
    let owner = subject
    if (this.#layout === 'cluster' && owner === undefined) {
      owner = await this.#client.get(`${this.#prefix}family-owner:${familyId}`) ?? undefined
      if (owner === undefined) return undefined
    }
    const reply = await this.#write(scripts.revokeFamily, [familyId, now, subject === undefined ? '0' : '1', owner ?? ''], this.#subjectKeys(owner ?? '', familyId)) as Flat
    if (reply.length === 0) return undefined
    const revocation = toRevocation(reply)
    if (reply[3] === 'log') await this.#logFamilies(owner as string, [revocation])
    return revocation
  }

  async revokeToken (revocation: Extract<Revocation, { kind: 'token' }>): Promise<void> {
    await this.#appendToLog([revocation])
  }

  async restoreRevocations (revocations: Revocation[]): Promise<void> {
    await this.#appendToLog(revocations)
  }

  /** Appends to the log in one script (all or nothing), acknowledged once on `waitReplicas` replicas. */
  async #appendToLog (revocations: Revocation[]): Promise<string[]> {
    if (revocations.length === 0) return []
    const tuples = revocations.flatMap((r) => [r.kind, r.id, String(r.expiresAt), r.kind === 'subject' ? String(r.notBefore) : ''])
    return await scripts.appendLog.run(this.#client, tuples, [this.#log], this.#wait) as string[]
  }

  async revokeSubject (revocation: Extract<Revocation, { kind: 'subject' }>, now: number): Promise<Revocation[]> {
    const args = [revocation.id, revocation.notBefore, revocation.expiresAt, now]
    if (this.#layout === 'single') {
      const reply = await this.#write(scripts.revokeSubject, args, this.#subjectKeys(revocation.id)) as Flat[]
      return reply.map(toRevocation)
    }
    // Cluster: the subject revocation goes to the log first (logins with an earlier mark are then refused by
    // the subject's slot, or their family is revoked there), then the subject's slot, then the family
    // revocations to the log.
    const [logId] = await this.#appendToLog([revocation]) as [string]
    const reply = await this.#write(scripts.revokeSubject, [...args, logId], this.#subjectKeys(revocation.id)) as Flat[]
    const recorded = reply.map(toRevocation)
    await this.#logFamilies(revocation.id, recorded.slice(1))
    return recorded
  }

  /** The epoch of the data set, created by the first instance to look. */
  async #epoch (): Promise<string> {
    return await this.#run(scripts.ensureEpoch, [randomBytes(16).toString('hex')], [this.#epochKey]) as string
  }

  async loadRevocations (now: number): Promise<RevocationBatch> {
    const epoch = await this.#epoch()
    const revocations: Revocation[] = []
    let after = '0-0'
    for (;;) {
      const entries = await this.#client.xrange(this.#log, `(${after}`, '+', 'COUNT', LOG_BATCH)
      for (const [id, fields] of entries) {
        after = id
        const revocation = entryRevocation(fields)
        if (revocation.expiresAt > now) revocations.push(revocation)
      }
      if (entries.length < LOG_BATCH) break
    }
    return { revocations, cursor: `${epoch}:${after}` }
  }

  async revocationsSince (cursor: string): Promise<RevocationBatch> {
    const { epoch, after } = parseCursor(cursor)
    const [status, entries] = await this.#run(scripts.revocationsSince, [epoch, after, LOG_BATCH], [this.#epochKey, this.#log]) as [string, Array<[string, Flat]>?]
    if (status === 'lost') throw new RevocationLogLostError('Redis no longer holds the data this instance was following')
    const { revocations, cursor: next } = this.#batch(epoch, after, entries as Array<[string, Flat]>, LOG_BATCH)
    return { revocations, cursor: next }
  }

  #batch (epoch: string, after: string, entries: Array<[string, Flat]>, count: number): RevocationFeedBatch {
    const last = entries.at(-1)
    return {
      revocations: entries.map(([, fields]) => entryRevocation(fields)),
      cursor: `${epoch}:${last === undefined ? after : last[0]}`,
      complete: entries.length < count
    }
  }

  /**
   * Blocks in XREAD on a connection of its own until revocations arrive after the cursor or `timeoutMs`
   * passes. The check that the data set is still the one the cursor belongs to is pipelined behind the read:
   * Redis runs it right after the read unblocks, and both answers come back together (no extra round trip
   * before a revocation is applied).
   */
  async waitForRevocations (cursor: string, timeoutMs: number, signal: AbortSignal): Promise<RevocationFeedBatch> {
    const { epoch, after } = parseCursor(cursor)
    const feed = await this.#feedConnection()
    const checkArgs = [this.#prefix, this.#retention, epoch, after, 0]
    const read = (async () => {
      let replies: Array<[Error | null, unknown]>
      try {
        replies = await feed.pipeline()
          .xread('COUNT', LOG_BATCH, 'BLOCK', Math.min(Math.max(timeoutMs, 1), MAX_BLOCK_MS), 'STREAMS', this.#log, after)
          .evalsha(scripts.revocationsSince[this.#layout].sha, 2, this.#epochKey, this.#log, ...checkArgs)
          .exec() as Array<[Error | null, unknown]>
        const [readError] = replies[0] as [Error | null, unknown]
        if (readError !== null) throw readError
      } catch (error) {
        // A read without an answer leaves the connection waiting for it: start over on a fresh one.
        if (this.#feed === feed) this.#feed = undefined
        feed.disconnect()
        throw error
      }
      const [, reply] = replies[0] as [null, Array<[string, Array<[string, Flat]>]> | null]
      const [checkError, check] = replies[1] as [Error | null, [string]]
      // The script is not cached (Redis restarted): run the check on its own, which sends it in full.
      const [status] = checkError === null ? check : await scripts.revocationsSince[this.#layout].run(feed, checkArgs, [this.#epochKey, this.#log]) as [string]
      if (status === 'lost') throw new RevocationLogLostError('Redis no longer holds the data this instance was following')
      return this.#batch(epoch, after, reply?.[0]?.[1] ?? [], LOG_BATCH)
    })()
    return await abortable(read, signal)
  }

  async #feedConnection (): Promise<RedisConnection> {
    if (this.#closed) throw new Error('Connection is closed: the store was closed')
    if (this.#feed === undefined) {
      const feed = duplicateConnection(this.#client, MAX_BLOCK_MS, 'feed')
      feed.on('error', () => {})
      this.#feed = feed
    }
    const feed = this.#feed
    if (feed.status === 'wait') await feed.connect()
    return feed
  }

  async purgeExpired (before: number): Promise<void> {
    for (;;) {
      const [families, more] = await this.#run(scripts.purgeExpired, [before, LOG_BATCH], [this.#log]) as [number, number]
      if (families < LOG_BATCH && more === 0) return
    }
  }

  isUnavailableError (error: unknown): boolean {
    return isRedisUnavailableError(error)
  }

  async ping (): Promise<void> {
    await this.#client.ping()
  }

  /** Closes the feed connection; the client given to the constructor stays open (its owner closes it). */
  async close (): Promise<void> {
    this.#closed = true
    const feed = this.#feed
    this.#feed = undefined
    if (feed !== undefined) feed.disconnect()
  }
}

/** `promise`, or a rejection as soon as `signal` aborts (the abandoned promise's outcome is ignored). */
async function abortable<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => {})
  if (signal.aborted) throw signal.reason
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}
