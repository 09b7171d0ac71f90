/**
 * The demo page's behaviour, in the browser: everything goes through the session client, as an SPA would.
 * Text only ever enters the page through textContent (a session's user agent is whatever a client sent).
 * Browser code: no Node.js imports.
 */
import { createSessionClient, SessionClientError, type Account, type LiveSession, type LogoutReason, type SessionState } from '../../../client/session-client.js'

const authPrefix = document.body.dataset['authPrefix'] ?? '/auth'
const adminRole = document.body.dataset['adminRole'] ?? 'admin'
const client = createSessionClient({ authPrefix })
// For the end-to-end tests and the curious: the client of this page.
Object.assign(window, { demo: { client } })

function $<T extends HTMLElement = HTMLElement> (id: string): T {
  return document.getElementById(id) as T
}

let refreshes = 0
let lastSessionId: string | null = null

/** What a logout reason means, for people. */
const LOGOUT_TEXT: Readonly<Record<LogoutReason, string>> = {
  logout: 'Logged out',
  'logged-out-elsewhere': 'Logged out in another tab',
  expired: 'Logged out: the session expired',
  revoked: 'Logged out: this session was ended (another device, an admin, or a password change)'
}

const SESSION_COLUMNS = ['Session', 'Logged in', 'Last seen', 'Address', 'Browser']
const USER_COLUMNS = ['User', 'Roles', 'State']

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
  delete $('status').dataset['reason']
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

function button (text: string, onClick: () => Promise<unknown>): HTMLButtonElement {
  const element = document.createElement('button')
  element.type = 'button'
  element.textContent = text
  element.addEventListener('click', () => { onClick().catch(showError) })
  return element
}

/** A table row; each cell carries its column's name, shown before it when the table is stacked (narrow screens). */
function row (labels: string[], texts: string[], ...buttons: HTMLButtonElement[]): HTMLTableRowElement {
  const tr = document.createElement('tr')
  texts.forEach((text, i) => {
    const cell = document.createElement('td')
    cell.textContent = text
    if (text !== '') cell.dataset['label'] = labels[i] ?? ''
    tr.append(cell)
  })
  const cell = document.createElement('td')
  cell.append(...buttons)
  tr.append(cell)
  return tr
}

function sessionTexts (session: LiveSession): string[] {
  return [session.id.slice(0, 8), new Date(session.createdAt).toLocaleString(), new Date(session.lastSeenAt).toLocaleString(), session.clientAddress ?? '', session.userAgent ?? '']
}

function sessionRow (session: LiveSession): HTMLTableRowElement {
  const tr = row(SESSION_COLUMNS, sessionTexts(session), button(session.current ? 'End (log out)' : 'End', async () => {
    // Ending this browser's own session logs it out: ask first.
    if (session.current && !window.confirm('End the session of this browser? You will be logged out here.')) return
    await client.endSession(session.id)
    logEvent(`ended session ${session.id.slice(0, 8)}`)
    if (client.state !== null) await loadSessions()
  }))
  tr.dataset['sessionId'] = session.id
  if (session.current) tr.className = 'current'
  return tr
}

// The admin view: users and their sessions, through client.admin (the admin routes).
let selected: Account | undefined

function adminResult (text: string): void {
  $('admin-result').textContent = text
}

async function adminCall (action: () => Promise<unknown>): Promise<void> {
  adminResult('')
  try {
    await action()
  } catch (error) {
    adminResult(error instanceof SessionClientError ? `${error.code}: ${error.message}` : String(error))
  }
}

async function loadUsers (): Promise<void> {
  const search = String(new FormData($<HTMLFormElement>('admin-search-form')).get('search') ?? '')
  const page = await client.admin.listUsers(search === '' ? {} : { search })
  $('admin-users').replaceChildren(...page.users.map((user) => {
    const tr = row(USER_COLUMNS, [user.username, user.roles.join(', ') || '(none)', user.disabled ? 'Disabled: cannot log in' : 'Active'],
      button('Sessions', async () => { await adminCall(async () => { await showUserSessions(user) }) }),
      button(user.disabled ? 'Enable' : 'Disable', async () => {
        await adminCall(async () => {
          await (user.disabled ? client.admin.enableUser(user.id) : client.admin.disableUser(user.id))
          logEvent(`${user.disabled ? 'enabled' : 'disabled'} ${user.username}`)
          await loadUsers()
        })
      }))
    tr.dataset['userId'] = user.id
    return tr
  }))
}

