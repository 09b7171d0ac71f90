/**
 * Replays (docs/security.md rules 10 and 12): revocation and rotation are keyed on token ids, family and subject,
 * never on the token's text. A revoked or used token re-encoded (other base64url spellings: refused as
 * malformed) or re-encrypted with the same claims (a different text: still revoked, still reuse) gets
 * nothing. Refresh reuse across generations, inside and outside the grace window.
 */
import { test } from 'tap'
import { alterTrailingBits, withSegment, type Kind } from './forge.js'
import { ACCESS, assertInvalid, REFRESH, refreshWith, securityApp, sessionWith, type SecurityApp } from './kit.js'

/** Other spellings of the same token bytes, and the same claims encrypted again (a new IV, a new text). */
function variants (s: SecurityApp, token: string, kind: Kind): Array<[string, string, string]> {
  return [
    ['trailing bits of the tag', withSegment(token, 4, alterTrailingBits), 'malformed'],
    ['trailing bits of the header', withSegment(token, 0, alterTrailingBits), 'malformed'],
    ['"=" padding', `${token}=`, 'malformed'],
    ['"==" padding on the IV', withSegment(token, 2, (x) => `${x}==`), 'malformed'],
    ['re-encrypted with the same claims', s.forge.token(kind, s.forge.open(token, kind).claims), 'revoked']
  ]
}

for (const cache of [true, false]) {
  test(`a logged-out access token stays dead in every spelling (cache ${cache ? 'on' : 'off'})`, async (t) => {
    const s = await securityApp(t, { cache })
    const access = s.alice.jar.get(ACCESS) as string
    const refresh = s.alice.jar.get(REFRESH) as string
    t.equal((await sessionWith(s.app, `${ACCESS}=${access}`)).statusCode, 200, 'valid (and cached when the cache is on)')
    t.equal((await s.alice.request('POST', '/auth/logout')).statusCode, 204)
    t.equal(s.app.sessions.authenticate(access), 'revoked', 'the exact text')
    assertInvalid(t, await sessionWith(s.app, `${ACCESS}=${access}`), 'the exact text over HTTP')
    for (const [name, token, reason] of variants(s, access, 'access')) {
      t.not(token, access)
      t.equal(s.app.sessions.authenticate(token), reason, `${name}: ${reason}`)
      assertInvalid(t, await sessionWith(s.app, `${ACCESS}=${token}`), name)
    }
    for (const [name, token, reason] of variants(s, refresh, 'refresh')) {
      const result = await s.app.sessions.refresh(token)
      t.match(result, { status: 'invalid', reason }, `refresh, ${name}: ${reason}`)
      assertInvalid(t, await refreshWith(s.app, `${REFRESH}=${token}`), `refresh, ${name}`)
    }
  })
}

test('logout-all: every token of the user, re-encrypted or not, is dead', async (t) => {
  const s = await securityApp(t)
  const access = s.alice.jar.get(ACCESS) as string
  const refresh = s.alice.jar.get(REFRESH) as string
  s.clock.advance(1)
  t.equal((await s.alice.request('POST', '/auth/logout-all')).statusCode, 204)
  t.equal(s.app.sessions.authenticate(s.forge.token('access', s.forge.open(access, 'access').claims)), 'revoked')
  t.match(await s.app.sessions.refresh(s.forge.token('refresh', s.forge.open(refresh, 'refresh').claims)), { status: 'invalid', reason: 'revoked' })
})

test('a used refresh token: re-encodings are malformed, re-encryption is reuse and kills the family', async (t) => {
  const s = await securityApp(t)
  const gen0 = s.alice.jar.get(REFRESH) as string
  s.clock.advance(60)
  t.equal((await s.alice.request('POST', '/auth/refresh')).statusCode, 200)
  s.clock.advance(11)
  for (const [name, token, reason] of variants(s, gen0, 'refresh').slice(0, 4)) {
    t.match(await s.app.sessions.refresh(token), { status: 'invalid', reason }, `${name}: ${reason}, not reuse`)
  }
  t.equal((await s.alice.request('GET', '/auth/session')).statusCode, 200, 're-encodings did not count as reuse')
  const reencrypted = s.forge.token('refresh', s.forge.open(gen0, 'refresh').claims)
  assertInvalid(t, await refreshWith(s.app, `${REFRESH}=${reencrypted}`), 'the predecessor re-encrypted, after the grace window')
  t.match(s.logs.audits('refresh.reuse_detected'), [{ userId: s.aliceId, level: 40 }], 'reuse detected, by jti')
  t.equal((await s.alice.request('GET', '/auth/session')).statusCode, 401, 'the family\'s access token died at once')
  t.equal((await s.alice.request('POST', '/auth/refresh')).statusCode, 401, 'and its current refresh token')
})

test('refresh reuse across generations, inside and outside the grace window', async (t) => {
  const cases: Array<[string, (s: SecurityApp, gens: string[]) => Promise<string>, 'replayed' | 'reuse']> = [
    ['the predecessor inside the grace window', async (s, gens) => { s.clock.advance(5); return gens[1] as string }, 'replayed'],
    ['the predecessor re-encrypted inside the grace window', async (s, gens) => { s.clock.advance(5); return s.forge.token('refresh', s.forge.open(gens[1] as string, 'refresh').claims) }, 'replayed'],
    ['the predecessor after the grace window', async (s, gens) => { s.clock.advance(11); return gens[1] as string }, 'reuse'],
    ['two generations old, inside the grace window', async (s, gens) => { s.clock.advance(1); return gens[0] as string }, 'reuse'],
    ['two generations old, after the grace window', async (s, gens) => { s.clock.advance(60); return gens[0] as string }, 'reuse']
  ]
  for (const [name, pick, outcome] of cases) {
    const s = await securityApp(t)
    const gens = [s.alice.jar.get(REFRESH) as string]
    for (let i = 0; i < 2; i++) {
      s.clock.advance(30)
      t.equal((await s.alice.request('POST', '/auth/refresh')).statusCode, 200)
      gens.push(s.alice.jar.get(REFRESH) as string)
    }
    const current = s.app.sessions.authenticate(s.alice.jar.get(ACCESS) as string)
    const response = await refreshWith(s.app, `${REFRESH}=${await pick(s, gens)}`)
    if (outcome === 'replayed') {
      t.equal(response.statusCode, 200, `${name}: 200`)
      t.match(s.logs.audits('refresh.succeeded').at(-1), { replayed: true, generation: 2 }, `${name}: the same successor`)
      t.equal((await s.alice.request('GET', '/auth/session')).statusCode, 200, `${name}: the family lives`)
    } else {
      assertInvalid(t, response, name)
      t.equal(s.logs.audits('refresh.reuse_detected').length, 1, `${name}: reuse detected`)
      t.equal((await s.alice.request('GET', '/auth/session')).statusCode, 401, `${name}: the family's access token died at once`)
      t.equal((await s.alice.request('POST', '/auth/refresh')).statusCode, 401, `${name}: and its newest refresh token`)
    }
    t.equal(typeof current, 'object')
  }
})
