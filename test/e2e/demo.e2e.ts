/**
 * The demo page in a real headless Chromium against the real service on localhost: log-in, transparent
 * refresh, tabs refreshing together, logout seen by the other tabs. Run with `npm run test:e2e`.
 */
import t, { test } from 'tap'
import { launchBrowser, loginThroughForm, openTab, screenshot, startService, text } from './harness.js'

const browser = await launchBrowser(t)

test('an anonymous first visit: the login form, an empty console, no request answered 401', async (t) => {
  const service = await startService(t)
  const context = await browser.newContext()
  t.teardown(async () => await context.close())
  const tab = await openTab(context, service.origin + '/')
  await tab.page.locator('#login-form').waitFor({ state: 'visible' })
  await tab.page.locator('#status').filter({ hasText: 'Not logged in' }).waitFor()
  t.same(tab.requests.filter((line) => line.startsWith('GET /auth/') || line.startsWith('POST /auth/')), ['GET /auth/session/status 200'], 'one question, answered 200')
  t.same(tab.console, [], 'nothing in the console (a 401 would be a red "Failed to load resource" line)')
  t.same(tab.problems, [], 'no script error and no CSP violation')
})

test('log in through the form: the page knows who, and document.cookie shows no token', async (t) => {
  const service = await startService(t)
  const context = await browser.newContext()
  t.teardown(async () => await context.close())
  const tab = await openTab(context, service.origin + '/')
  await loginThroughForm(tab)

  t.equal(await text(tab.page, '#who-user'), `demo (${(await service.app.users.list())[0]?.id ?? ''})`)
  t.equal(await tab.page.evaluate(() => document.cookie), '', 'no cookie is visible to scripts')
  const cookies = await context.cookies()
  t.same(cookies.map((c) => [c.name, c.httpOnly, c.secure, c.sameSite, c.path]).sort(), [
    ['__Host-session', true, true, 'Lax', '/'],
    ['__Secure-refresh', true, true, 'Strict', '/auth']
  ], 'both tokens are in HttpOnly cookies')
  const html = await tab.page.content()
  for (const cookie of cookies) {
    t.notOk(html.includes(cookie.value), `the ${cookie.name} token is nowhere in the page`)
    t.notOk(JSON.stringify(service.logs).includes(cookie.value), `nor in any log line of the service (${cookie.name})`)
  }
  t.equal(await tab.page.evaluate(() => typeof navigator.locks?.request), 'function', 'localhost is a secure context: Web Locks are there')
  await tab.page.locator('#sessions tr.current').waitFor()
  t.equal(await tab.page.locator('#sessions tr').count(), 1, 'one live session, this one')
  t.same(tab.problems, [], 'no script error and no CSP violation')
  await screenshot(t, tab.page, 'login')
})

