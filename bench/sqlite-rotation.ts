/**
 * What one SQLite rotation costs, for reading the refresh route's profile (not part of `npm run bench`):
 *
 *   node --import tsx bench/sqlite-rotation.ts [--memory] [--synchronous OFF|NORMAL|FULL]
 *
 * Creates 3,000 families in a fresh database file (or in memory), then rotates each one with its current
 * refresh token, five times over, and prints the CPU µs per rotation (best pass) of three variants: one
 * `SqliteSessionStore.rotate` per family; the user read first (`findById`, as a refresh does); and ten
 * rotations inside one transaction (what a group commit would do).
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { newId } from '../src/common/random-id.js'
import { openSqliteDatabase } from '../src/stores/sqlite-database.js'
import { SqliteSessionStore } from '../src/stores/sqlite-session-store.js'
import type { FamilyRecord, RotationRequest } from '../src/stores/session-store.js'
import { SqliteUserStore } from '../src/users/sqlite-user-store.js'

const { values } = parseArgs({ options: { memory: { type: 'boolean', default: false }, synchronous: { type: 'string' } } })
const db = openSqliteDatabase({ path: values.memory ? ':memory:' : join(mkdtempSync(join(tmpdir(), 'rotation-')), 'db.sqlite') })
if (values.synchronous !== undefined) db.pragma(`synchronous = ${values.synchronous === 'OFF' ? 'OFF' : values.synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`)
const store = new SqliteSessionStore(db)
const users = new SqliteUserStore(db)
const user = { id: 'user-1', username: 'user-1', roles: ['member'] }
await users.insert({ ...user, passwordHash: 'unused', disabled: false, createdAt: 1, updatedAt: 1 })

const COUNT = 3000
let now = 1_800_000_000
const families: FamilyRecord[] = Array.from({ length: COUNT }, () => ({
  id: newId(),
  user,
  authTime: now,
  refreshJti: newId(),
  previousRefreshJti: null,
  accessJti: newId(),
  rotatedAt: now,
  refreshExpiresAt: now + 3600,
  accessExpiresAt: now + 60,
  generation: 0,
  userAgent: 'bench',
  clientAddress: null,
  revokedAt: null
}))
const mark = await store.revocationMark()
for (const family of families) await store.createFamily(family, mark)
const current = new Map(families.map((f) => [f.id, f.refreshJti]))

function request (family: FamilyRecord): RotationRequest {
  return {
    familyId: family.id,
    subject: user.id,
    presentedJti: current.get(family.id) as string,
    now,
    graceSeconds: 10,
    next: { refreshJti: newId(), accessJti: newId(), refreshExpiresAt: now + 3600, accessExpiresAt: now + 60, user, clientAddress: '192.0.2.1' }
  }
}
async function rotate (family: FamilyRecord): Promise<void> {
  const r = request(family)
  const outcome = await store.rotate(r)
  if (outcome.outcome !== 'rotated') throw new Error(`expected a rotation, got ${outcome.outcome}`)
  current.set(family.id, r.next.refreshJti)
}

const variants: Record<string, () => Promise<void>> = {
  'one rotate per family': async () => { for (const family of families) await rotate(family) },
  'findById, then rotate': async () => { for (const family of families) { await users.findById(user.id); await rotate(family) } },
  'ten rotations per transaction': async () => {
    for (let i = 0; i < COUNT; i += 10) {
      const pending: Array<Promise<void>> = []
      // rotate() runs its SQL synchronously when called, so all ten run inside this one transaction.
      db.transaction(() => { for (const family of families.slice(i, i + 10)) pending.push(rotate(family)) })()
      await Promise.all(pending)
    }
  }
}
const best = new Map<string, number>()
for (let pass = 0; pass < 5; pass++) {
  for (const [name, run] of Object.entries(variants)) {
    now++
    const start = process.cpuUsage()
    await run()
    const used = process.cpuUsage(start)
    best.set(name, Math.min(best.get(name) ?? Infinity, (used.user + used.system) / COUNT))
  }
}
process.stdout.write(`${values.memory ? 'in memory' : 'file (WAL)'}, synchronous=${String(db.pragma('synchronous', { simple: true }))}; CPU µs per rotation, best of 5 passes over ${COUNT} families:\n`)
for (const [name, us] of best) process.stdout.write(`  ${name.padEnd(32)} ${us.toFixed(1)}\n`)
db.close()
