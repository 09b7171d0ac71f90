/**
 * The demo page's behaviour, in the browser: everything goes through the session client, as an SPA would.
 * Text only ever enters the page through textContent (a session's user agent is whatever a client sent).
 * Browser code: no Node.js imports.
 */
import { createSessionClient, SessionClientError, type LiveSession, type SessionState } from '../../../client/session-client.js'

const authPrefix = document.body.dataset['authPrefix'] ?? '/auth'
const client = createSessionClient({ authPrefix })
// For the end-to-end tests and the curious: the client of this page.
Object.assign(window, { demo: { client } })

function $<T extends HTMLElement = HTMLElement> (id: string): T {
  return document.getElementById(id) as T
}

let refreshes = 0
let lastSessionId: string | null = null

function time (ms: number): string {
  return new Date(ms).toLocaleTimeString()
}

function logEvent (text: string): void {
  const item = document.createElement('li')
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`
  $('events').prepend(item)
}

function showError (error: unknown): void {
  const text = error instanceof SessionClientError ? `${error.code}: ${error.message}` : String(error)
  logEvent(`error ${text}`)
}

function render (state: SessionState | null): void {
  $('login-section').hidden = state !== null
  $('session-section').hidden = state === null
  if (state === null) return
  $('status').textContent = `Logged in as ${state.user.username}`
  $('who-user').textContent = `${state.user.username} (${state.user.id})`
  $('who-roles').textContent = state.user.roles.join(', ') || '(none)'
  $('who-session').textContent = state.sessionId
  $('access-expires').textContent = time(state.accessExpiresAt)
  $('absolute-expires').textContent = new Date(state.absoluteExpiresAt).toLocaleString()
}

function tick (): void {
  const next = client.nextRefreshAt
  $('refresh-countdown').textContent = next === null ? '-' : `${Math.max(0, (next - Date.now()) / 1000).toFixed(1)} s (at ${time(next)})`
}

function sessionRow (session: LiveSession): HTMLTableRowElement {
  const row = document.createElement('tr')
  row.dataset['sessionId'] = session.id
  if (session.current) row.className = 'current'
  for (const text of [session.id.slice(0, 8), new Date(session.createdAt).toLocaleString(), new Date(session.lastRefreshedAt).toLocaleString(), session.userAgent ?? '']) {
    const cell = document.createElement('td')
    cell.textContent = text
    row.append(cell)
  }
  const end = document.createElement('button')
  end.type = 'button'
  end.textContent = 'End'
  end.addEventListener('click', () => {
    client.endSession(session.id).then(async () => {
      logEvent(`ended session ${session.id.slice(0, 8)}`)
      if (client.state !== null) await loadSessions()
    }).catch(showError)
  })
  const cell = document.createElement('td')
  cell.append(end)
  row.append(cell)
  return row
}

async function loadSessions (): Promise<void> {
  const sessions = await client.sessions()
  $('sessions').replaceChildren(...sessions.map(sessionRow))
}

async function whoAmI (): Promise<void> {
  // An API call through the client's fetch: on a 401 it refreshes and retries, unseen by this code.
  const response = await client.fetch(`${authPrefix}/session`)
  const body = await response.json() as { user?: { username: string } }
  $('who-result').textContent = response.ok ? `200 ${body.user?.username ?? ''} at ${time(Date.now())}` : `${response.status} at ${time(Date.now())}`
}

client.on('change', (state) => {
  if (state !== null && lastSessionId === state.sessionId) {
    refreshes++
    $('refresh-count').textContent = String(refreshes)
  } else if (state !== null) {
    // A new session (here or in another tab): its list is another one.
    loadSessions().catch(showError)
  } else {
    $('sessions').replaceChildren()
  }
  lastSessionId = state?.sessionId ?? null
  render(state)
  logEvent(state === null ? 'session ended' : `session ${state.sessionId.slice(0, 8)} valid until ${time(state.accessExpiresAt)}`)
})

client.on('logout', ({ reason }) => {
  $('status').textContent = `Logged out (${reason})`
  $('login-section').hidden = false
  $('session-section').hidden = true
  logEvent(`logged out: ${reason}`)
})

$<HTMLFormElement>('login-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const form = new FormData(event.target as HTMLFormElement)
  $('login-error').textContent = ''
  client.login(String(form.get('username')), String(form.get('password'))).then(() => {
    $<HTMLFormElement>('login-form').reset()
  }).catch((error: unknown) => {
    $('login-error').textContent = error instanceof SessionClientError ? error.message : String(error)
  })
})

$('whoami-button').addEventListener('click', () => { whoAmI().catch(showError) })
$('refresh-button').addEventListener('click', () => { client.refresh().catch(showError) })
$('sessions-button').addEventListener('click', () => { loadSessions().catch(showError) })
$('logout-button').addEventListener('click', () => { client.logout().catch(showError) })
$('logout-all-button').addEventListener('click', () => { client.logoutAll().catch(showError) })
setInterval(tick, 250)

client.session().then((state) => {
  if (state === null) {
    $('status').textContent = 'Not logged in'
    $('login-section').hidden = false
  }
}).catch((error: unknown) => {
  $('status').textContent = 'The service did not answer'
  showError(error)
})