test('past the access lifetime, API calls still succeed through a transparent refresh', async (t) => {
  t.test('the service\'s clock jumps: the 401 is answered by a refresh and a retry', async (t) => {
    const service = await startService(t, { CLOCK_LEEWAY_SECONDS: '0' })
    const context = await browser.newContext()
    t.teardown(async () => await context.close())
    const tab = await openTab(context, service.origin + '/')
    await loginThroughForm(tab)
    const sessionId = await text(tab.page, '#who-session')

    service.advance(901)
    const since = tab.requests.length
    await tab.page.click('#whoami-button')
    await tab.page.locator('#who-result').filter({ hasText: /^200 demo/ }).waitFor()
    t.same(tab.requests.slice(since), ['GET /auth/session 401', 'POST /auth/refresh 200', 'GET /auth/session 200'],
      'the call failed once, the client refreshed and retried it')
    t.equal(await text(tab.page, '#who-session'), sessionId, 'same session')
    t.equal(service.audits('refresh.succeeded').length, 1)
    t.same(tab.problems, [])
    await screenshot(t, tab.page, 'refresh-after-expiry')
  })

  t.test('real time, 10-second access tokens: the client refreshes before expiry, no call ever fails', async (t) => {
    const service = await startService(t, { ACCESS_TTL_SECONDS: '10', REFRESH_REUSE_GRACE_SECONDS: '2', CLOCK_LEEWAY_SECONDS: '0' })
    const context = await browser.newContext()
    t.teardown(async () => await context.close())
    const tab = await openTab(context, service.origin + '/')
    await loginThroughForm(tab)
    const loggedInAt = Date.now()
    await tab.page.locator('#refresh-countdown').filter({ hasText: /^\d+\.\d s \(at / }).waitFor()
    t.pass('the page shows when the next refresh comes')

    // 7.5 s after login (a quarter of 10 s before expiry) the client refreshes by itself.
    await tab.page.locator('#refresh-count').filter({ hasText: '1' }).waitFor({ timeout: 15_000 })
    const refreshedAfter = Date.now() - loggedInAt
    t.ok(refreshedAfter < 10_000, `refreshed before the first access token expired (${refreshedAfter} ms)`)
    // Wait past the first token's expiry, then call.
    await tab.page.waitForTimeout(Math.max(0, 10_500 - (Date.now() - loggedInAt)))
    await tab.page.click('#whoami-button')
    await tab.page.locator('#who-result').filter({ hasText: /^200 demo/ }).waitFor()
    t.same(tab.requests.filter((r) => r.endsWith(' 401')), [], 'no 401 at all, not even at the page load before login (GET /auth/session/status answers 200)')
    t.ok(service.audits('refresh.succeeded').length >= 1)
    t.same(service.audits('refresh.reuse_detected'), [])
    t.same(tab.problems, [])
    await screenshot(t, tab.page, 'refresh-before-expiry')
  })
})

for (const variant of ['Web Locks', 'BroadcastChannel fallback'] as const) {
  test(`four tabs refresh at the same moment (${variant}): all stay logged in, no reuse alarm, one live chain`, async (t) => {
    const service = await startService(t)
    const context = await browser.newContext()
    t.teardown(async () => await context.close())
    if (variant === 'BroadcastChannel fallback') {
      await context.addInitScript(() => { Reflect.deleteProperty(Navigator.prototype, 'locks') })
    }
    const first = await openTab(context, service.origin + '/')
    await loginThroughForm(first)
    const tabs = [first]
    for (let i = 1; i < 4; i++) {
      const tab = await openTab(context, service.origin + '/')
      await tab.page.locator('#status').filter({ hasText: 'Logged in as demo' }).waitFor()
      tabs.push(tab)
    }
    t.equal(await first.page.evaluate(() => typeof navigator.locks), variant === 'Web Locks' ? 'object' : 'undefined')

    // Every tab calls refresh() at the same wall-clock millisecond.
    const failedBefore = service.audits('refresh.failed').length
    const at = Date.now() + 1000
    const states = await Promise.all(tabs.map(async (tab) => await tab.page.evaluate(async (at) => {
      await new Promise((resolve) => setTimeout(resolve, at - Date.now()))
      const { client } = (window as unknown as { demo: { client: { refresh: () => Promise<{ sessionId: string } | null> } } }).demo
      return await client.refresh()
    }, at)))
    const sessionId = states[0]?.sessionId
    t.ok(sessionId !== undefined && states.every((s) => s?.sessionId === sessionId), 'every tab still has the session')
    t.same(service.audits('refresh.reuse_detected'), [], 'no reuse alarm')
    t.same(service.audits('refresh.failed').slice(failedBefore), [], 'no refused refresh')
    const rotations = service.audits('refresh.succeeded').length
    t.ok(rotations >= 1 && rotations <= 4, `${rotations} rotation(s) for four tabs`)
    t.comment(`${rotations} rotation(s), ${service.audits('refresh.succeeded').filter((a) => a['replayed'] === true).length} replayed`)

    for (const tab of tabs) {
      await tab.page.click('#whoami-button')
      await tab.page.locator('#who-result').filter({ hasText: /^200 demo/ }).waitFor()
    }
    await first.page.click('#sessions-button')
    await first.page.locator('#sessions tr.current').waitFor()
    t.equal(await first.page.locator('#sessions tr').count(), 1, 'one live chain')
    t.same(tabs.flatMap((tab) => tab.problems), [])
    await screenshot(t, tabs[3]?.page ?? first.page, `four-tabs-${variant === 'Web Locks' ? 'web-locks' : 'broadcast-channel'}`)
  })
}

test('log out in one tab: the other shows it at once, without asking the server', async (t) => {
  const service = await startService(t)
  const context = await browser.newContext()
  t.teardown(async () => await context.close())
  const one = await openTab(context, service.origin + '/')
  await loginThroughForm(one)
  const two = await openTab(context, service.origin + '/')
  await two.page.locator('#status').filter({ hasText: 'Logged in as demo' }).waitFor()

  const since = two.requests.length
  await one.page.click('#logout-button')
  await one.page.locator('#status[data-reason="logout"]').waitFor()
  await two.page.locator('#status[data-reason="logged-out-elsewhere"]').waitFor({ timeout: 2000 })
  t.same(two.requests.slice(since), [], 'the other tab heard it from the first, not from the server')
  t.ok(await two.page.locator('#login-section').isVisible(), 'and shows the log-in form')
  t.same(await context.cookies(), [], 'the cookies are gone')
  t.equal(service.audits('logout').length, 1)

  // Log in again in the second tab: the first follows.
  await loginThroughForm(two)
  await one.page.locator('#status').filter({ hasText: 'Logged in as demo' }).waitFor({ timeout: 2000 })
  const newSession = await text(two.page, '#who-session')
  t.equal(await text(one.page, '#who-session'), newSession, 'the new session')
  await one.page.locator(`#sessions tr.current[data-session-id="${newSession}"]`).waitFor()
  t.equal(await one.page.locator('#sessions tr').count(), 1, 'and lists it, alone')
  t.same([...one.problems, ...two.problems], [])
  await screenshot(t, one.page, 'logout-other-tab')
})

test('end another session from the list, then log out everywhere', async (t) => {
  const service = await startService(t)
  const laptop = await browser.newContext()
  const phone = await browser.newContext({ userAgent: 'Phone/1.0' })
  t.teardown(async () => { await laptop.close(); await phone.close() })
  const a = await openTab(laptop, service.origin + '/')
  await loginThroughForm(a)
  const b = await openTab(phone, service.origin + '/')
  await loginThroughForm(b)
  await a.page.click('#sessions-button')
  await a.page.locator('#sessions tr').nth(1).waitFor()
  const phoneRow = a.page.locator('#sessions tr', { hasText: 'Phone/1.0' })
  await phoneRow.locator('button').click()
  await a.page.locator('#sessions tr', { hasText: 'Phone/1.0' }).waitFor({ state: 'detached' })
  await b.page.click('#whoami-button')
  await b.page.locator('#status[data-reason="revoked"]').waitFor()

  await loginThroughForm(b)
  await a.page.click('#logout-all-button')
  await a.page.locator('#status[data-reason="logout"]').waitFor()
  await b.page.click('#whoami-button')
  await b.page.locator('#status[data-reason="revoked"]').waitFor()
  t.equal(service.audits('logout_all').length, 1)
  t.same([...a.problems, ...b.problems], [])
  await screenshot(t, b.page, 'logout-everywhere')
})

test('change the password on the demo page: every other device is logged out at once, this one stays in', async (t) => {
  const service = await startService(t)
  const laptopContext = await browser.newContext()
  const phoneContext = await browser.newContext()
  t.teardown(async () => { await laptopContext.close(); await phoneContext.close() })
  const laptop = await openTab(laptopContext, service.origin + '/')
  await loginThroughForm(laptop)
  const phone = await openTab(phoneContext, service.origin + '/')
  await loginThroughForm(phone)
  const before = await text(laptop.page, '#who-session')

  await laptop.page.fill('#password-form input[name=currentPassword]', 'wrong password')
  await laptop.page.fill('#password-form input[name=newPassword]', 'a brand new passphrase 42')
  await laptop.page.click('#password-form button[type=submit]')
  await laptop.page.locator('#password-result').filter({ hasText: 'ERR_WRONG_PASSWORD' }).waitFor()
  await laptop.page.fill('#password-form input[name=currentPassword]', 'e2e-passphrase')
  await laptop.page.fill('#password-form input[name=newPassword]', 'a brand new passphrase 42')
  await laptop.page.click('#password-form button[type=submit]')
  await laptop.page.locator('#password-result').filter({ hasText: 'Password changed' }).waitFor()
  t.not(await text(laptop.page, '#who-session'), before, 'this browser has a new session')
  await laptop.page.locator('#sessions tr').first().waitFor()
  t.equal(await laptop.page.locator('#sessions tr').count(), 1, 'its list shows one session: this one')

  await phone.page.click('#whoami-button')
  await phone.page.locator('#status[data-reason="revoked"]').waitFor()
  t.pass('the other device is logged out at its next call')
  await laptop.page.click('#whoami-button')
  await laptop.page.locator('#who-result').filter({ hasText: /^200 demo/ }).waitFor()
  t.match(service.audits('password.changed'), [{ userId: String }])
  t.same([...laptop.problems, ...phone.problems], [], 'no script error and no CSP violation')
  await screenshot(t, laptop.page, 'password-changed')
})

test('the admin view lists the users and ends another browser\'s session', async (t) => {
  const service = await startService(t)
  const adminContext = await browser.newContext()
  const otherContext = await browser.newContext()
  t.teardown(async () => { await adminContext.close(); await otherContext.close() })
  const other = await openTab(otherContext, service.origin + '/')
  await loginThroughForm(other)
  const otherSession = await text(other.page, '#who-session')
  const admin = await openTab(adminContext, service.origin + '/')
  await loginThroughForm(admin)
  await admin.page.locator('#admin-users tr').first().waitFor()
  t.equal(await admin.page.locator('#admin-users tr').count(), 1, 'the demo user is listed (it holds the admin role)')
  await admin.page.click('#admin-users tr >> text=Sessions')
  await admin.page.locator(`#admin-sessions tr[data-session-id="${otherSession}"]`).waitFor()
  t.equal(await admin.page.locator('#admin-sessions tr').count(), 2, 'both browsers\' sessions')
  await admin.page.click(`#admin-sessions tr[data-session-id="${otherSession}"] button`)
  await admin.page.locator('#admin-sessions tr').nth(1).waitFor({ state: 'detached' })
  await other.page.click('#whoami-button')
  await other.page.locator('#status[data-reason="revoked"]').waitFor()
  t.match(service.audits('admin.session_ended'), [{ actorName: 'demo', familyId: otherSession }])
  await screenshot(t, admin.page, 'admin-view')
})

test('on a phone (390 px wide): nothing overflows sideways, counters start again at a new login, ending this browser\'s session asks first, states read as words', async (t) => {
  const service = await startService(t)
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro Build/AP2A.240905.003) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.200 Mobile Safari/537.36'
  })
  t.teardown(async () => await context.close())
  const tab = await openTab(context, service.origin + '/')
  const overflow = async (): Promise<number> => await tab.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  await tab.page.locator('#login-form').waitFor({ state: 'visible' })
  t.equal(await overflow(), 0, 'the login form fits')
  await loginThroughForm(tab)
  await tab.page.locator('#sessions tr.current').waitFor()
  // The demo user is an admin: the admin tables are on the page too.
  await tab.page.locator('#admin-users tr').first().waitFor()
  t.equal(await text(tab.page, '#admin-users tr td:nth-child(3)'), 'Active', 'a user\'s state in words')
  await tab.page.click('#admin-users tr button:text("Sessions")')
  await tab.page.locator('#admin-sessions tr').first().waitFor()
  t.equal(await overflow(), 0, 'logged in, sessions and admin tables shown: no horizontal overflow')
  await screenshot(t, tab.page, 'phone')

  await tab.page.click('#refresh-button')
  await tab.page.locator('#refresh-count').filter({ hasText: '1' }).waitFor()
  await tab.page.click('#whoami-button')
  await tab.page.locator('#who-result').filter({ hasText: /^200 demo/ }).waitFor()

  tab.acceptDialogs = false
  await tab.page.click('#sessions tr.current button')
  await tab.page.waitForTimeout(300)
  t.same(tab.dialogs, ['End the session of this browser? You will be logged out here.'], 'ending this browser\'s own session asks first')
  t.match(await text(tab.page, '#status'), /^Logged in as demo$/, 'cancelled: still logged in')
  tab.acceptDialogs = true
  await tab.page.click('#sessions tr.current button')
  await tab.page.locator('#login-section').waitFor({ state: 'visible' })
  t.notMatch(await text(tab.page, '#status'), /\(|revoked|logout/, `the reason in words: ${await text(tab.page, '#status')}`)

  await loginThroughForm(tab)
  await tab.page.locator('#sessions tr.current').waitFor()
  t.equal(await text(tab.page, '#refresh-count'), '0', 'a new login starts its own count')
  t.equal(await text(tab.page, '#who-result'), 'none yet')
  t.equal(await overflow(), 0)
  t.same(tab.problems, [])
})