async function showUserSessions (user: Account): Promise<void> {
  selected = user
  $('admin-selected').textContent = user.username
  $<HTMLButtonElement>('admin-end-all-button').disabled = false
  const sessions = await client.admin.listSessions(user.id)
  $('admin-sessions').replaceChildren(...sessions.map((session) => {
    const tr = row(SESSION_COLUMNS, sessionTexts(session), button('End', async () => {
      await adminCall(async () => {
        await client.admin.endSession(user.id, session.id)
        logEvent(`admin ended session ${session.id.slice(0, 8)} of ${user.username}`)
        if (client.state !== null) await showUserSessions(user)
      })
    }))
    tr.dataset['sessionId'] = session.id
    return tr
  }))
}

function renderAdmin (state: SessionState | null): void {
  const isAdmin = state?.user.roles.includes(adminRole) === true
  $('admin-section').hidden = !isAdmin
  if (isAdmin) loadUsers().catch(showError)
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
    // A new session (here or in another tab): its list and its counters are another one's.
    refreshes = 0
    $('refresh-count').textContent = '0'
    $('who-result').textContent = 'none yet'
    loadSessions().catch(showError)
    mfaStatus().catch(showError)
  } else {
    $('sessions').replaceChildren()
  }
  const newSession = lastSessionId !== (state?.sessionId ?? null)
  lastSessionId = state?.sessionId ?? null
  render(state)
  if (newSession) renderAdmin(state)
  logEvent(state === null ? 'session ended' : `session ${state.sessionId.slice(0, 8)} valid until ${time(state.accessExpiresAt)}`)
})

client.on('logout', ({ reason }) => {
  $('status').textContent = LOGOUT_TEXT[reason]
  $('status').dataset['reason'] = reason
  $('login-section').hidden = false
  $('session-section').hidden = true
  $('admin-section').hidden = true
  logEvent(LOGOUT_TEXT[reason])
})

$<HTMLFormElement>('login-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const form = new FormData(event.target as HTMLFormElement)
  $('login-error').textContent = ''
  client.login(String(form.get('username')), String(form.get('password'))).then(() => {
    $<HTMLFormElement>('login-form').reset()
  }).catch((error: unknown) => {
    if (error instanceof SessionClientError && error.code === 'ERR_SECOND_FACTOR_REQUIRED') {
      // The password was right; no session until the second step.
      $('login-form').hidden = true
      $('second-factor-form').hidden = false
      logEvent('password accepted: second factor required')
      return
    }
    $('login-error').textContent = error instanceof SessionClientError ? error.message : String(error)
  })
})

$<HTMLFormElement>('second-factor-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const value = String(new FormData(event.target as HTMLFormElement).get('code')).trim()
  $('login-error').textContent = ''
  client.verifySecondFactor(/^[0-9]{6}$/.test(value) ? { code: value } : { recoveryCode: value }).then(() => {
    $<HTMLFormElement>('second-factor-form').reset()
    $<HTMLFormElement>('login-form').reset()
    $('second-factor-form').hidden = true
    $('login-form').hidden = false
  }).catch((error: unknown) => {
    $('login-error').textContent = error instanceof SessionClientError ? `${error.code}: ${error.message}` : String(error)
    if (error instanceof SessionClientError && error.code === 'ERR_PENDING_LOGIN_INVALID') {
      $('second-factor-form').hidden = true
      $('login-form').hidden = false
    }
  })
})

client.on('reauthRequired', ({ secondFactor }) => {
  $('reauth-section').hidden = false
  logEvent(`re-authentication required${secondFactor ? ' (with a second factor)' : ''}`)
})

$<HTMLFormElement>('reauth-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const form = new FormData(event.target as HTMLFormElement)
  const code = String(form.get('code')).trim()
  $('reauth-error').textContent = ''
  client.reauth(String(form.get('password')), code === '' ? undefined : code).then(() => {
    $<HTMLFormElement>('reauth-form').reset()
    $('reauth-section').hidden = true
    logEvent('re-authenticated: try the action again')
  }).catch((error: unknown) => {
    $('reauth-error').textContent = error instanceof SessionClientError ? `${error.code}: ${error.message}` : String(error)
  })
})

