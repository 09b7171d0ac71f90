/**
 * The store contract suite: every backend runs exactly these tests (memory, SQLite, Redis).
 * See src/stores/session-store.ts for the rules they prove.
 */
import type { Test } from 'tap'
import type { Revocation } from '../../src/stores/session-store.js'
import { newId } from '../../src/common/random-id.js'
import type { FamilyRecord, RotationRequest, SessionStore } from '../../src/stores/session-store.js'

export interface ContractOptions {
  /** A fresh, empty store; the suite closes it. */
  open: (t: Test) => Promise<SessionStore>
  /** Optional: two stores over one shared backend (two processes or instances). */
  openPair?: (t: Test) => Promise<[SessionStore, SessionStore]>
}

export const NOW = 1_800_000_000
const user = (id = 'user-1') => ({ id, username: `name-${id}`, roles: ['reader'] })

export function family (overrides: Partial<FamilyRecord> = {}): FamilyRecord {
  return {
    id: newId(),
    user: user(),
    authTime: NOW,
    refreshJti: newId(),
    previousRefreshJti: null,
    accessJti: newId(),
    rotatedAt: NOW,
    refreshExpiresAt: NOW + 3600,
    accessExpiresAt: NOW + 60,
    generation: 0,
    userAgent: 'test-agent',
    clientAddress: '192.0.2.1',
    revokedAt: null,
    ...overrides
  }
}

/** Records a family as a login does: with a mark taken just before. */
export async function create (store: SessionStore, f: FamilyRecord): Promise<void> {
  if (!await store.createFamily(f, await store.revocationMark())) throw new Error('createFamily refused')
}

export function rotation (f: FamilyRecord, presentedJti: string, now: number, extra: Partial<RotationRequest['next']> = {}): RotationRequest {
  return {
    familyId: f.id,
    subject: f.user.id,
    presentedJti,
    now,
    graceSeconds: 10,
    next: { refreshJti: newId(), accessJti: newId(), refreshExpiresAt: now + 3600, accessExpiresAt: now + 60, ...extra }
  }
}

