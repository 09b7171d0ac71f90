/**
 * Another origin in the same browser (another localhost port: same site, so SameSite cookies still go along):
 * a hostile page can neither read the service's answers (CORS, docs/security.md rule 18) nor refresh or end the
 * user's session (CSRF, rule 17); an SPA on a trusted origin can use the client across origins.
 */
import t, { test } from 'tap'
import { launchBrowser, loginThroughForm, openTab, screenshot, startOtherOrigin, startService, text, type Service } from './harness.js'

const browser = await launchBrowser(t)

const hostilePage = (): string => '<!doctype html><title>Win a prize</title><h1>Win a prize</h1><iframe name="sink"></iframe>'

async function victim (service: Service): Promise<{ context: Awaited<ReturnType<typeof browser.newContext>>, tab: Awaited<ReturnType<typeof openTab>> }> {
  const context = await browser.newContext()
  const tab = await openTab(context, service.origin + '/')
  await loginThroughForm(tab)
  return { context, tab }
}

test('a page from another origin cannot read the service\'s answers (CORS)', async (t) => {
  const service = await startService(t)
  const { context, tab } = await victim(service)
  t.teardown(async () => await context.close())
  const evilOrigin = await startOtherOrigin(t, hostilePage)
  const evil = await openTab(context, evilOrigin + '/')

  const results = await evil.page.evaluate(async (service) => {
    const attempts: Array<[string, string, RequestInit]> = [
      ['session', '/auth/session', {}],
      ['sessions', '/auth/sessions', {}],
      ['login', '/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'demo', password: 'e2e-passphrase' }) }]
    ]
    const outcome: Record<string, string> = {}
    for (const [name, path, init] of attempts) {
      try {
        const response = await fetch(service + path, { credentials: 'include', ...init })
        outcome[name] = `read ${response.status}: ${await response.text()}`
      } catch (error) {
        outcome[name] = `blocked (${(error as Error).name})`
      }
    }
    return outcome
  }, service.origin)
  t.same(results, { session: 'blocked (TypeError)', sessions: 'blocked (TypeError)', login: 'blocked (TypeError)' }, 'every read is blocked')

  const fromEvil = service.responses.filter((r) => r.origin === evilOrigin)
  t.ok(fromEvil.length >= 2, `the service saw the attempts (${fromEvil.map((r) => `${r.method} ${r.url} ${r.status}`).join(', ')})`)
  t.same(fromEvil.filter((r) => r.allowOrigin !== undefined || r.allowCredentials !== undefined), [], 'and answered none of them with CORS headers')
  t.same(fromEvil.filter((r) => r.method === 'POST'), [], 'the JSON login never left the browser: its preflight failed')

  await tab.page.click('#whoami-button')
  await tab.page.locator('#who-result').filter({ hasText: /^200 demo/ }).waitFor()
  await screenshot(t, evil.page, 'cross-origin-cors')
})

test('a page from another origin cannot refresh or end the user\'s session (CSRF)', async (t) => {
  const service = await startService(t)
  const { context, tab } = await victim(service)
  t.teardown(async () => await context.close())
  const sessionId = await text(tab.page, '#who-session')
  const cookiesBefore = await context.cookies()
  const evilOrigin = await startOtherOrigin(t, hostilePage)
  const evil = await openTab(context, evilOrigin + '/')
  const auditsBefore = service.logs.length

  await evil.page.evaluate(async (service) => {
    // no-cors needs no preflight: the request goes out with the user's cookies, its answer stays opaque.
    const forged: Array<[string, RequestInit]> = [
      ['/auth/refresh', {}],
      ['/auth/logout', {}],
      ['/auth/logout-all', { headers: { 'content-type': 'text/plain' }, body: '{}' }]
    ]
    for (const [path, init] of forged) {
      await fetch(service + path, { method: 'POST', credentials: 'include', mode: 'no-cors', ...init }).catch(() => {})
    }
    navigator.sendBeacon(service + '/auth/logout')
    const form = document.createElement('form')
    form.method = 'POST'
    form.action = service + '/auth/logout'
    form.enctype = 'text/plain'
    form.target = 'sink'
    document.body.append(form)
    form.submit()
    await new Promise((resolve) => setTimeout(resolve, 500))
  }, service.origin)

  const attacks = service.responses.filter((r) => r.origin === evilOrigin && r.method === 'POST')
  t.ok(attacks.length >= 5, `${attacks.length} forged requests reached the service`)
  for (const attack of attacks) {
    t.equal(attack.status, 403, `${attack.method} ${attack.url}: 403`)
    const body = (JSON.parse(attack.body || 'null') ?? {}) as { code?: string }
    t.match(body.code, /^ERR_/, 'with its own error code')
    t.not(body.code, 'ERR_SESSION_INVALID')
    t.equal(attack.setCookie, false, 'and no cookie set or cleared')
  }
  const auditsDuring = service.logs.slice(auditsBefore).map((line) => line['audit']).filter((a) => a !== undefined)
  t.notOk(auditsDuring.some((a) => a === 'refresh.succeeded' || a === 'logout' || a === 'logout_all'), `nothing changed (${auditsDuring.join(', ')})`)
  t.same((await context.cookies()).map((c) => c.value).sort(), cookiesBefore.map((c) => c.value).sort(), 'the cookies are untouched')
  await tab.page.click('#whoami-button')
  await tab.page.locator('#who-result').filter({ hasText: /^200 demo/ }).waitFor()
  t.equal(await text(tab.page, '#who-session'), sessionId, 'the user is still logged in, same session')
  await screenshot(t, tab.page, 'cross-origin-csrf')
})

test('an SPA on a trusted origin logs in, refreshes and logs out with the client across origins', async (t) => {
  // Each must know the other: the service trusts the SPA's origin, the SPA calls the service's.
  let serviceOrigin = ''
  const spaOrigin = await startOtherOrigin(t, () => `<!doctype html><title>SPA</title><p id="out">loading</p>
<script type="module">
import { createSessionClient } from '/client/session-client.js'
window.client = createSessionClient({ baseUrl: ${JSON.stringify(serviceOrigin)} })
document.getElementById('out').textContent = 'ready'
</script>`, true)
  const service = await startService(t, { TRUSTED_ORIGINS: spaOrigin })
  serviceOrigin = service.origin
  const context = await browser.newContext()
  t.teardown(async () => await context.close())
  const spa = await context.newPage()
  await spa.goto(spaOrigin + '/')
  await spa.locator('#out').filter({ hasText: 'ready' }).waitFor()

  const outcome = await spa.evaluate(async () => {
    const client = (window as unknown as { client: import('../../src/client/session-client.js').SessionClient }).client
    const steps: string[] = []
    const state = await client.login('demo', 'e2e-passphrase')
    steps.push(`login ${state.user.username}`)
    steps.push(`sessions ${(await client.sessions()).length}`)
    steps.push(`refresh ${(await client.refresh())?.sessionId === state.sessionId}`)
    await client.logout()
    steps.push(`logout ${client.state === null}`)
    return steps
  })
  t.same(outcome, ['login demo', 'sessions 1', 'refresh true', 'logout true'])
  const answers = service.responses.filter((r) => r.origin === spaOrigin && r.method !== 'OPTIONS')
  t.ok(answers.length >= 4, `${answers.length} answers to the SPA (login, sessions, refresh, logout)`)
  t.same(answers.filter((r) => r.allowOrigin !== spaOrigin || String(r.allowCredentials) !== 'true'), [],
    'every one allowed the SPA\'s origin, by name, with credentials')
  await screenshot(t, spa, 'cross-origin-trusted-spa')
})
