/** Rotating the secret logs nobody out: tokens under a previous secret work and are re-issued under the new one. */
import * as jose from 'jose'
import { test } from 'tap'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import { secretFingerprint } from '../../src/tokens/keys.js'
import { client, CookieJar } from '../helper.js'
import { embeddingApp } from './plugin-helper.js'

const OLD = 'old-secret-ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789'
const NEW = 'new-secret-abcdefghijklmnopqrstuvwxyz-9876543210'

const fingerprintOf = (token: string | undefined): string => String(jose.decodeProtectedHeader(token ?? '').kid).split('.')[0] as string

test('a session started under the old secret survives the rotation and moves to the new secret', async (t) => {
  const store = new MemorySessionStore()
  const before = await embeddingApp(t, { secret: OLD, store })
  const jar = new CookieJar()
  await client(before, jar).request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })
  t.equal(fingerprintOf(jar.get('__Host-session')), secretFingerprint(Buffer.from(OLD)))

  const during = await embeddingApp(t, { secret: NEW, previousSecrets: [OLD], store })
  const c = client(during, jar)
  t.equal((await c.request('GET', '/api/me')).statusCode, 200, 'the old access token still works')
  t.equal((await c.request('POST', '/auth/refresh')).statusCode, 200, 'and the old refresh token')
  t.equal(fingerprintOf(jar.get('__Host-session')), secretFingerprint(Buffer.from(NEW)), 're-issued under the new secret')
  t.equal(fingerprintOf(jar.get('__Secure-refresh')), secretFingerprint(Buffer.from(NEW)))

  const after = await embeddingApp(t, { secret: NEW, store })
  t.equal((await client(after, jar).request('GET', '/api/me')).statusCode, 200, 'the old secret can now be retired')
  const stale = new CookieJar()
  await client(before, stale).request('POST', '/auth/login', { username: 'ada', password: 'analytical engine' })
  t.equal((await client(after, stale).request('GET', '/api/me')).statusCode, 401, 'tokens under a retired secret are refused')
})
