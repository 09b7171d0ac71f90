/**
 * The embedded default store (`STORE=sqlite`). better-sqlite3 is synchronous, so each method is one
 * transaction that no other callback of this process can interleave with; `BEGIN IMMEDIATE` takes the write
 * lock up front, so other processes on the same file (the users CLI) serialise with it too.
 */
import type { Statement } from 'better-sqlite3'
import type { SqliteDatabase } from './sqlite-database.js'
import {
  decideRotation,
  familyRevocation,
  rotatedFamily,
  type FamilyRecord,
  type Revocation,
  type RevocationBatch,
  type RotationOutcome,
  type RotationRequest,
  type SessionStore,
  type SessionUser
} from './session-store.js'

interface FamilyRow {
  id: string
  subject: string
  user_json: string
  auth_time: number
  refresh_jti: string
  previous_refresh_jti: string | null
  access_jti: string
  rotated_at: number
  refresh_expires_at: number
  access_expires_at: number
  generation: number
  user_agent: string | null
  client_address: string | null
  revoked_at: number | null
}

interface RevocationRow {
  seq: number
  kind: Revocation['kind']
  id: string
  not_before: number | null
  expires_at: number
}

type RevocationTuple = [kind: Revocation['kind'], id: string, notBefore: number | null, expiresAt: number]

function tupleToRevocation ([kind, id, notBefore, expiresAt]: RevocationTuple): Revocation {
  return kind === 'subject' ? { kind, id, notBefore: notBefore as number, expiresAt } : { kind, id, expiresAt }
}

function toFamily (row: FamilyRow): FamilyRecord {
  return {
    id: row.id,
    user: JSON.parse(row.user_json) as SessionUser,
    authTime: row.auth_time,
    refreshJti: row.refresh_jti,
    previousRefreshJti: row.previous_refresh_jti,
    accessJti: row.access_jti,
    rotatedAt: row.rotated_at,
    refreshExpiresAt: row.refresh_expires_at,
    accessExpiresAt: row.access_expires_at,
    generation: row.generation,
    userAgent: row.user_agent,
    clientAddress: row.client_address,
    revokedAt: row.revoked_at
  }
}

interface QueuedRotation {
  request: RotationRequest
  resolve: (outcome: RotationOutcome) => void
  reject: (error: unknown) => void
}

function toRevocation (row: RevocationRow): Revocation {
  return row.kind === 'subject'
    ? { kind: 'subject', id: row.id, notBefore: row.not_before as number, expiresAt: row.expires_at }
    : { kind: row.kind, id: row.id, expiresAt: row.expires_at }
}

