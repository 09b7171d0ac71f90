/** The TOTP factor: enrolment, codes once each with one step of drift, recovery codes, secrets sealed and rotated. */
import { test } from 'tap'
import { TotpService } from '../../src/users/totp.js'
import { MemoryUserStore } from '../../src/users/user-store.js'
import { ManualClock, TEST_SECRET } from '../helper.js'
import { appCode } from '../helpers/totp.js'

const OTHER_SECRET = 'another-secret-0123456789-abcdefghijklmnopqrstuvwxyz'

async function setup (secret = TEST_SECRET, previous: string[] = []): Promise<{ store: MemoryUserStore, clock: ManualClock, totp: TotpService }> {
  const store = new MemoryUserStore()
  await store.insert({ id: 'u1', username: 'alice', passwordHash: 'x', roles: [], disabled: false, createdAt: 0, updatedAt: 0 })
  await store.insert({ id: 'u2', username: 'bob', passwordHash: 'x', roles: [], disabled: false, createdAt: 0, updatedAt: 0 })
  const clock = new ManualClock()
  return { store, clock, totp: new TotpService({ store, clock: clock.now, secret: Buffer.from(secret), previousSecrets: previous.map((s) => Buffer.from(s)), issuer: 'Example' }) }
}

test('enrolment: a base32 secret, its otpauth URI and an SVG QR code; it counts once confirmed with a code', async (t) => {
  const { totp, clock, store } = await setup()
  const enrolment = await totp.begin('u1', 'alice')
  if (typeof enrolment === 'string') throw new Error(enrolment)
  t.match(enrolment.secret, /^[A-Z2-7]{32}$/)
  t.match(enrolment.uri, /^otpauth:\/\/totp\/Example:alice\?issuer=Example&secret=[A-Z2-7]{32}&algorithm=SHA1&digits=6&period=30$/)
  t.match(enrolment.qrSvg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  t.notMatch((await store.getSecondFactor('u1'))?.sealedSecret, enrolment.secret, 'not stored in clear')
  t.equal(await totp.isEnrolled('u1'), false, 'not before confirmation')
  t.equal(await totp.verify('u1', 'alice', { code: appCode(enrolment.secret, clock.ms) }), 'none', 'an unconfirmed factor does not count')
  t.equal(await totp.confirm('u1', 'alice', '000000'), 'wrong')
  const codes = await totp.confirm('u1', 'alice', appCode(enrolment.secret, clock.ms))
  t.ok(Array.isArray(codes))
  t.equal((codes as string[]).length, 10)
  for (const code of codes as string[]) t.match(code, /^[a-z2-7]{4}(-[a-z2-7]{4}){5}$/)
  t.equal(new Set(codes as string[]).size, 10)
  t.equal(await totp.isEnrolled('u1'), true)
  t.same(await totp.status('u1'), { totp: true, recoveryCodesLeft: 10 })
  t.equal(await totp.begin('u1', 'alice'), 'exists', 'a confirmed factor is not replaced by a new enrolment')
  t.equal(await totp.confirm('u1', 'alice', appCode(enrolment.secret, clock.ms + 30_000)), 'none', 'nothing left to confirm')
  t.equal(await totp.begin('nobody', 'x'), 'no-user')
})

test('codes: accepted once each, one step of drift either way, not two', async (t) => {
  const { totp, clock } = await setup()
  const { secret } = await totp.begin('u1', 'alice') as { secret: string }
  await totp.confirm('u1', 'alice', appCode(secret, clock.ms))
  clock.advance(60)
  const now = appCode(secret, clock.ms)
  t.equal(await totp.verify('u1', 'alice', { code: now }), 'ok')
  t.equal(await totp.verify('u1', 'alice', { code: now }), 'replayed', 'the same code again')
  clock.advance(20)
  t.equal(await totp.verifyCode('u1', now), false, 'still refused within its window')
  t.equal(await totp.verify('u1', 'alice', { code: appCode(secret, clock.ms - 60_000) }), 'wrong', 'two steps behind')
  t.equal(await totp.verify('u1', 'alice', { code: appCode(secret, clock.ms + 30_000) }), 'ok', 'the phone a step ahead')
  clock.advance(120)
  t.equal(await totp.verify('u1', 'alice', { code: appCode(secret, clock.ms - 30_000) }), 'ok', 'the phone a step behind')
  for (const bad of ['', '12345', '1234567', 'abcdef']) t.equal(await totp.verify('u1', 'alice', { code: bad }), 'wrong', JSON.stringify(bad))
  t.equal(await totp.verify('u2', 'bob', { code: appCode(secret, clock.ms) }), 'none', 'bob has no factor; alice\'s code means nothing for him')
})

test('recovery codes: each works once, in any case and grouping; regenerating voids the old ones', async (t) => {
  const { totp, clock } = await setup()
  const { secret } = await totp.begin('u1', 'alice') as { secret: string }
  const [first = '', second = ''] = await totp.confirm('u1', 'alice', appCode(secret, clock.ms)) as string[]
  t.equal(await totp.verify('u1', 'alice', { recoveryCode: first }), 'ok')
  t.equal(await totp.verify('u1', 'alice', { recoveryCode: first }), 'wrong', 'used up')
  t.equal(await totp.verify('u1', 'alice', { recoveryCode: ` ${second.toUpperCase().replace(/-/g, ' ')} ` }), 'ok', 'typed in capitals with spaces')
  t.equal((await totp.status('u1')).recoveryCodesLeft, 8)
  for (const bad of ['', 'x', 'a'.repeat(24), first.slice(0, -1)]) t.equal(await totp.verify('u1', 'alice', { recoveryCode: bad }), 'wrong')
  const renewed = await totp.regenerate('u1')
  t.equal((await totp.status('u1')).recoveryCodesLeft, 10)
  const [, , third = ''] = [first, second, renewed[0]]
  t.equal(await totp.verify('u1', 'alice', { recoveryCode: third }), 'ok')
  t.equal(await totp.remove('u1'), true)
  t.same(await totp.status('u1'), { totp: false, recoveryCodesLeft: 0 })
})

test('sealed secrets: bound to their user, opened under a previous session secret and re-sealed under the current one', async (t) => {
  const old = await setup(OTHER_SECRET)
  const { secret } = await old.totp.begin('u1', 'alice') as { secret: string }
  await old.totp.confirm('u1', 'alice', appCode(secret, old.clock.ms))
  const sealed = (await old.store.getSecondFactor('u1'))?.sealedSecret as string
  t.match(sealed, /^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/)

  const rotated = new TotpService({ store: old.store, clock: old.clock.now, secret: Buffer.from(TEST_SECRET), previousSecrets: [Buffer.from(OTHER_SECRET)], issuer: 'Example' })
  old.clock.advance(30)
  t.equal(await rotated.verify('u1', 'alice', { code: appCode(secret, old.clock.ms) }), 'ok', 'opened with the previous secret')
  const resealed = (await old.store.getSecondFactor('u1'))?.sealedSecret as string
  t.not(resealed.split('.')[1], sealed.split('.')[1], 're-sealed under the current secret')

  const retired = new TotpService({ store: old.store, clock: old.clock.now, secret: Buffer.from(OTHER_SECRET), previousSecrets: [], issuer: 'Example' })
  old.clock.advance(30)
  t.equal(await retired.verify('u1', 'alice', { code: appCode(secret, old.clock.ms) }), 'wrong', 'a secret that left the ring opens nothing')

  await old.store.setSecondFactor('u2', { sealedSecret: resealed, confirmed: true, createdAt: 0 })
  old.clock.advance(30)
  t.equal(await rotated.verify('u2', 'bob', { code: appCode(secret, old.clock.ms) }), 'wrong', 'alice\'s sealed secret copied to bob opens nothing')
  const tampered = resealed.replace(/\.([A-Za-z0-9_-])/, (_m, c: string) => `.${c === 'A' ? 'B' : 'A'}`)
  await old.store.setSecondFactor('u1', { sealedSecret: tampered, confirmed: true, createdAt: 0 })
  t.equal(await rotated.verify('u1', 'alice', { code: appCode(secret, old.clock.ms) }), 'wrong', 'tampered')
})
