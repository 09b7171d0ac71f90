/**
 * The demo page in a real headless Chromium: enrolling an authenticator app from the QR code's secret, the
 * two-step login, a recovery code, and the re-authentication prompt of a sensitive action. Codes are computed
 * from the secret on the page, as an authenticator app would. Run with `npm run test:e2e`.
 */
import t, { test } from 'tap'
import { appCode } from '../helpers/totp.js'
import { launchBrowser, loginThroughForm, openTab, screenshot, startService, text } from './harness.js'

const browser = await launchBrowser(t)

/**
 * A code of a time step not used yet, within the service's one step of drift (each code works once), at the
 * service's time (`ahead`: how far its clock was moved), as an app on a phone with the right time would show.
 */
function freshCode (secret: string, used: Set<number>, ahead = 0): string {
  const now = Math.floor((Date.now() + ahead * 1000) / 30_000)
  const step = [now, now + 1, now - 1].find((s) => !used.has(s)) as number
  used.add(step)
  return appCode(secret, step * 30_000 + 1000)
}

test('enrol with the QR code\'s secret, log in in two steps, with a recovery code, and re-authenticate with a code', async (t) => {
  const service = await startService(t, { REAUTH_MAX_AGE_SECONDS: '300' })
  const context = await browser.newContext()
  t.teardown(async () => await context.close())
  const tab = await openTab(context, service.origin + '/')
  await loginThroughForm(tab)
  const { page } = tab

  await page.click('#mfa-enrol-button')
  await page.locator('#mfa-enrolment').waitFor({ state: 'visible' })
  const secret = await text(page, '#mfa-secret')
  t.match(secret, /^[A-Z2-7]{32}$/)
  t.match(await page.getAttribute('#mfa-qr', 'src'), /^data:image\/svg\+xml;base64,/, 'the QR code is shown')
  t.ok(await page.evaluate(() => (document.getElementById('mfa-qr') as HTMLImageElement).naturalWidth > 0), 'and the browser draws it')
  await screenshot(t, page, 'mfa-enrolment')
  const used = new Set<number>()
  await page.fill('#mfa-confirm-form input[name=code]', freshCode(secret, used))
  await page.click('#mfa-confirm-form button[type=submit]')
  await page.locator('#recovery-codes').waitFor({ state: 'visible' })
  const recoveryCodes = (await text(page, '#recovery-codes')).split('\n').slice(1)
  t.equal(recoveryCodes.length, 10, 'ten recovery codes shown once')
  await page.locator('#mfa-status').filter({ hasText: 'Authenticator app set up; 10 recovery codes left' }).waitFor()

  await page.click('#logout-button')
  await page.locator('#login-form').waitFor({ state: 'visible' })
  await page.fill('input[name=username]', 'demo')
  await page.fill('input[name=password]', 'e2e-passphrase')
  await page.click('#login-form button[type=submit]')
  await page.locator('#second-factor-form').waitFor({ state: 'visible' })
  const pending = await context.cookies()
  t.same(pending.map((c) => [c.name, c.httpOnly, c.sameSite, c.path]), [['__Secure-pending-login', true, 'Strict', '/auth/login']], 'after the password: only the pending-login cookie')
  await screenshot(t, page, 'second-factor-step')
  await page.fill('#second-factor-form input[name=code]', '000000')
  await page.click('#second-factor-form button[type=submit]')
  await page.locator('#login-error').filter({ hasText: 'ERR_INVALID_SECOND_FACTOR' }).waitFor()
  await page.fill('#second-factor-form input[name=code]', freshCode(secret, used))
  await page.click('#second-factor-form button[type=submit]')
  await page.locator('#status').filter({ hasText: 'Logged in as demo' }).waitFor()
  t.same((await context.cookies()).map((c) => c.name).sort(), ['__Host-session', '__Secure-refresh'], 'the session cookies, and the pending one is gone')

  await page.click('#logout-button')
  await page.locator('#login-form').waitFor({ state: 'visible' })
  await page.fill('input[name=username]', 'demo')
  await page.fill('input[name=password]', 'e2e-passphrase')
  await page.click('#login-form button[type=submit]')
  await page.locator('#second-factor-form').waitFor({ state: 'visible' })
  await page.fill('#second-factor-form input[name=code]', recoveryCodes[0] as string)
  await page.click('#second-factor-form button[type=submit]')
  await page.locator('#status').filter({ hasText: 'Logged in as demo' }).waitFor()
  t.pass('a recovery code logs in')
  await page.locator('#mfa-status').filter({ hasText: '9 recovery codes left' }).waitFor()

  // Ten minutes later on the service's clock, ending the other sessions needs a fresh authentication.
  service.advance(600)
  await page.click('#refresh-button')
  await page.locator('#refresh-count').filter({ hasText: '1' }).waitFor()
  await page.click('#end-others-button')
  await page.locator('#reauth-section').waitFor({ state: 'visible' })
  await screenshot(t, page, 'reauth-prompt')
  t.ok(tab.requests.includes('DELETE /auth/sessions 401'), 'the action was refused')
  t.notOk(tab.requests.slice(tab.requests.indexOf('DELETE /auth/sessions 401')).includes('POST /auth/refresh 200'), 'and not answered with a refresh')
  await page.fill('#reauth-form input[name=password]', 'e2e-passphrase')
  await page.click('#reauth-form button[type=submit]')
  await page.locator('#reauth-error').filter({ hasText: 'ERR_SECOND_FACTOR_REQUIRED' }).waitFor()
  await page.fill('#reauth-form input[name=password]', 'e2e-passphrase')
  await page.fill('#reauth-form input[name=code]', freshCode(secret, used, 600))
  await page.click('#reauth-form button[type=submit]')
  await page.locator('#reauth-section').waitFor({ state: 'hidden' })
  await page.click('#end-others-button')
  await page.locator('#events li').filter({ hasText: /ended \d+ other session/ }).waitFor()
  t.ok(tab.requests.includes('DELETE /auth/sessions 200'), 'after re-authenticating, the action goes through')
  t.equal(service.audits('reauth.succeeded').length, 1)
  t.same(tab.problems, [], 'no script error and no CSP violation')
})