export class SqliteSessionStore implements SessionStore {
  readonly #db: SqliteDatabase
  readonly #sql: {
    insertFamily: Statement
    getFamily: Statement<[string], FamilyRow>
    updateRotation: Statement
    rotateCurrent: Statement<[Record<string, string | number | null>], FamilyRow>
    markRevoked: Statement
    familiesOf: Statement<[string, number], FamilyRow>
    liveFamiliesOf: Statement<[string], FamilyRow>
    insertRevocation: Statement
    liveRevocations: Statement<[number], RevocationTuple>
    revocationsAfter: Statement<[number], RevocationRow>
    lastSeq: Statement<[], { seq: number | null }>
    highestSeq: Statement<[], { seq: number }>
    subjectRevokedAfter: Statement<[string, number], { found: number }>
    purgeRevocations: Statement
    purgeFamilies: Statement
    dataVersion: Statement<[], number>
  }

  #dataVersion = -1

  readonly #createFamily: (family: FamilyRecord, after: number) => boolean
  readonly #rotate: (request: RotationRequest) => RotationOutcome
  readonly #rotateGroup: (group: QueuedRotation[]) => Array<{ ok: true, outcome: RotationOutcome } | { ok: false, error: unknown }>
  #queued: QueuedRotation[] = []
  readonly #revokeFamily: (familyId: string, now: number, subject?: string) => Revocation | undefined
  readonly #revokeSubject: (revocation: Extract<Revocation, { kind: 'subject' }>, now: number) => Revocation[]

  constructor (db: SqliteDatabase) {
    this.#db = db
    this.#sql = {
      insertFamily: db.prepare(`INSERT INTO families (id, subject, user_json, auth_time, refresh_jti, previous_refresh_jti,
        access_jti, rotated_at, refresh_expires_at, access_expires_at, generation, user_agent, client_address, revoked_at)
        VALUES (@id, @subject, @user_json, @auth_time, @refresh_jti, @previous_refresh_jti, @access_jti, @rotated_at,
        @refresh_expires_at, @access_expires_at, @generation, @user_agent, @client_address, @revoked_at)`),
      getFamily: db.prepare('SELECT * FROM families WHERE id = ?'),
      // The WHERE on refresh_jti makes the update itself a compare-and-set, on top of the transaction.
      updateRotation: db.prepare(`UPDATE families SET user_json = @user_json, refresh_jti = @refresh_jti,
        previous_refresh_jti = @previous_refresh_jti, access_jti = @access_jti, rotated_at = @rotated_at,
        refresh_expires_at = @refresh_expires_at, access_expires_at = @access_expires_at, generation = @generation,
        client_address = @client_address
        WHERE id = @id AND refresh_jti = @expected_refresh_jti AND revoked_at IS NULL`),
      // The common case of a rotation in one statement (an implicit transaction of its own): the presented
      // token is the family's current one. SET reads the row as it was, so previous_refresh_jti gets the old
      // refresh_jti; RETURNING gives the row as it now is. Anything else (replay, reuse, unknown family) finds
      // no row and goes through the transaction below, which reads the family first. One statement instead of
      // BEGIN IMMEDIATE, SELECT, UPDATE and COMMIT (four round trips into SQLite): the refresh route's profile
      // in docs/benchmarks.md.
      rotateCurrent: db.prepare(`UPDATE families SET user_json = coalesce(@user_json, user_json), refresh_jti = @refresh_jti,
        previous_refresh_jti = refresh_jti, access_jti = @access_jti, rotated_at = @rotated_at,
        refresh_expires_at = @refresh_expires_at, access_expires_at = @access_expires_at, generation = generation + 1,
        client_address = coalesce(@client_address, client_address)
        WHERE id = @id AND subject = @subject AND refresh_jti = @expected_refresh_jti AND revoked_at IS NULL
        RETURNING *`),
      markRevoked: db.prepare('UPDATE families SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      familiesOf: db.prepare(`SELECT * FROM families WHERE subject = ? AND revoked_at IS NULL AND refresh_expires_at > ?
        ORDER BY auth_time, id`),
      liveFamiliesOf: db.prepare('SELECT * FROM families WHERE subject = ? AND revoked_at IS NULL'),
      insertRevocation: db.prepare('INSERT INTO revocations (kind, id, not_before, expires_at) VALUES (?, ?, ?, ?)'),
      // Rows as arrays of the four columns needed: loading a million revocations at start-up spent most of
      // its time making row objects (about 2.0 s for the rows against 1.3 s as arrays, `npm run bench`).
      liveRevocations: db.prepare<[number], RevocationTuple>('SELECT kind, id, not_before, expires_at FROM revocations WHERE expires_at > ? ORDER BY seq').raw(true),
      revocationsAfter: db.prepare('SELECT * FROM revocations WHERE seq > ? ORDER BY seq LIMIT 10000'),
      lastSeq: db.prepare('SELECT max(seq) AS seq FROM revocations'),
      // AUTOINCREMENT's counter, not max(seq): it never goes back, even when a purge deleted the newest rows.
      highestSeq: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'revocations'"),
      subjectRevokedAfter: db.prepare("SELECT 1 AS found FROM revocations WHERE kind = 'subject' AND id = ? AND seq > ? LIMIT 1"),
      purgeRevocations: db.prepare('DELETE FROM revocations WHERE expires_at < ?'),
      // Two plain comparisons rather than max(), so the index on refresh_expires_at is used.
      purgeFamilies: db.prepare('DELETE FROM families WHERE refresh_expires_at < @before AND access_expires_at < @before'),
      // Changes when another connection to the file commits (this process's own commits leave it alone).
      // Reads no table: about a microsecond, so it can be asked every 10 ms.
      dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(true)
    }

    this.#createFamily = db.transaction((family: FamilyRecord, after: number): boolean => {
      if (this.#sql.subjectRevokedAfter.get(family.user.id, after) !== undefined) return false
      this.#sql.insertFamily.run({
        id: family.id,
        subject: family.user.id,
        user_json: JSON.stringify(family.user),
        auth_time: family.authTime,
        refresh_jti: family.refreshJti,
        previous_refresh_jti: family.previousRefreshJti,
        access_jti: family.accessJti,
        rotated_at: family.rotatedAt,
        refresh_expires_at: family.refreshExpiresAt,
        access_expires_at: family.accessExpiresAt,
        generation: family.generation,
        user_agent: family.userAgent,
        client_address: family.clientAddress,
        revoked_at: family.revokedAt
      })
      return true
    }).immediate

    this.#rotate = db.transaction((request: RotationRequest): RotationOutcome => {
      const row = this.#sql.getFamily.get(request.familyId)
      const family = row === undefined ? undefined : toFamily(row)
      switch (decideRotation(family, request)) {
        case 'reject':
          return { outcome: 'rejected' }
        case 'rotate': {
          const next = rotatedFamily(family as FamilyRecord, request)
          this.#sql.updateRotation.run({
            id: next.id,
            expected_refresh_jti: request.presentedJti,
            user_json: JSON.stringify(next.user),
            refresh_jti: next.refreshJti,
            previous_refresh_jti: next.previousRefreshJti,
            access_jti: next.accessJti,
            rotated_at: next.rotatedAt,
            refresh_expires_at: next.refreshExpiresAt,
            access_expires_at: next.accessExpiresAt,
            generation: next.generation,
            client_address: next.clientAddress
          })
          return { outcome: 'rotated', family: next }
        }
        case 'replay':
          return { outcome: 'replayed', family: family as FamilyRecord }
        case 'reuse':
          return { outcome: 'reused', family: family as FamilyRecord, revocation: this.#markRevoked(family as FamilyRecord, request.now) }
      }
    }).immediate

    this.#rotateGroup = db.transaction((group: QueuedRotation[]) => group.map((queued) => {
      try {
        return { ok: true as const, outcome: this.#rotateOne(queued.request) }
      } catch (error) {
        // An error that made SQLite roll the whole transaction back (a full disk, say) ends the group here: the
        // rest would otherwise run outside any transaction. The commit then fails and every caller hears it.
        if (!db.inTransaction) throw error
        return { ok: false as const, error }
      }
    })).immediate

    this.#revokeFamily = db.transaction((familyId: string, now: number, subject?: string): Revocation | undefined => {
      const row = this.#sql.getFamily.get(familyId)
      if (row === undefined || (subject !== undefined && row.subject !== subject)) return undefined
      const family = toFamily(row)
      return family.revokedAt === null ? this.#markRevoked(family, now) : familyRevocation(family)
    }).immediate

    this.#revokeSubject = db.transaction((revocation: Extract<Revocation, { kind: 'subject' }>, now: number): Revocation[] => {
      const recorded: Revocation[] = [this.#record(revocation)]
      for (const row of this.#sql.liveFamiliesOf.all(revocation.id)) {
        recorded.push(this.#markRevoked(toFamily(row), now))
      }
      return recorded
    }).immediate
  }

  /** The revocation log's sequence number so far; `createFamily` refuses after a subject revocation beyond it. */
  async revocationMark (): Promise<string> {
    return String(this.#sql.highestSeq.get()?.seq ?? 0)
  }

  async createFamily (family: FamilyRecord, mark: string): Promise<boolean> {
    if (!/^\d{1,15}$/.test(mark)) throw new TypeError(`"${mark}" is not a revocation mark of this store`)
    // One IMMEDIATE transaction: a subject revocation by another connection or process (the users CLI) is
    // either committed before the check sees it, or waits until the family exists and then revokes it.
    return this.#createFamily(family, Number(mark))
  }

  /**
   * Rotations are committed in groups: the ones asked for while the event loop handles one round of I/O
   * (every refresh whose request arrived in it) are written by one transaction, right after that round
   * (setImmediate), and each caller gets its answer once the group is committed. One commit, so one WAL
   * append and one release of the file lock, instead of one per rotation: a rotation alone cost 31 µs of CPU
   * and 20 µs in groups of ten (`bench/sqlite-rotation.ts`). Each rotation inside keeps its own logic and
   * order, so two refreshes of one family in one group get the same answers as one after the other. A lone
   * rotation runs as its single statement, as before.
   */
  async rotate (request: RotationRequest): Promise<RotationOutcome> {
    return await new Promise<RotationOutcome>((resolve, reject) => {
      if (this.#queued.push({ request, resolve, reject }) === 1) setImmediate(this.#commitQueued)
    })
  }

  readonly #commitQueued = (): void => {
    const group = this.#queued
    if (group.length === 0) return
    this.#queued = []
    if (group.length === 1) {
      const { request, resolve, reject } = group[0] as QueuedRotation
      try {
        resolve(this.#rotateOne(request))
      } catch (error) {
        reject(error)
      }
      return
    }
    let outcomes: Array<{ ok: true, outcome: RotationOutcome } | { ok: false, error: unknown }>
    try {
      outcomes = this.#rotateGroup(group)
    } catch (error) {
      // The group's transaction failed as a whole (the database busy past its timeout, a full disk, a
      // closed connection): nothing of it was written, and every caller hears why.
      for (const queued of group) queued.reject(error)
      return
    }
    group.forEach((queued, i) => {
      const result = outcomes[i] as (typeof outcomes)[number]
      if (result.ok) queued.resolve(result.outcome)
      else queued.reject(result.error)
    })
  }

  /** One rotation: the single-statement common case, else the transaction that reads the family first. */
  #rotateOne (request: RotationRequest): RotationOutcome {
    const { next } = request
    const row = this.#sql.rotateCurrent.get({
      id: request.familyId,
      subject: request.subject,
      expected_refresh_jti: request.presentedJti,
      user_json: next.user === undefined ? null : JSON.stringify(next.user),
      refresh_jti: next.refreshJti,
      access_jti: next.accessJti,
      rotated_at: request.now,
      refresh_expires_at: next.refreshExpiresAt,
      access_expires_at: next.accessExpiresAt,
      client_address: next.clientAddress ?? null
    })
    // Inside a group's transaction, the second one is a savepoint: a rotation that throws takes back only
    // its own writes, and the others of the group stand.
    return row === undefined ? this.#rotate(request) : { outcome: 'rotated', family: toFamily(row) }
  }

  async listFamilies (subject: string, now: number): Promise<FamilyRecord[]> {
    return this.#sql.familiesOf.all(subject, now).map(toFamily)
  }

  async revokeFamily (familyId: string, now: number, subject?: string): Promise<Revocation | undefined> {
    return this.#revokeFamily(familyId, now, subject)
  }

  async revokeToken (revocation: Extract<Revocation, { kind: 'token' }>): Promise<void> {
    this.#record(revocation)
  }

  async revokeSubject (revocation: Extract<Revocation, { kind: 'subject' }>, now: number): Promise<Revocation[]> {
    return this.#revokeSubject(revocation, now)
  }

  async loadRevocations (now: number): Promise<RevocationBatch> {
    return this.#db.transaction(() => ({
      revocations: this.#sql.liveRevocations.all(now).map(tupleToRevocation),
      cursor: String(this.#sql.lastSeq.get()?.seq ?? 0)
    }))()
  }

  async revocationsSince (cursor: string): Promise<RevocationBatch> {
    const rows = this.#sql.revocationsAfter.all(Number(cursor))
    const last = rows.at(-1)
    return { revocations: rows.map(toRevocation), cursor: last === undefined ? cursor : String(last.seq) }
  }

  changedByOthers (): boolean {
    const version = this.#sql.dataVersion.get() as number
    if (version === this.#dataVersion) return false
    this.#dataVersion = version
    return true
  }

  async purgeExpired (before: number): Promise<void> {
    this.#db.transaction(() => {
      this.#sql.purgeRevocations.run(before)
      this.#sql.purgeFamilies.run({ before })
    }).immediate()
  }

  async ping (): Promise<void> {
    this.#sql.lastSeq.get()
  }

  async close (): Promise<void> {
    // Rotations already asked for are committed (or refused) before the connection goes.
    if (this.#db.open) this.#commitQueued()
    if (this.#db.open) this.#db.close()
  }

  #markRevoked (family: FamilyRecord, now: number): Revocation {
    this.#sql.markRevoked.run(now, family.id)
    return this.#record(familyRevocation({ ...family, revokedAt: now }))
  }

  #record (revocation: Revocation): Revocation {
    this.#sql.insertRevocation.run(revocation.kind, revocation.id, revocation.kind === 'subject' ? revocation.notBefore : null, revocation.expiresAt)
    return revocation
  }
}
