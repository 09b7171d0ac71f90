/** Real Caddy (forward_auth) from docs/examples/proxies/Caddyfile in front of the upstream, through curl. */
import { test } from 'tap'
import { checkHardening, checkProxy, startCaddy, startServiceAndUpstream } from './proxy-harness.js'

test('Caddy forward_auth: allowed, refused, role-refused, redirected, spoofing stripped, revoked at once', async (t) => {
  const stack = await startServiceAndUpstream(t)
  await startCaddy(t, stack.ports)
  await checkProxy(t, stack)
})

test('Caddy: the review findings stay fixed (role paths, access cookie, check endpoints, underscores, login page, loopback, //)', async (t) => {
  const stack = await startServiceAndUpstream(t)
  await startCaddy(t, stack.ports)
  await checkHardening(t, stack)
})
