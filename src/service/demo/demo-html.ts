/**
 * The demo page's markup and style. Kept in code so the build (tsc) ships them; the page's behaviour is
 * service/demo/page/demo-page.ts, compiled to a module the browser loads. No inline script or style: the page's
 * Content-Security-Policy allows only the server's own files.
 */

/** The demo page's Content-Security-Policy: own scripts, styles and API only; no framing, no inline code. */
export const DEMO_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'"
].join('; ')

function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

export interface DemoPageOptions {
  authPrefix: string
  /** ADMIN_ROLE: the admin view is shown to users holding it. */
  adminRole: string
  /** Shown as a hint when the demo created this user (STORE=memory). */
  demoUser: { username: string, password: string } | undefined
}

export function demoHtml ({ authPrefix, adminRole, demoUser }: DemoPageOptions): string {
  const hint = demoUser === undefined
    ? '<p class="hint">Add a user first: <code>npm run users -- add alice --password-stdin</code></p>'
    : `<p class="hint">Demo user: <code>${escapeHtml(demoUser.username)}</code>, password <code>${escapeHtml(demoUser.password)}</code></p>`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stateless session demo</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/demo/demo.css">
<script type="module" src="/service/demo/page/demo-page.js"></script>
</head>
<body data-auth-prefix="${escapeHtml(authPrefix)}" data-admin-role="${escapeHtml(adminRole)}">
<main>
<h1>Stateless session demo</h1>
<p id="status" role="status">Loading…</p>

<section id="login-section" hidden>
<h2>Log in</h2>
<form id="login-form">
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>
${hint}
<form id="second-factor-form" hidden>
<label>Code from your authenticator app, or a recovery code <input name="code" autocomplete="one-time-code" required></label>
<button type="submit">Verify</button>
</form>
<p id="login-error" class="error" role="alert"></p>
</section>

<section id="reauth-section" hidden>
<h2>Confirm it is you</h2>
<p class="hint">This action needs a recent authentication.</p>
<form id="reauth-form">
<input type="text" autocomplete="username" hidden>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<label>Code (with a second factor) <input name="code" autocomplete="one-time-code" inputmode="numeric"></label>
<button type="submit">Confirm</button>
</form>
<p id="reauth-error" class="error" role="alert"></p>
</section>

<section id="session-section" hidden>
<h2>Who am I</h2>
<dl>
<dt>User</dt><dd id="who-user"></dd>
<dt>Roles</dt><dd id="who-roles"></dd>
<dt>Session</dt><dd id="who-session"></dd>
<dt>Last API call</dt><dd id="who-result">none yet</dd>
</dl>
<button type="button" id="whoami-button">Ask the server who I am</button>

<h2>Access token</h2>
<dl>
<dt>Expires at</dt><dd><time id="access-expires"></time></dd>
<dt>Next refresh in</dt><dd><span id="refresh-countdown"></span></dd>
<dt>Refreshes seen</dt><dd id="refresh-count">0</dd>
<dt>Session ends at the latest</dt><dd><time id="absolute-expires"></time></dd>
</dl>
<button type="button" id="refresh-button">Refresh now</button>

<h2>Live sessions</h2>
<table>
<thead><tr><th>Session</th><th>Logged in</th><th>Last seen</th><th>Address</th><th>Browser</th><th></th></tr></thead>
<tbody id="sessions"></tbody>
</table>
<button type="button" id="sessions-button">Reload the list</button>
<button type="button" id="end-others-button">End every other session</button>

<h2>Change password</h2>
<form id="password-form">
<input type="text" autocomplete="username" hidden>
<label>Current password <input name="currentPassword" type="password" autocomplete="current-password" required></label>
<label>New password <input name="newPassword" type="password" autocomplete="new-password" minlength="8" required></label>
<label>Code (with a second factor) <input name="code" autocomplete="one-time-code" inputmode="numeric"></label>
<button type="submit">Change password</button>
</form>
<p class="hint">Every other device is logged out at once; this browser gets a new session.</p>
<p id="password-result" role="status"></p>

<h2>Second factor</h2>
<p id="mfa-status" role="status"></p>
<button type="button" id="mfa-enrol-button">Set up an authenticator app</button>
<div id="mfa-enrolment" hidden>
<img id="mfa-qr" alt="QR code of the authenticator secret" width="200" height="200">
<p>Secret: <code id="mfa-secret"></code></p>
<form id="mfa-confirm-form">
<label>Code shown by the app <input name="code" autocomplete="one-time-code" inputmode="numeric" required></label>
<button type="submit">Confirm</button>
</form>
</div>
<pre id="recovery-codes" hidden></pre>
<button type="button" id="mfa-remove-button">Remove the second factor</button>

<h2>Leave</h2>
<button type="button" id="logout-button">Log out</button>
<button type="button" id="logout-all-button">Log out everywhere</button>
</section>

<section id="admin-section" hidden>
<h2>Admin: users</h2>
<form id="admin-search-form">
<label>Username contains <input name="search" autocomplete="off"></label>
<button type="submit">Search</button>
</form>
<table>
<thead><tr><th>User</th><th>Roles</th><th>State</th><th></th></tr></thead>
<tbody id="admin-users"></tbody>
</table>
<h2>Admin: sessions of <span id="admin-selected">(pick a user)</span></h2>
<table>
<thead><tr><th>Session</th><th>Logged in</th><th>Last seen</th><th>Address</th><th>Browser</th><th></th></tr></thead>
<tbody id="admin-sessions"></tbody>
</table>
<button type="button" id="admin-end-all-button" disabled>End all their sessions</button>
<p id="admin-result" class="error" role="alert"></p>
</section>

<section>
<h2>Events</h2>
<ol id="events" reversed></ol>
</section>
</main>
</body>
</html>
`
}

export const DEMO_CSS = `:root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f8fa; }
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; }
main { max-width: 52rem; margin: 2rem auto; padding: 0 1rem; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 1rem 1.25rem; margin: 1rem 0; }
h1 { font-size: 1.6rem; }
h2 { font-size: 1.1rem; margin-top: 1.25rem; }
label { display: block; margin: .5rem 0; }
input { margin-left: .5rem; padding: .25rem .4rem; max-width: 100%; }
button { margin: .25rem .5rem .25rem 0; padding: .35rem .8rem; cursor: pointer; }
dl { display: grid; grid-template-columns: 14rem minmax(0, 1fr); gap: .25rem 1rem; }
dt { color: #57606a; }
/* Whole values move to the next line; only a value longer than the line itself is broken. */
dd { margin: 0; font-family: ui-monospace, monospace; overflow-wrap: break-word; min-width: 0; }
code { overflow-wrap: break-word; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #d0d7de; overflow-wrap: break-word; }
tr.current td:first-child::after { content: " (this browser)"; color: #1a7f37; }
#status { font-weight: 600; }
.error { color: #cf222e; }
.hint { color: #57606a; }
#events { font-family: ui-monospace, monospace; font-size: .85rem; max-height: 14rem; overflow: auto; padding-left: 1.5rem; }
/* Phones: one column, and tables stacked as cards, each value under its column's name. */
@media (max-width: 40rem) {
  main { margin: 1rem auto; padding: 0 .5rem; }
  section { padding: .75rem; }
  dl { grid-template-columns: minmax(0, 1fr); gap: 0; }
  dd { margin-bottom: .5rem; }
  label input { display: block; width: 100%; margin: .25rem 0 0; }
  table, tbody, tr, td { display: block; width: 100%; }
  thead { display: none; }
  tr { border-bottom: 1px solid #d0d7de; padding: .4rem 0; }
  td { border: 0; padding: .1rem 0; }
  td[data-label]::before { content: attr(data-label) ": "; color: #57606a; font-size: .8rem; }
}
`