export function storeContract (t: Test, options: ContractOptions): void {
  const open = options.open

  t.test('a created family is listed for its subject only, while live', async (t) => {
    const store = await open(t)
    const mine = family()
    const expired = family({ refreshExpiresAt: NOW - 1, accessExpiresAt: NOW - 1 })
    const other = family({ user: user('user-2') })
    for (const f of [mine, expired, other]) await create(store, f)
    t.same(await store.listFamilies('user-1', NOW), [mine])
    t.same(await store.listFamilies('user-2', NOW), [other])
    t.same(await store.listFamilies('nobody', NOW), [])
  })

  t.test('rotating the current refresh token hands the family to the successor', async (t) => {
    const store = await open(t)
    const f = family()
    await create(store, f)
    const request = rotation(f, f.refreshJti, NOW + 5)
    const result = await store.rotate(request)
    t.equal(result.outcome, 'rotated')
    const expected = { ...f, ...request.next, previousRefreshJti: f.refreshJti, rotatedAt: NOW + 5, generation: 1 }
    t.same(result.outcome === 'rotated' && result.family, expected)
    t.same(await store.listFamilies('user-1', NOW + 5), [expected])
  })

  t.test('a fresher profile given at rotation replaces the stored one; none keeps it', async (t) => {
    const store = await open(t)
    const f = family()
    await create(store, f)
    const first = await store.rotate(rotation(f, f.refreshJti, NOW + 1))
    t.same(first.outcome === 'rotated' && first.family.user, f.user)
    const current = first.outcome === 'rotated' ? first.family : f
    const fresher = { id: 'user-1', username: 'renamed', roles: ['admin'] }
    const second = await store.rotate(rotation(current, current.refreshJti, NOW + 2, { user: fresher }))
    t.same(second.outcome === 'rotated' && second.family.user, fresher)
  })

  t.test('the immediate predecessor inside the grace window gets the same successor', async (t) => {
    const store = await open(t)
    const f = family()
    await create(store, f)
    const first = await store.rotate(rotation(f, f.refreshJti, NOW))
    const replay = await store.rotate(rotation(f, f.refreshJti, NOW + 10))
    t.equal(replay.outcome, 'replayed')
    t.same(replay.outcome === 'replayed' && replay.family, first.outcome === 'rotated' && first.family)
  })

  t.test('the predecessor after the grace window is reuse and revokes the family', async (t) => {
    const store = await open(t)
    const f = family()
    await create(store, f)
    const first = await store.rotate(rotation(f, f.refreshJti, NOW))
    const late = await store.rotate(rotation(f, f.refreshJti, NOW + 11))
    t.equal(late.outcome, 'reused')
    t.same(late.outcome === 'reused' && late.revocation, { kind: 'family', id: f.id, expiresAt: NOW + 3600 })
    t.same(await store.listFamilies('user-1', NOW + 11), [], 'a revoked family is not live')
    const successor = first.outcome === 'rotated' ? first.family.refreshJti : ''
    t.equal((await store.rotate(rotation(f, successor, NOW + 12))).outcome, 'rejected', 'the successor dies with its family')
  })

  t.test('a token two generations old is reuse even inside the grace window', async (t) => {
    const store = await open(t)
    const f = family()
    await create(store, f)
    const first = await store.rotate(rotation(f, f.refreshJti, NOW))
    const second = first.outcome === 'rotated' ? await store.rotate(rotation(f, first.family.refreshJti, NOW + 1)) : first
    t.equal(second.outcome, 'rotated')
    t.equal((await store.rotate(rotation(f, f.refreshJti, NOW + 2))).outcome, 'reused')
  })

  t.test('an id the family never issued is reuse', async (t) => {
    const store = await open(t)
    const f = family()
    await create(store, f)
    t.equal((await store.rotate(rotation(f, newId(), NOW))).outcome, 'reused')
  })

  t.test('unknown families and families of another subject are rejected without side effects', async (t) => {
    const store = await open(t)
    const f = family()
    await create(store, f)
    t.equal((await store.rotate(rotation(family(), newId(), NOW))).outcome, 'rejected')
    t.equal((await store.rotate({ ...rotation(f, f.refreshJti, NOW), subject: 'user-2' })).outcome, 'rejected')
    t.same(await store.listFamilies('user-1', NOW), [f], 'the family is untouched')
    t.same((await store.loadRevocations(NOW)).revocations, [])
  })

  t.test('concurrent rotations of one token: exactly one wins, the rest replay its successor', async (t) => {
    const store = await open(t)
    const f = family()
    await create(store, f)
    const results = await Promise.all(Array.from({ length: 10 }, async () => await store.rotate(rotation(f, f.refreshJti, NOW))))
    const rotated = results.filter((r) => r.outcome === 'rotated')
    t.equal(rotated.length, 1, 'one rotation')
    t.equal(results.filter((r) => r.outcome === 'replayed').length, 9, 'nine replays')
    const winner = rotated[0]?.outcome === 'rotated' ? rotated[0].family : undefined
    for (const r of results) t.same(r.outcome !== 'rejected' && r.family, winner, 'everyone holds the same successor')
    t.same(await store.listFamilies('user-1', NOW), [winner], 'one live chain')
  })

  t.test('revoking a family: recorded once, owner-checked, idempotent', async (t) => {
    const store = await open(t)
    const f = family()
    await create(store, f)
    t.equal(await store.revokeFamily(f.id, NOW, 'user-2'), undefined, 'not the owner')
    t.equal(await store.revokeFamily(newId(), NOW), undefined, 'unknown family')
    const expected: Revocation = { kind: 'family', id: f.id, expiresAt: NOW + 3600 }
    t.same(await store.revokeFamily(f.id, NOW, 'user-1'), expected)
    t.same(await store.revokeFamily(f.id, NOW + 1), expected, 'again: same answer')
    t.same((await store.loadRevocations(NOW)).revocations, [expected], 'recorded once')
    t.equal((await store.rotate(rotation(f, f.refreshJti, NOW + 2))).outcome, 'rejected')
  })

  t.test('revoking a subject revokes all its live families, atomically recorded', async (t) => {
    const store = await open(t)
    const a = family()
    const b = family({ accessExpiresAt: NOW + 7200 })
    const other = family({ user: user('user-2') })
    for (const f of [a, b, other]) await create(store, f)
    const subject: Revocation = { kind: 'subject', id: 'user-1', notBefore: NOW, expiresAt: NOW + 7200 }
    const recorded = await store.revokeSubject(subject, NOW)
    t.same(recorded[0], subject)
    t.same(new Set(recorded.slice(1).map((r) => r.id)), new Set([a.id, b.id]))
    t.same(recorded.find((r) => r.id === b.id), { kind: 'family', id: b.id, expiresAt: NOW + 7200 }, 'expires with the longest-lived token')
    t.same(await store.listFamilies('user-1', NOW), [])
    t.same(await store.listFamilies('user-2', NOW), [other])
    t.same((await store.loadRevocations(NOW)).revocations.length, 3)
  })

  t.test('a login whose mark predates a revocation of its subject is refused, and records nothing', async (t) => {
    const store = await open(t)
    const before = await store.revocationMark()
    const subject: Revocation = { kind: 'subject', id: 'user-1', notBefore: NOW, expiresAt: NOW + 3600 }
    await store.revokeSubject(subject, NOW)
    const late = family()
    t.equal(await store.createFamily(late, before), false, 'the mark was taken before the revocation: refused')
    t.same(await store.listFamilies('user-1', NOW), [], 'nothing recorded')
    t.equal((await store.rotate(rotation(late, late.refreshJti, NOW))).outcome, 'rejected', 'its refresh token names no family')
    t.same((await store.loadRevocations(NOW)).revocations, [subject], 'and nothing logged')
    const other = family({ user: user('user-2') })
    t.equal(await store.createFamily(other, before), true, 'another subject is not affected')
    const after = await store.revocationMark()
    const fresh = family()
    t.equal(await store.createFamily(fresh, after), true, 'a mark taken after the revocation is accepted')
    t.same(await store.listFamilies('user-1', NOW), [fresh])
  })

  t.test('only a subject revocation after the mark refuses a login; family and token revocations do not', async (t) => {
    const store = await open(t)
    const f = family()
    await create(store, f)
    const mark = await store.revocationMark()
    await store.revokeFamily(f.id, NOW)
    await store.revokeToken({ kind: 'token', id: newId(), expiresAt: NOW + 60 })
    await store.revokeSubject({ kind: 'subject', id: 'user-2', notBefore: NOW, expiresAt: NOW + 60 }, NOW)
    t.equal(await store.createFamily(family(), mark), true)
    const second = await store.revocationMark()
    await store.revokeSubject({ kind: 'subject', id: 'user-1', notBefore: NOW, expiresAt: NOW + 60 }, NOW)
    await store.revokeSubject({ kind: 'subject', id: 'user-1', notBefore: NOW, expiresAt: NOW + 60 }, NOW)
    t.equal(await store.createFamily(family(), second), false, 'two revocations after the mark: refused')
    t.equal(await store.createFamily(family(), mark), false, 'an older mark: refused')
  })

  t.test('logins racing a subject revocation: none of those with an earlier mark survives it', async (t) => {
    const store = await open(t)
    for (let round = 0; round < 5; round++) {
      const mark = await store.revocationMark()
      const logins = Array.from({ length: 20 }, () => family())
      const revoked = store.revokeSubject({ kind: 'subject', id: 'user-1', notBefore: NOW, expiresAt: NOW + 60 }, NOW)
      const created = await Promise.all(logins.map(async (f, i) => {
        if (i === 10) await revoked
        return await store.createFamily(f, mark)
      }))
      await revoked
      t.same(await store.listFamilies('user-1', NOW), [], `round ${round + 1}: every family is refused or revoked (${created.filter(Boolean).length} created first)`)
    }
  })

  t.test('marks stay meaningful when revocations are purged', async (t) => {
    const store = await open(t)
    await store.revokeSubject({ kind: 'subject', id: 'user-1', notBefore: NOW, expiresAt: NOW + 10 }, NOW)
    await store.purgeExpired(NOW + 20)
    t.same((await store.loadRevocations(0)).revocations, [], 'everything purged')
    const mark = await store.revocationMark()
    t.equal(await store.createFamily(family(), mark), true, 'an expired, purged revocation refuses nothing')
    await store.revokeSubject({ kind: 'subject', id: 'user-1', notBefore: NOW + 20, expiresAt: NOW + 80 }, NOW + 20)
    t.equal(await store.createFamily(family(), mark), false, 'a revocation after the mark still refuses it')
  })

  t.test('a mark that is not one of this store is refused', async (t) => {
    const store = await open(t)
    for (const mark of ['', 'x', '1.5', '-1', '1 OR 1', '9'.repeat(40)]) {
      await t.rejects(store.createFamily(family(), mark), TypeError, JSON.stringify(mark))
    }
    t.same(await store.listFamilies('user-1', NOW), [])
  })

  t.test('the revocation log: load what is live, then follow what comes after', async (t) => {
    const store = await open(t)
    const initial = await store.loadRevocations(NOW)
    t.same(initial.revocations, [])
    const old: Revocation = { kind: 'token', id: newId(), expiresAt: NOW - 1 }
    const live: Revocation = { kind: 'token', id: newId(), expiresAt: NOW + 60 }
    await store.revokeToken(old as Extract<Revocation, { kind: 'token' }>)
    await store.revokeToken(live as Extract<Revocation, { kind: 'token' }>)
    const loaded = await store.loadRevocations(NOW)
    t.same(loaded.revocations, [live], 'only revocations still in force')
    const since = await store.revocationsSince(initial.cursor)
    t.same(since.revocations, [old, live], 'the log since a cursor has everything after it')
    t.equal(since.cursor, loaded.cursor)
    const none = await store.revocationsSince(loaded.cursor)
    t.same(none, { revocations: [], cursor: loaded.cursor }, 'nothing new')
    const later: Revocation = { kind: 'token', id: newId(), expiresAt: NOW + 120 }
    await store.revokeToken(later as Extract<Revocation, { kind: 'token' }>)
    t.same((await store.revocationsSince(loaded.cursor)).revocations, [later])
  })

  t.test('purging drops what expired and keeps cursors valid', async (t) => {
    const store = await open(t)
    const gone = family({ refreshExpiresAt: NOW - 10, accessExpiresAt: NOW - 20 })
    const kept = family({ refreshExpiresAt: NOW + 10 })
    await create(store, gone)
    await create(store, kept)
    const start = await store.loadRevocations(NOW)
    const expired: Revocation = { kind: 'token', id: newId(), expiresAt: NOW - 5 }
    const live: Revocation = { kind: 'token', id: newId(), expiresAt: NOW + 5 }
    await store.revokeToken(expired as Extract<Revocation, { kind: 'token' }>)
    await store.revokeToken(live as Extract<Revocation, { kind: 'token' }>)
    await store.purgeExpired(NOW)
    t.same((await store.loadRevocations(0)).revocations, [live], 'expired revocations are gone')
    t.same(await store.revokeFamily(gone.id, NOW), undefined, 'the expired family is gone')
    t.ok(await store.revokeFamily(kept.id, NOW), 'the live family stays')
    const since = await store.revocationsSince(start.cursor)
    t.same(since.revocations.map((r) => r.id), [live.id, kept.id], 'a cursor from before the purge still works')
  })

  t.test('ping answers', async (t) => {
    const store = await open(t)
    await t.resolves(store.ping())
  })

  const openPair = options.openPair
  if (openPair !== undefined) {
    t.test('two stores over one backend share families and revocations', async (t) => {
      const [a, b] = await openPair(t)
      const f = family()
      await create(a, f)
      const start = await b.loadRevocations(NOW)
      const rotated = await b.rotate(rotation(f, f.refreshJti, NOW))
      t.equal(rotated.outcome, 'rotated', 'b rotates what a created')
      t.equal((await a.rotate(rotation(f, f.refreshJti, NOW + 1))).outcome, 'replayed', 'a sees b\'s rotation')
      await a.revokeFamily(f.id, NOW + 2)
      t.same((await b.revocationsSince(start.cursor)).revocations.map((r) => r.id), [f.id], 'b follows a\'s revocations')
    })

    t.test('a subject revoked through one store refuses a login with an earlier mark through the other', async (t) => {
      const [a, b] = await openPair(t)
      const mark = await a.revocationMark()
      await b.revokeSubject({ kind: 'subject', id: 'user-1', notBefore: NOW, expiresAt: NOW + 60 }, NOW)
      t.equal(await a.createFamily(family(), mark), false)
      t.equal(await a.createFamily(family(), await a.revocationMark()), true)
      const racing = Array.from({ length: 20 }, () => family())
      const markB = await b.revocationMark()
      const revoked = a.revokeSubject({ kind: 'subject', id: 'user-1', notBefore: NOW, expiresAt: NOW + 60 }, NOW)
      await Promise.all(racing.map(async (f) => await b.createFamily(f, markB)))
      await revoked
      t.same(await b.listFamilies('user-1', NOW), [], 'nothing with the earlier mark survives, whichever store it went through')
    })

    t.test('concurrent rotations through two stores: one chain', async (t) => {
      const [a, b] = await openPair(t)
      const f = family()
      await create(a, f)
      const results = await Promise.all(Array.from({ length: 10 }, async (_, i) => await (i % 2 === 0 ? a : b).rotate(rotation(f, f.refreshJti, NOW))))
      t.equal(results.filter((r) => r.outcome === 'rotated').length, 1)
      t.equal(results.filter((r) => r.outcome === 'replayed').length, 9)
    })
  }
}