async function mfaStatus (): Promise<void> {
  const response = await client.fetch(`${authPrefix}/mfa`)
  if (!response.ok) return
  const status = await response.json() as { totp: boolean, recoveryCodesLeft: number }
  $('mfa-status').textContent = status.totp ? `Authenticator app set up; ${status.recoveryCodesLeft} recovery codes left` : 'No second factor'
}

async function mfaCall (method: string, path: string, body?: unknown): Promise<Response> {
  const response = await client.fetch(`${authPrefix}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  })
  if (!response.ok) {
    const error = await response.json() as { code?: string, message?: string }
    $('mfa-status').textContent = `${error.code ?? response.status}: ${error.message ?? ''}`
  }
  return response
}

$('mfa-enrol-button').addEventListener('click', () => {
  mfaCall('POST', '/mfa/totp').then(async (response) => {
    if (!response.ok) return
    const enrolment = await response.json() as { secret: string, qrSvg: string }
    $<HTMLImageElement>('mfa-qr').src = `data:image/svg+xml;base64,${btoa(enrolment.qrSvg)}`
    $('mfa-secret').textContent = enrolment.secret
    $('mfa-enrolment').hidden = false
  }).catch(showError)
})

$<HTMLFormElement>('mfa-confirm-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const code = String(new FormData(event.target as HTMLFormElement).get('code')).trim()
  mfaCall('POST', '/mfa/totp/confirm', { code }).then(async (response) => {
    if (!response.ok) return
    const { recoveryCodes } = await response.json() as { recoveryCodes: string[] }
    $<HTMLFormElement>('mfa-confirm-form').reset()
    $('mfa-enrolment').hidden = true
    $('recovery-codes').textContent = `Recovery codes (shown once; each works once):\n${recoveryCodes.join('\n')}`
    $('recovery-codes').hidden = false
    logEvent('second factor set up')
    await mfaStatus()
  }).catch(showError)
})

$('mfa-remove-button').addEventListener('click', () => {
  mfaCall('DELETE', '/mfa/totp').then(async (response) => {
    if (response.ok) logEvent('second factor removed; other sessions ended')
    await mfaStatus()
  }).catch(showError)
})

$<HTMLFormElement>('password-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const form = new FormData(event.target as HTMLFormElement)
  $('password-result').textContent = ''
  const code = String(form.get('code')).trim()
  client.changePassword(String(form.get('currentPassword')), String(form.get('newPassword')), code === '' ? undefined : code).then(async (state) => {
    $<HTMLFormElement>('password-form').reset()
    $('password-result').textContent = 'Password changed: every other session has ended.'
    logEvent(`password changed; new session ${state.sessionId.slice(0, 8)}`)
    await loadSessions()
  }).catch((error: unknown) => {
    $('password-result').textContent = error instanceof SessionClientError ? `${error.code}: ${error.message}` : String(error)
  })
})

$<HTMLFormElement>('admin-search-form').addEventListener('submit', (event) => {
  event.preventDefault()
  adminCall(loadUsers).catch(showError)
})
$('admin-end-all-button').addEventListener('click', () => {
  const user = selected
  if (user === undefined) return
  adminCall(async () => {
    const ended = await client.admin.endSessions(user.id)
    logEvent(`admin ended ${ended} session(s) of ${user.username}`)
    if (client.state !== null) await showUserSessions(user)
  }).catch(showError)
})
$('end-others-button').addEventListener('click', () => {
  client.endOtherSessions().then(async (ended) => {
    logEvent(`ended ${ended} other session(s)`)
    await loadSessions()
  }).catch(showError)
})
$('whoami-button').addEventListener('click', () => { whoAmI().catch(showError) })
$('refresh-button').addEventListener('click', () => { client.refresh().catch(showError) })
$('sessions-button').addEventListener('click', () => { loadSessions().catch(showError) })
$('logout-button').addEventListener('click', () => { client.logout().catch(showError) })
$('logout-all-button').addEventListener('click', () => {
  if (!window.confirm('Log out everywhere? Every session of this account ends, this one included.')) return
  client.logoutAll().catch(showError)
})
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
