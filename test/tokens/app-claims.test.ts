import { test } from 'tap'
import { appClaimsProblem } from '../../src/tokens/claims.js'
import { accessClaims, joseToken, makeCodec, NOW } from './token-kit.js'

test('app claims in an access token: read when valid, the token refused when not; tokens without them still verify', async (t) => {
  const codec = await makeCodec(t)
  const verify = async (claims: Record<string, unknown>): Promise<unknown> => codec.verify('access', await joseToken({ kind: 'access', claims }), NOW)
  t.same(await verify(accessClaims()), { ok: true, claims: accessClaims() }, 'no claims member: valid, none read')
  const app = { tenant: 'acme', seats: 3, trial: false }
  t.same(await verify(accessClaims({ claims: app })), { ok: true, claims: accessClaims({ claims: app }) })
  const bad: Array<[string, unknown]> = [
    ['an array', ['acme']],
    ['null', null],
    ['a nested object', { tenant: { id: 1 } }],
    ['a null value', { tenant: null }],
    ['a reserved name', { sub: 'someone-else' }],
    ['a name outside the pattern', { 'x-y': 'z' }],
    ['__proto__', JSON.parse('{"__proto__":{"admin":true}}')],
    ['too many', Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`c${i}`, i]))],
    ['a long string', { note: 'x'.repeat(257) }]
  ]
  for (const [name, claims] of bad) t.same(await verify(accessClaims({ claims })), { ok: false, reason: 'claims' }, name)
})

test('appClaimsProblem says what is wrong', async (t) => {
  t.equal(appClaimsProblem({ tenant: 'acme', locale: 'fr-FR', seats: 1.5, ok: true }), undefined)
  t.equal(appClaimsProblem({}), undefined)
  t.match(appClaimsProblem('acme'), /plain object/)
  t.match(appClaimsProblem(new Map()), /plain object/)
  t.match(appClaimsProblem({ exp: 1 }), /"exp" is reserved/)
  t.match(appClaimsProblem({ '1st': 1 }), /must be a letter/)
  t.match(appClaimsProblem({ n: Number.NaN }), /"n" must be a string .*finite number/)
  t.match(appClaimsProblem({ n: 'x'.repeat(257) }), /at most 256 characters/)
  t.match(appClaimsProblem(Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`c${i}`, i]))), /at most 16 members/)
})
