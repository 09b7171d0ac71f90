/**
 * docs/upstreams.md's Python (PyJWT) verifier, run as the doc shows it: its ```python block is read at test
 * time and run by Debian's /usr/bin/python3 (python3-jwt, python3-cryptography) against the real service
 * listening on a free localhost port, which serves the JWKS the snippet's PyJWKClient fetches. Only the JWKS
 * URL is swapped for the local one; the issuer stays the doc's (the service runs with that PUBLIC_ORIGIN).
 *
 * A small harness appended to the snippet calls verify_assertion on each case read from standard input and
 * prints the claims, or the name of the jwt.PyJWTError it raised; any other exception fails the run.
 */
import { execFile } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { test } from 'tap'
import { AssertionKeys } from '../../src/tokens/assertion-keys.js'
import { addUser, buildTestApp, loggedIn, ManualClock, TEST_SECRET, type Client } from '../helper.js'

const DOC = join(import.meta.dirname, '..', '..', 'docs', 'upstreams.md')
const PYTHON = '/usr/bin/python3'
const INSTALL = 'apt-get install -y python3-jwt python3-cryptography'
const ISSUER = 'https://auth.example.com'
const DOC_JWKS_URL = '"https://auth.example.com/.well-known/jwks.json"'
const HOST = 'app.example.com'
const OTHER_SECRET = 'another-secret-9876543210-ZYXWVUTSRQPONMLKJIHGFEDCBA'

const HARNESS = `
import json, sys

results = []
for case in json.load(sys.stdin):
    try:
        results.append({"claims": verify_assertion(case["assertion"], case["host"])})
    except jwt.PyJWTError as error:
        results.append({"refused": type(error).__name__})
print(json.dumps(results))
`

interface Run { code: number, stdout: string, stderr: string }

function run (args: string[], input = ''): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(PYTHON, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr })
    })
    child.stdin?.end(input)
  })
}

/** The one ```python block of the doc, or an error saying it is gone. */
function pythonSnippet (markdown: string): string {
  const blocks = [...markdown.matchAll(/^```python\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string)
  if (blocks.length !== 1) throw new Error(`docs/upstreams.md should hold exactly one \`\`\`python block, found ${blocks.length}`)
  return blocks[0] as string
}

function b64 (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

async function assertionOf (app: FastifyInstance, c: Client): Promise<string> {
  const response = await app.inject({ url: '/auth/verify', headers: { cookie: c.jar.header('/'), host: HOST } })
  if (response.statusCode !== 200) throw new Error(`verify answered ${response.statusCode}`)
  return response.headers['x-session-assertion'] as string
}

test('docs/upstreams.md\'s Python verifier (PyJWT): accepts the service\'s assertion, refuses forged, expired and misdirected ones', async (t) => {
  // Fail, never skip: a machine without them would otherwise pass without running the snippet.
  const probe = await run(['-c', 'import jwt, cryptography; print(jwt.__version__, cryptography.__version__)'])
  if (probe.code !== 0) {
    t.fail(`${PYTHON} with PyJWT and cryptography is needed (Debian: ${INSTALL})`, { stderr: probe.stderr.slice(-2000) })
    return
  }
  t.comment(`PyJWT and cryptography: ${probe.stdout.trim()}`)

  const snippet = pythonSnippet(readFileSync(DOC, 'utf8'))
  t.equal(snippet.split(DOC_JWKS_URL).length, 2, 'the snippet names the JWKS URL once, as the test expects')
  t.ok(snippet.includes(`"${ISSUER}"`), 'the snippet checks the issuer the service runs with')

  const app = await buildTestApp(t, { env: { PUBLIC_ORIGIN: ISSUER } })
  await addUser(app, 'alice', undefined, ['ops'])
  const alice = await loggedIn(t, app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const jwksUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/.well-known/jwks.json`
  const session = (await alice.request('GET', '/auth/session')).json()
  const assertion = await assertionOf(app, alice)
  const [header, payload, signature] = assertion.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>
  const { kid } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { kid: string }

  // Ten minutes ago: the same secret and issuer, so the same key, but its assertion expired long ago.
  const past = new ManualClock(Date.now() - 600_000)
  const earlier = await buildTestApp(t, { clock: past.now, env: { PUBLIC_ORIGIN: ISSUER } })
  await addUser(earlier, 'alice')
  const expired = await assertionOf(earlier, await loggedIn(t, earlier, 'alice', undefined, past))

  // Signed with the service's real key, so only the claim at fault can be refused.
  const key = new AssertionKeys(Buffer.from(TEST_SECRET), [])
  const withoutSid = Object.fromEntries(Object.entries(claims).filter(([name]) => name !== 'sid'))
  // The classic confusion: HMAC keyed with the published public key.
  const hsInput = `${b64({ alg: 'HS256', typ: 'JWT', kid })}.${payload}`
  const publicKey = Buffer.from(key.current.jwk.x, 'base64url')

  const cases: Array<{ name: string, assertion: string, host: string, expect: unknown }> = [
    { name: 'the service\'s own assertion', assertion, host: HOST, expect: { claims } },
    { name: 'a tampered payload', assertion: `${header}.${b64({ ...claims, roles: ['admin'] })}.${signature}`, host: HOST, expect: { refused: 'InvalidSignatureError' } },
    { name: 'another audience', assertion, host: 'other.example', expect: { refused: 'InvalidAudienceError' } },
    { name: 'an expired one', assertion: expired, host: HOST, expect: { refused: 'ExpiredSignatureError' } },
    { name: 'an HS256 forgery', assertion: `${hsInput}.${createHmac('sha256', publicKey).update(hsInput).digest('base64url')}`, host: HOST, expect: { refused: 'InvalidAlgorithmError' } },
    { name: 'alg: none', assertion: `${b64({ alg: 'none', typ: 'JWT', kid })}.${payload}.`, host: HOST, expect: { refused: 'InvalidAlgorithmError' } },
    { name: 'another issuer', assertion: key.sign({ ...claims, iss: 'https://evil.example' }), host: HOST, expect: { refused: 'InvalidIssuerError' } },
    { name: 'no sid', assertion: key.sign(withoutSid), host: HOST, expect: { refused: 'MissingRequiredClaimError' } },
    { name: 'a key the JWKS does not list', assertion: new AssertionKeys(Buffer.from(OTHER_SECRET), []).sign(claims), host: HOST, expect: { refused: 'PyJWKClientError' } },
    { name: 'no assertion (the header missing)', assertion: '', host: HOST, expect: { refused: 'DecodeError' } }
  ]

  const source = snippet.replace(DOC_JWKS_URL, JSON.stringify(jwksUrl)) + HARNESS
  const result = await run(['-c', source], JSON.stringify(cases.map(({ assertion, host }) => ({ assertion, host }))))
  t.equal(result.code, 0, 'the snippet runs; any error other than jwt.PyJWTError fails it', { stderr: result.stderr.slice(-4000) })
  if (result.code !== 0) return
  const results = JSON.parse(result.stdout) as unknown[]
  t.equal(results.length, cases.length)
  cases.forEach(({ name, expect }, i) => { t.same(results[i], expect, name) })
  t.match(results[0], { claims: { sub: session.user.id, sid: session.session.id, username: 'alice', roles: ['ops'] } }, 'the caller\'s user and session')
})
