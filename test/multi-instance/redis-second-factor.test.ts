/**
 * The second factor on two instances over one real redis-server: a code, a recovery code and a pending-login
 * cookie each work once across both, and a factor enrolled on one is required by the other.
 */
import { test } from 'tap'
import { addUser, buildTestApp, client, CookieJar, ManualClock, TEST_PASSWORD } from '../helper.js'
import { startRedis } from '../helpers/redis-server.js'
import { appCode } from '../helpers/totp.js'

test('two instances on one Redis: codes, recovery codes and pending logins are single-use across them', async (t) => {
  const redis = await startRedis(t)
  const clock = new ManualClock()
  const [one, two] = [
    await buildTestApp(t, { env: { STORE: 'redis', REDIS_URL: redis.url }, clock: clock.now }),
    await buildTestApp(t, { env: { STORE: 'redis', REDIS_URL: redis.url }, clock: clock.now })
  ] as const
  await addUser(one, 'alice')
  const device = client(one, new CookieJar(clock.now))
  await device.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })
  const { secret } = (await device.request('POST', '/auth/mfa/totp')).json() as { secret: string }
  const { recoveryCodes } = (await device.request('POST', '/auth/mfa/totp/confirm', { code: appCode(secret, clock.ms) })).json() as { recoveryCodes: string[] }
  clock.advance(30)

  const onTwo = client(two, new CookieJar(clock.now))
  t.same((await onTwo.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })).json(), { secondFactorRequired: true }, 'the other instance requires the factor')
  const pending = onTwo.jar.get('__Secure-pending-login') as string
  const code = appCode(secret, clock.ms)
  const [a, b] = await Promise.all([
    one.inject({ method: 'POST', url: '/auth/login/second-factor', headers: { cookie: `__Secure-pending-login=${pending}`, 'content-type': 'application/json' }, payload: JSON.stringify({ code }) }),
    two.inject({ method: 'POST', url: '/auth/login/second-factor', headers: { cookie: `__Secure-pending-login=${pending}`, 'content-type': 'application/json' }, payload: JSON.stringify({ code }) })
  ])
  t.same([a.statusCode, b.statusCode].sort(), [200, 401], 'one pending login, one code, two instances at once: one session')

  const again = client(one, new CookieJar(clock.now))
  await again.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })
  t.equal((await again.request('POST', '/auth/login/second-factor', { code })).json().code, 'ERR_INVALID_SECOND_FACTOR', 'the code used on one instance is refused on the other')

  const r1 = client(one, new CookieJar(clock.now))
  const r2 = client(two, new CookieJar(clock.now))
  await r1.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })
  await r2.request('POST', '/auth/login', { username: 'alice', password: TEST_PASSWORD })
  const used = await Promise.all([
    r1.request('POST', '/auth/login/second-factor', { recoveryCode: recoveryCodes[0] }),
    r2.request('POST', '/auth/login/second-factor', { recoveryCode: recoveryCodes[0] })
  ])
  t.same(used.map((r) => r.statusCode).sort(), [200, 401], 'one recovery code at once on both instances: one session')
})
