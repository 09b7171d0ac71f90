/**
 * Revocations and rotations are durable: they survive a kill -9 of the running service (real SQLite
 * file, real process, real HTTP).
 */
import { test } from 'tap'
import { tempDir, TEST_PASSWORD } from '../helper.js'
import { startServer } from './server-process.js'
import { buildApp } from '../../src/service/app.js'
import { FAST_HASH, testEnv } from '../helper.js'

interface Jar { access: string, refresh: string }

function cookiesOf (response: Response): Jar {
  const values = response.headers.getSetCookie()
  const get = (name: string): string => values.find((v) => v.startsWith(`${name}=`))?.split(';')[0]?.slice(name.length + 1) ?? ''
  return { access: get('__Host-session'), refresh: get('__Secure-refresh') }
}

test('a revoked session and a rotation stay recorded after kill -9 and a restart', async (t) => {
  const env = { STORE: 'sqlite', DATA_DIR: tempDir(t), REFRESH_REUSE_GRACE_SECONDS: '0' }
  const setup = await buildApp({ env: testEnv(env), passwordHashCost: FAST_HASH })
  await setup.users.add('alice', TEST_PASSWORD)
  await setup.close()

  const first = await startServer(t, env)
  const login = async (): Promise<Jar> => {
    const response = await fetch(`${first.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: TEST_PASSWORD }) })
    t.equal(response.status, 200)
    return cookiesOf(response)
  }
  const loggedOut = await login()
  const rotated = await login()
  t.equal((await fetch(`${first.url}/auth/logout`, { method: 'POST', headers: { cookie: `__Host-session=${loggedOut.access}` } })).status, 204)
  const refreshed = await fetch(`${first.url}/auth/refresh`, { method: 'POST', headers: { cookie: `__Secure-refresh=${rotated.refresh}` } })
  t.equal(refreshed.status, 200)
  const successor = cookiesOf(refreshed)

  await first.kill()
  const second = await startServer(t, env)
  const session = async (access: string): Promise<number> => (await fetch(`${second.url}/auth/session`, { headers: { cookie: `__Host-session=${access}` } })).status
  const refresh = async (token: string): Promise<number> => (await fetch(`${second.url}/auth/refresh`, { method: 'POST', headers: { cookie: `__Secure-refresh=${token}` } })).status
  t.equal(await session(loggedOut.access), 401, 'the logged-out access token is still revoked')
  t.equal(await refresh(loggedOut.refresh), 401, 'and its refresh token')
  t.equal(await session(successor.access), 200, 'the rotated session lives on')
  t.equal(await refresh(rotated.refresh), 401, 'the rotated-away refresh token is recognised as reuse after the restart')
  t.equal(await session(successor.access), 401, 'and reuse revoked the family at once')
  t.equal(await second.stop(), 0, 'SIGTERM shuts down cleanly')
  t.match(second.output(), /"signal":"SIGTERM".*"msg":"shutting down"/)
})
