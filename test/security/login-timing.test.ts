/**
 * Unknown user, wrong password and disabled user (docs/security.md rule 21; ASVS 6.3.8): the same status, the same
 * body bytes, and the same time within noise, with the real OWASP argon2id cost. A statistical check with
 * generous bounds, not a speed goal: 50 tries of each kind, interleaved in a shuffled order so that load from
 * other processes falls on all three alike, and their medians within 20% of each other.
 */
import { test } from 'tap'
import { OWASP_ARGON2ID } from '../../src/users/password-hasher.js'
import { addUser, buildTestApp, TEST_PASSWORD } from '../helper.js'

const TRIES = 50

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

test('unknown user, wrong password and disabled user look and take the same', async (t) => {
  const app = await buildTestApp(t, {
    passwordHashCost: OWASP_ARGON2ID,
    env: { RATE_LIMIT_LOGIN_ACCOUNT_MAX: '1000', RATE_LIMIT_LOGIN_IP_MAX: '1000' }
  })
  await addUser(app, 'alice')
  await addUser(app, 'dave')
  await app.users.setDisabledOf('dave', true)

  const kinds = {
    'unknown user': (i: number) => ({ username: `ghost${i}`, password: TEST_PASSWORD }),
    'wrong password': (i: number) => ({ username: 'alice', password: `${TEST_PASSWORD} ${i}` }),
    'disabled user': () => ({ username: 'dave', password: TEST_PASSWORD })
  }
  type Kind = keyof typeof kinds
  const names = Object.keys(kinds) as Kind[]
  const times: Record<Kind, number[]> = { 'unknown user': [], 'wrong password': [], 'disabled user': [] }
  const bodies = new Set<string>()
  const statuses = new Set<number>()

  async function attempt (kind: Kind, i: number): Promise<number> {
    const started = process.hrtime.bigint()
    const response = await app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: kinds[kind](i) })
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6
    statuses.add(response.statusCode)
    bodies.add(response.body)
    return elapsed
  }

  for (const kind of names) await attempt(kind, -1) // warm-up: the dummy hash, the code paths
  let seed = 0x5eed
  const random = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
  for (let i = 0; i < TRIES; i++) {
    const order = [...names].sort(() => random() - 0.5)
    for (const kind of order) times[kind].push(await attempt(kind, i))
  }

  t.same([...statuses], [401], 'the same status')
  t.equal(bodies.size, 1, 'the same body bytes')
  t.same(JSON.parse([...bodies][0] as string), { statusCode: 401, code: 'ERR_INVALID_CREDENTIALS', error: 'Unauthorized', message: 'Invalid username or password' })
  const medians = names.map((kind) => median(times[kind]))
  const summary = names.map((kind, i) => `${kind} ${(medians[i] as number).toFixed(1)} ms`).join(', ')
  t.comment(`medians of ${TRIES}: ${summary}`)
  const ratio = Math.max(...medians) / Math.min(...medians)
  t.ok(ratio <= 1.2, `medians within 20% of each other (max/min ${ratio.toFixed(3)}; ${summary})`)
  t.ok(Math.min(...medians) > 1, 'each kind did real argon2 work')
})
